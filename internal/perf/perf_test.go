package perf_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/moxing/moxing/internal/perf"
	"github.com/moxing/moxing/models/gpt"
)

// small is a GPT that steps in well under a millisecond.
var small = gpt.Config{VocabSize: 16, BlockSize: 8, NEmbd: 16, NLayer: 1, NHead: 2}

func TestMatmul(t *testing.T) {
	for _, cfg := range []perf.MatmulConfig{
		{M: 3, N: 5, K: 4},
		{M: 3, N: 5, K: 4, TransA: true, TransB: true},
	} {
		r, err := perf.Matmul(context.Background(), cfg, rand.New(rand.NewPCG(1, 2)))
		if err != nil || r.GFLOPS <= 0 || r.Kernels == "" {
			t.Errorf("Matmul(%+v) = %+v, %v; want a positive rate", cfg, r, err)
		}
	}
	if _, err := perf.Matmul(context.Background(), perf.MatmulConfig{M: 0, N: 1, K: 1}, rand.New(rand.NewPCG(1, 2))); err == nil {
		t.Error("Matmul with M=0: no error")
	}
}

func TestGPTTrain(t *testing.T) {
	r, err := perf.GPTTrain(context.Background(), small, perf.TrainConfig{Batch: 2, Seq: 8}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if r.Steps < 3 || r.MsPerStep <= 0 || r.ActivationBytes <= 0 || r.AllocPerStep < 0 || r.HeapInuse == 0 {
		t.Errorf("GPTTrain = %+v; want at least 3 steps, a positive time and activation memory", r)
	}
}

func TestGPTGenerate(t *testing.T) {
	r, err := perf.GPTGenerate(context.Background(), small, 5, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if r.Tokens != 5 || r.TokensPerSecond <= 0 || r.CacheBytes != perf.CacheBytes(small) {
		t.Errorf("GPTGenerate = %+v; want 5 tokens at a positive rate and a cache of %d bytes", r, perf.CacheBytes(small))
	}
}

func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := perf.GPTTrain(ctx, small, perf.TrainConfig{Batch: 1, Seq: 4}, rand.New(rand.NewPCG(1, 2))); err != context.Canceled {
		t.Errorf("GPTTrain on a cancelled context: %v, want context.Canceled", err)
	}
	if _, err := perf.GPTGenerate(ctx, small, 5, rand.New(rand.NewPCG(1, 2))); err != context.Canceled {
		t.Errorf("GPTGenerate on a cancelled context: %v, want context.Canceled", err)
	}
}
