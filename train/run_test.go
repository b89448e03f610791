package train_test

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/train"
)

// A run folder is created only where nothing is, and OpenRun reads its
// settings back.
func TestCreateAndOpenRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	type settings struct{ Steps int }
	run, err := train.CreateRun(dir, settings{7})
	if err != nil {
		t.Fatal(err)
	}
	// While it runs, the folder is locked: another run on it fails.
	if _, err := train.OpenRun(dir, nil); err == nil || !strings.Contains(err.Error(), "in use by process") {
		t.Fatalf("resuming a run in use: %v", err)
	}
	if _, err := train.CreateRun(dir, settings{8}); err == nil || !strings.Contains(err.Error(), "in use by process") {
		t.Fatalf("creating a run in a folder in use: %v", err)
	}
	run.Close()
	if _, err := train.CreateRun(dir, settings{8}); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("creating a run over a used folder: %v", err)
	}
	var s settings
	resumed, err := train.OpenRun(dir, &s)
	if err != nil || s.Steps != 7 {
		t.Fatalf("OpenRun: %+v, %v", s, err)
	}
	resumed.Close()
	if _, err := train.OpenRun(filepath.Join(dir, "missing"), &s); err == nil || !os.IsNotExist(errorsUnwrapAll(err)) {
		t.Fatalf("OpenRun of a missing folder: %v", err)
	}
}

// ReadHistory gives back a run's settings and its metrics records, skips a
// torn last line, and refuses what is not a file.
func TestReadHistory(t *testing.T) {
	dir := t.TempDir()
	run, err := train.CreateRun(dir, map[string]int{"epochs": 3})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	lines := `{"epoch":1,"train_loss":2.5,"val_loss":2.7,"best":true}` + "\n" + `{"epoch":2,"train_loss":1.5,"val_loss":2.1,"best":true}` + "\n" + `{"epoch":3,"train_lo`
	os.WriteFile(run.Path("metrics.jsonl"), []byte(lines), 0o644)
	h, err := train.ReadHistory(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(h.Config) != `{
  "epochs": 3
}` || len(h.Metrics) != 2 || h.Metrics[1]["val_loss"] != 2.1 || h.Metrics[0]["epoch"] != 1.0 {
		t.Fatalf("history %s %v", h.Config, h.Metrics)
	}
	if h, err := train.ReadHistory(t.TempDir()); err != nil || h.Config != nil || len(h.Metrics) != 0 {
		t.Fatalf("an empty folder: %+v, %v", h, err)
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.Mkdir(filepath.Join(dir, "sub", "metrics.jsonl"), 0o755)
	if _, err := train.ReadHistory(filepath.Join(dir, "sub")); err == nil || !strings.Contains(err.Error(), "metrics.jsonl is a folder") {
		t.Fatalf("metrics.jsonl a folder: %v", err)
	}
	os.WriteFile(run.Path("config.json"), []byte("{torn"), 0o644)
	if _, err := train.ReadHistory(dir); err == nil || !strings.Contains(err.Error(), "config.json: not JSON") {
		t.Fatalf("a torn config.json: %v", err)
	}
}

func errorsUnwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}

// ScoreText's mean over one window is the model's own loss on it, and
// each token's log-probability is reported in order.
func TestScoreText(t *testing.T) {
	m, err := gpt.New(gpt.Config{VocabSize: 11, BlockSize: 8, NEmbd: 8, NLayer: 1, NHead: 2}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	ids := []int{1, 5, 2, 9, 3, 3, 0, 10, 4}
	_, loss := m.Forward(ids[:8], 1, 8, ids[1:])
	var seen []int
	mean, n, err := train.ScoreText(m, ids, 8, func(target int, lp float64) { seen = append(seen, target) })
	if err != nil {
		t.Fatal(err)
	}
	if n != 8 || math.Abs(mean-float64(loss.Item())) > 1e-5 || len(seen) != 8 || seen[7] != 4 {
		t.Fatalf("mean %v over %d tokens, the model's loss %v; saw %v", mean, n, loss.Item(), seen)
	}
	if short, n, _ := train.ScoreText(m, ids, 4, nil); n != 8 || short == mean { // the second window starts afresh at ids[4]
		t.Fatalf("%d tokens scored in windows of 4 (mean %v), want 8 with less context than one window", n, short)
	}
	if _, _, err := train.ScoreText(m, ids[:1], 8, nil); err == nil {
		t.Fatal("one token scored")
	}
}

// A loss that becomes NaN stops either loop with an error naming where,
// and no checkpoint is written from it.
func TestDivergedLossStops(t *testing.T) {
	if invariants {
		t.Skip("-tags invariants panics on the NaN this test feeds, by design")
	}
	m, err := gpt.New(gpt.Config{VocabSize: 11, BlockSize: 8, NEmbd: 8, NLayer: 1, NHead: 2}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	m.Wte.Weight.Data[3] = float32(math.NaN())
	ids := make([]int, 200)
	for i := range ids {
		ids[i] = i % 11
	}
	cfg := train.LMConfig{Steps: 5, BatchSize: 2, SeqLen: 8, GradAccum: 1, EvalEvery: 1, EvalBatches: 1}
	dir := t.TempDir()
	loop := &train.LM{Model: m, Opt: train.NewLMOptimizer(nn.Params(m), 1e-3, 0), Config: cfg, Run: &train.Run{Dir: dir}}
	if _, err := loop.Fit(context.Background(), tokensOf(ids), tokensOf(ids)); err == nil || !strings.Contains(err.Error(), "NaN at step 1") {
		t.Fatalf("a NaN weight: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "best.safetensors")); !os.IsNotExist(err) {
		t.Fatal("a diverged run wrote best.safetensors")
	}
}
