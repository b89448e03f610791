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
