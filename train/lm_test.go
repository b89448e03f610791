package train_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/moxing/moxing/models/gpt"
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
	dir := t.TempDir()
	res, err := train.Pretrain(context.Background(), m, ids[:4000], ids[4000:], train.LMConfig{
		Steps: 150, BatchSize: 8, SeqLen: 32, LR: 3e-3, EvalEvery: 50, RunDir: dir, Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.History) != 3 || res.BestLoss > 0.3 {
		t.Fatalf("validation losses %+v, best %v: the pattern was not learned", res.History, res.BestLoss)
	}
	if _, err := train.Pretrain(context.Background(), m, ids[:10], ids[:10], train.LMConfig{Steps: 1, SeqLen: 32}, nil); err == nil ||
		!strings.Contains(err.Error(), "fewer than one window") {
		t.Fatalf("a corpus smaller than one window: %v", err)
	}
}

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

// A run stopped after step 5 and resumed (from its step-4 evaluation) ends
// with the same weights as a run that was never stopped.
func TestPretrainResume(t *testing.T) {
	text := strings.Repeat("so it goes, and so it went. ", 100)
	var ids []int
	for _, r := range text {
		ids = append(ids, int(r)%29)
	}
	newModel := func() *gpt.Model {
		m, err := gpt.New(gpt.Config{VocabSize: 29, BlockSize: 16, NEmbd: 16, NLayer: 1, NHead: 2, Dropout: 0.1}, rand.New(rand.NewPCG(3, 3)))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	cfg := train.LMConfig{Steps: 8, BatchSize: 4, SeqLen: 16, EvalEvery: 2, EvalBatches: 2, Seed: 5}
	straight := newModel()
	cfg.RunDir = t.TempDir()
	a, err := train.Pretrain(context.Background(), straight, ids[:2000], ids[2000:], cfg, nil)
	if err != nil {
		t.Fatal(err)
	}

	stopped := newModel()
	cfg.RunDir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := train.Pretrain(ctx, stopped, ids[:2000], ids[2000:], cfg, stopAfter{5, cancel}); err == nil {
		t.Fatal("cancelled run returned no error")
	}
	resumed := newModel()
	cfg.Resume = true
	b, err := train.Pretrain(context.Background(), resumed, ids[:2000], ids[2000:], cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.BestLoss != b.BestLoss || a.BestStep != b.BestStep || b.Steps != 8 {
		t.Fatalf("straight %+v, resumed %+v", a, b)
	}
	pa, pb := straight.Wte.Weight.Data, resumed.Wte.Weight.Data
	for i := range pa {
		if pa[i] != pb[i] {
			t.Fatalf("weights differ after resuming: wte[%d] %v vs %v", i, pa[i], pb[i])
		}
	}
}
