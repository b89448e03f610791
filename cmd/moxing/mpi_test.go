package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moxing/moxing/checkpoint"
)

// mpiMoxing builds moxing with -tags mpi and returns it with mpirun's
// command line for n ranks on loopback. Without Open MPI the test is
// skipped, except under CI=true, where scripts/test.sh installs it.
func mpiMoxing(t *testing.T) (bin string, mpirun func(n int, args ...string) *exec.Cmd) {
	if testing.Short() {
		t.Skip("builds moxing with -tags mpi")
	}
	if _, err := exec.LookPath("mpirun"); err != nil || exec.Command("pkg-config", "--exists", "ompi-c").Run() != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no Open MPI (mpirun, pkg-config ompi-c): scripts/test.sh installs openmpi-bin and libopenmpi-dev")
		}
		t.Skip("no Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev)")
	}
	bin = filepath.Join(t.TempDir(), "moxing")
	build := exec.Command("go", "build", "-tags", "mpi", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags mpi: %v\n%s", err, out)
	}
	return bin, func(n int, args ...string) *exec.Cmd {
		mpi := []string{"--allow-run-as-root", "--oversubscribe", "--mca", "btl", "self,vader,tcp",
			"--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo", "-np", fmt.Sprint(n), bin}
		return exec.Command("mpirun", append(mpi, args...)...)
	}
}

// mpiCorpus prepares a small character corpus and returns the pretrain
// flags of a tiny GPT on it.
func mpiCorpus(t *testing.T, bin string) []string {
	dir := t.TempDir()
	words := strings.Fields("the cat sat on a mat and then the dog ran to the park where birds sing")
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for range 2000 {
		for range 10 {
			b.WriteString(words[rng.IntN(len(words))] + " ")
		}
		b.WriteString("\n")
	}
	os.WriteFile(filepath.Join(dir, "corpus.txt"), []byte(b.String()), 0o644)
	if out, err := exec.Command(bin, "prepare", "--input", filepath.Join(dir, "corpus.txt"), "--tokenizer", "char", "--out", filepath.Join(dir, "data")).CombinedOutput(); err != nil {
		t.Fatalf("prepare: %v\n%s", err, out)
	}
	return []string{"pretrain", "--data", filepath.Join(dir, "data"), "--seq", "32", "--layers", "2", "--heads", "2", "--embd", "32", "--eval-every", "10"}
}

// weights reads a run's last.safetensors.
func weights(t *testing.T, run string) map[string][]float32 {
	f, err := checkpoint.Load(filepath.Join(run, "last.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	w := map[string][]float32{}
	for name, x := range f.Tensors {
		if !strings.HasPrefix(name, checkpoint.OptimPrefix) {
			w[name] = x.Data
		}
	}
	return w
}

func weightDiff(a, b map[string][]float32) float64 {
	var d float64
	for name, x := range a {
		for i, v := range x {
			d = max(d, math.Abs(float64(v-b[name][i])))
		}
	}
	return d
}

// mpirun -np 2 moxing pretrain trains the model one process does with twice
// the batch, records the job in config.json, and resumes on another number
// of processes; a rank killed mid-run ends the job, non-zero, within 10 s.
func TestMPIPretrain(t *testing.T) {
	bin, mpirun := mpiMoxing(t)
	flags := mpiCorpus(t, bin)
	dir := t.TempDir()
	run := func(cmd *exec.Cmd) {
		t.Helper()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
		}
	}
	at := func(name string) string { return filepath.Join(dir, name) }
	args := func(name string, steps, batch int) []string {
		return append(flags[:len(flags):len(flags)], "--run", at(name), "--steps", fmt.Sprint(steps), "--batch-size", fmt.Sprint(batch))
	}
	run(exec.Command(bin, args("one", 20, 4)...))
	run(mpirun(2, args("two", 20, 2)...))
	cfg, _ := os.ReadFile(at("two/config.json"))
	if !strings.Contains(string(cfg), `"world_size": 2`) || !strings.Contains(string(cfg), `"global_batch": 4`) {
		t.Fatalf("config.json of the 2-process run: %s", cfg)
	}
	const tol = 1e-5
	if d := weightDiff(weights(t, at("one")), weights(t, at("two"))); !(d <= tol) { // a NaN fails too
		t.Fatalf("2 processes × batch 2 and 1 × batch 4 differ by %g after 20 steps (tolerance %g)", d, tol)
	} else {
		t.Logf("2 processes × batch 2 vs 1 × batch 4 after 20 steps: weights differ by at most %.2g", d)
	}

	// 10 steps on 2 processes, then 10 more on 1; and the other way round:
	// both as one process resumed on one (the schedule of a run extended
	// from 10 steps to 20 is not that of a 20-step run).
	run(exec.Command(bin, args("1then1", 10, 4)...))
	run(exec.Command(bin, "pretrain", "--resume", at("1then1"), "--steps", "20"))
	run(mpirun(2, args("2then1", 10, 2)...))
	run(exec.Command(bin, "pretrain", "--resume", at("2then1"), "--steps", "20"))
	run(exec.Command(bin, args("1then2", 10, 4)...))
	run(mpirun(2, "pretrain", "--resume", at("1then2"), "--steps", "20"))
	for _, name := range []string{"2then1", "1then2"} {
		if d := weightDiff(weights(t, at("1then1")), weights(t, at(name))); !(d <= tol) {
			t.Fatalf("resumed %s: differs from the uninterrupted run by %g", name, d)
		}
	}

	// A rank killed mid-run: mpirun ends the job and fails.
	job := mpirun(2, args("killed", 1000000, 2)...)
	if err := job.Start(); err != nil {
		t.Fatal(err)
	}
	defer job.Process.Kill()
	time.Sleep(3 * time.Second)
	ranks, err := exec.Command("pgrep", "-P", fmt.Sprint(job.Process.Pid)).Output()
	pids := strings.Fields(string(ranks))
	if err != nil || len(pids) != 2 {
		t.Fatalf("the ranks of mpirun %d: %q, %v", job.Process.Pid, pids, err)
	}
	var pid int
	fmt.Sscan(pids[1], &pid)
	syscall.Kill(pid, syscall.SIGKILL)
	killed := time.Now()
	done := make(chan error, 1)
	go func() { done <- job.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("mpirun exited 0 after a rank was killed")
		}
		t.Logf("mpirun exited %v, %v after a rank was killed", err, time.Since(killed).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("mpirun still runs 10 s after a rank was killed")
	}
}

// mpirun -np 2 moxing train (and finetune, through the same loop) trains
// the model one process does with the batch of both.
func TestMPITrain(t *testing.T) {
	bin, mpirun := mpiMoxing(t)
	dir := t.TempDir()
	csv := toyCSV(t, dir, 150)
	args := func(name string, batch int) []string {
		return []string{"train", "--data", csv, "--hidden", "16", "--epochs", "5", "--patience", "10", "--batch-size", fmt.Sprint(batch), "--run", filepath.Join(dir, name)}
	}
	for _, cmd := range []*exec.Cmd{exec.Command(bin, args("one", 16)...), mpirun(2, args("two", 8)...)} {
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
		}
	}
	if d := weightDiff(weights(t, filepath.Join(dir, "one")), weights(t, filepath.Join(dir, "two"))); d > 1e-5 {
		t.Fatalf("2 processes × 8 rows and 1 × 16 differ by %g after 5 epochs", d)
	} else {
		t.Logf("moxing train: 2 processes × 8 rows vs 1 × 16 after 5 epochs: weights differ by at most %.2g", d)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "two", "config.json"))
	if !strings.Contains(string(cfg), `"global_batch": 16`) {
		t.Fatalf("config.json: %s", cfg)
	}
}
