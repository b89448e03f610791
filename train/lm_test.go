package train_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/train"
)

// A tiny GPT learns a repeating pattern: its validation loss falls far
// below the uniform ln(V), and the best checkpoint is kept.
func TestPretrainLearnsPattern(t *testing.T) {
	text := strings.Repeat("the cat sat on the mat. ", 200)
	vocab := map[rune]int{}
	var ids []int
	for _, r := range text {
		if _, ok := vocab[r]; !ok {
			vocab[r] = len(vocab)
		}
		ids = append(ids, vocab[r])
	}
	m, err := gpt.New(gpt.Config{VocabSize: len(vocab), BlockSize: 32, NEmbd: 32, NLayer: 2, NHead: 2}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	cfg := train.DefaultLMConfig()
	cfg.Steps, cfg.SeqLen, cfg.EvalEvery, cfg.Seed = 150, 32, 50, 1
	cfg.Schedule = train.LMSchedule(3e-3, 7, cfg.Steps)
	run, err := train.CreateRun(t.TempDir(), cfg.Steps)
	if err != nil {
		t.Fatal(err)
	}
	loop := &train.LM{Model: m, Opt: train.NewLMOptimizer(nn.Params(m), 3e-3, 0.1), Config: cfg, Run: run}
	res, err := loop.Fit(context.Background(), tokensOf(ids[:4000]), tokensOf(ids[4000:]))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.History) != 3 || res.BestLoss > 0.3 {
		t.Fatalf("validation losses %+v, best %v: the pattern was not learned", res.History, res.BestLoss)
	}
	small := &train.LM{Model: m, Opt: train.NewLMOptimizer(nn.Params(m), 3e-3, 0.1), Config: cfg}
	if _, err := small.Fit(context.Background(), tokensOf(ids[:10]), tokensOf(ids[:10])); err == nil ||
		!strings.Contains(err.Error(), "fewer than one window") {
		t.Fatalf("a corpus smaller than one window: %v", err)
	}
	zero := &train.LM{Model: m, Opt: train.NewLMOptimizer(nn.Params(m), 3e-3, 0.1), Config: train.LMConfig{Steps: 1, SeqLen: 32}}
	if _, err := zero.Fit(context.Background(), tokensOf(ids), tokensOf(ids)); err == nil || !strings.Contains(err.Error(), "must be at least 1") {
		t.Fatalf("a config with zero batch size: %v", err)
	}
}

// tokensOf packs ids for LM.Fit.
func tokensOf(ids []int) data.Tokens { return data.NewTokens(ids, 1<<16) }

// stopAfter cancels a context after n optimizer steps.
type stopAfter struct {
	n      int
	cancel context.CancelFunc
}

func (s stopAfter) Batch(b train.Batch) {
	if b.Batch == s.n {
		s.cancel()
	}
}
func (stopAfter) Epoch(train.Epoch) {}

// A run stopped after step 5 and resumed (from step 5, saved when it was
// interrupted) ends with the same weights as a run that was never stopped;
// a finished run resumed with more steps goes on to the new total.
func TestLMResume(t *testing.T) {
	text := strings.Repeat("so it goes, and so it went. ", 100)
	var ids []int
	for _, r := range text {
		ids = append(ids, int(r)%29)
	}
	newLoop := func(dir string, steps int, obs train.Observer) *train.LM {
		m, err := gpt.New(gpt.Config{VocabSize: 29, BlockSize: 16, NEmbd: 16, NLayer: 1, NHead: 2, Dropout: 0.1}, rand.New(rand.NewPCG(3, 3)))
		if err != nil {
			t.Fatal(err)
		}
		cfg := train.LMConfig{Steps: steps, BatchSize: 4, SeqLen: 16, GradAccum: 1, ClipNorm: 1, EvalEvery: 2, EvalBatches: 2, Seed: 5,
			Schedule: train.LMSchedule(1e-3, 1, steps)}
		return &train.LM{Model: m, Opt: train.NewLMOptimizer(nn.Params(m), 1e-3, 0.1), Config: cfg, Observer: obs, Run: &train.Run{Dir: dir}}
	}
	straight := newLoop(t.TempDir(), 8, nil)
	a, err := straight.Fit(context.Background(), tokensOf(ids[:2000]), tokensOf(ids[2000:]))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := newLoop(dir, 8, stopAfter{5, cancel}).Fit(ctx, tokensOf(ids[:2000]), tokensOf(ids[2000:])); err == nil {
		t.Fatal("cancelled run returned no error")
	}
	// A kill after a metrics line but before its checkpoint, and a torn
	// temporary file: resuming drops the line and the file.
	f, _ := os.OpenFile(filepath.Join(dir, "metrics.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"step":6,"val_loss":1}` + "\n")
	f.Close()
	os.WriteFile(filepath.Join(dir, ".last.safetensors.tmp-123"), []byte("torn"), 0o644)
	resumed := newLoop(dir, 8, nil)
	resumed.Run, _ = train.OpenRun(dir, nil)
	if err := resumed.Resume(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".last.safetensors.tmp-123")); !os.IsNotExist(err) {
		t.Error("a torn temporary file survived opening the run")
	}
	b, err := resumed.Fit(context.Background(), tokensOf(ids[:2000]), tokensOf(ids[2000:]))
	if err != nil {
		t.Fatal(err)
	}
	if a.BestLoss != b.BestLoss || a.BestStep != b.BestStep || b.Steps != 8 {
		t.Fatalf("straight %+v, resumed %+v", a, b)
	}
	metrics, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if got := strings.Count(string(metrics), `"step":`); got != 4 || strings.Contains(string(metrics), `"val_loss":1}`) {
		t.Errorf("metrics after the resume (want steps 2, 4, 6, 8 once each):\n%s", metrics)
	}
	pa, pb := straight.Model.(*gpt.Model).Wte.Weight.Data, resumed.Model.(*gpt.Model).Wte.Weight.Data
	for i := range pa {
		if pa[i] != pb[i] {
			t.Fatalf("weights differ after resuming: wte[%d] %v vs %v", i, pa[i], pb[i])
		}
	}

	longer := newLoop(dir, 12, nil)
	if err := longer.Resume(); err != nil {
		t.Fatal(err)
	}
	c, err := longer.Fit(context.Background(), tokensOf(ids[:2000]), tokensOf(ids[2000:]))
	if err != nil {
		t.Fatal(err)
	}
	if c.Steps != 12 || len(c.History) != 2 || c.History[0].Epoch != 10 {
		t.Fatalf("extended to 12 steps: %+v", c)
	}

	// A run killed before it saved anything starts over on resume and
	// trains the same model as a run never stopped.
	fresh := t.TempDir()
	os.WriteFile(filepath.Join(fresh, "metrics.jsonl"), []byte(`{"step":2,"val_loss":9}`+"\n"), 0o644)
	over := newLoop(fresh, 8, nil)
	if err := over.Resume(); err != nil {
		t.Fatalf("resume of a run that saved nothing: %v", err)
	}
	if d, err := over.Fit(context.Background(), tokensOf(ids[:2000]), tokensOf(ids[2000:])); err != nil || d.BestLoss != a.BestLoss || d.Steps != 8 {
		t.Fatalf("started over: %+v, %v; straight: %+v", d, err, a)
	}
	if m, _ := os.ReadFile(filepath.Join(fresh, "metrics.jsonl")); strings.Contains(string(m), `"val_loss":9}`) {
		t.Errorf("the stale metrics line survived starting over:\n%s", m)
	}

	// The state names a best step: a damaged or missing best.safetensors
	// is an error, not a run that reports one step while holding another.
	best := filepath.Join(dir, "best.safetensors")
	raw, _ := os.ReadFile(best)
	os.WriteFile(best, raw[:len(raw)/2], 0o644)
	if err := newLoop(dir, 14, nil).Resume(); err == nil || !strings.Contains(err.Error(), "best.safetensors") {
		t.Fatalf("resume with a truncated best.safetensors: %v", err)
	}
	os.Remove(best)
	if err := newLoop(dir, 14, nil).Resume(); err == nil || !strings.Contains(err.Error(), "best checkpoint the run's state names") {
		t.Fatalf("resume without best.safetensors: %v", err)
	}
}
