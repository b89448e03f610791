package main

import (
	"bufio"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/load"
)

// TestMain lets a test run this package's test binary as the moxing CLI, in
// a child process it can kill: with MOXING_TEST_CLI=1 the binary is moxing.
func TestMain(m *testing.M) {
	if os.Getenv("MOXING_TEST_CLI") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// cli is moxing args in a child process.
func cli(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "MOXING_TEST_CLI=1")
	return cmd
}

// train and pretrain killed with SIGKILL at random moments, a few times
// over, always leave a folder that continues: every checkpoint present
// loads, --resume (or, if the kill came before config.json, the first
// command again) finishes, and metrics.jsonl holds each epoch or step once.
func TestKilledRunsResume(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes for several seconds")
	}
	dir := t.TempDir()
	csvPath := toyCSV(t, dir, 1500)
	corpus := filepath.Join(dir, "corpus.txt")
	os.WriteFile(corpus, []byte(strings.Repeat("the quick brown fox jumps over the lazy dog. ", 400)), 0o644)
	prepared := filepath.Join(dir, "prepared")
	if code, _, e := moxing(t, context.Background(), "prepare", "--input", corpus, "--out", prepared); code != 0 {
		t.Fatal(e)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill times drawn with seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for _, job := range []struct {
		name  string
		start []string // after --run FOLDER
		unit  string   // metrics.jsonl's counter
		last  int      // its final value
	}{
		{"train", []string{"train", "--data", csvPath, "--epochs", "400", "--patience", "0", "--hidden", "64"}, "epoch", 400},
		{"pretrain", []string{"pretrain", "--data", prepared, "--layers", "1", "--heads", "2", "--embd", "32", "--seq", "32",
			"--steps", "300", "--batch-size", "8", "--eval-every", "10"}, "step", 300},
	} {
		t.Run(job.name, func(t *testing.T) {
			run := filepath.Join(dir, job.name)
			next := func() *exec.Cmd {
				if _, err := os.Stat(filepath.Join(run, "config.json")); err == nil {
					return cli(job.start[0], "--resume", run)
				}
				return cli(append(job.start, "--run", run)...)
			}
			for kill := range 4 {
				cmd := next()
				before := metricsLines(run)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				// The first kill lands in the first instants (before
				// config.json or any checkpoint); the others after the run
				// has made progress, at a random moment of what follows.
				exited := make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				wait := 100
				if kill > 0 {
					wait = 300
					for metricsLines(run) <= before && len(exited) == 0 {
						time.Sleep(5 * time.Millisecond)
					}
				}
				time.Sleep(time.Duration(rng.IntN(wait)) * time.Millisecond)
				cmd.Process.Kill()
				<-exited
				t.Logf("kill %d: %d lines of metrics", kill, metricsLines(run))
				checkCheckpoints(t, run, kill)
			}
			out, err := next().CombinedOutput()
			if err != nil {
				t.Fatalf("the run after the kills failed: %v\n%s", err, out)
			}
			checkCheckpoints(t, run, 4)
			checkMetrics(t, filepath.Join(run, "metrics.jsonl"), job.unit, job.last)
		})
	}
}

// metricsLines counts the lines of the run folder's metrics.jsonl.
func metricsLines(run string) int {
	m, _ := os.ReadFile(filepath.Join(run, "metrics.jsonl"))
	return strings.Count(string(m), "\n")
}

// checkCheckpoints requires every checkpoint of the run folder to load.
func checkCheckpoints(t *testing.T, run string, kill int) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(run, "last.safetensors")); err == nil {
		if _, err := checkpoint.Load(filepath.Join(run, "last.safetensors")); err != nil {
			t.Fatalf("after kill %d: %v", kill, err)
		}
	}
	if _, err := os.Stat(filepath.Join(run, "best.safetensors")); err == nil {
		if _, err := load.Open(filepath.Join(run, "best.safetensors")); err != nil {
			t.Fatalf("after kill %d: %v", kill, err)
		}
	}
}

// checkMetrics requires the records of metrics.jsonl to count unit up to
// last, each value once and in order.
func checkMetrics(t *testing.T, path, unit string, last int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	prev := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%s: %q: %v", path, sc.Text(), err)
		}
		v, _ := rec[unit].(float64)
		n := int(v)
		if n <= prev {
			t.Fatalf("%s: %s %d after %d", path, unit, n, prev)
		}
		prev = n
	}
	if prev != last {
		t.Fatalf("%s ends at %s %d, want %d", path, unit, prev, last)
	}
}

// Ctrl-C or SIGTERM stops a training run within seconds, saving where it
// was; a command blocked where it cannot look at its context (here, reading
// a prompt from a standard input that never ends) quits on a second signal.
func TestSignalsStop(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes for a few seconds")
	}
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus.txt")
	os.WriteFile(corpus, []byte(strings.Repeat("a stitch in time saves nine. ", 400)), 0o644)
	prepared, run := filepath.Join(dir, "prepared"), filepath.Join(dir, "run")
	if code, _, e := moxing(t, context.Background(), "prepare", "--input", corpus, "--out", prepared); code != 0 {
		t.Fatal(e)
	}
	long := cli("pretrain", "--data", prepared, "--layers", "1", "--heads", "2", "--embd", "32", "--seq", "32",
		"--steps", "1000000", "--eval-every", "10", "--run", run)
	var stderr strings.Builder
	long.Stderr = &stderr
	if err := long.Start(); err != nil {
		t.Fatal(err)
	}
	for metricsLines(run) < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	long.Process.Signal(syscall.SIGTERM)
	took := waitExit(t, long, 10*time.Second)
	if _, err := checkpoint.Load(filepath.Join(run, "last.safetensors")); err != nil {
		t.Fatalf("SIGTERM left no loadable last.safetensors: %v\n%s", err, stderr.String())
	}
	t.Logf("pretrain stopped %v after SIGTERM", took)

	blocked := cli("generate", "--model", run, "--prompt", "-", "--max-tokens", "4")
	stdin, _ := blocked.StdinPipe()
	defer stdin.Close()
	if err := blocked.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	blocked.Process.Signal(syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	blocked.Process.Signal(syscall.SIGTERM)
	waitExit(t, blocked, 5*time.Second)
}

// waitExit waits up to limit for cmd to exit, which must be with an error
// (a stopped command does not report success), and returns how long it took.
func waitExit(t *testing.T, cmd *exec.Cmd, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err == nil {
			t.Fatalf("%v exited 0 after a signal", cmd.Args[1:])
		}
	case <-time.After(limit):
		cmd.Process.Kill()
		t.Fatalf("%v still running %v after the signal", cmd.Args[1:], limit)
	}
	return time.Since(start)
}
