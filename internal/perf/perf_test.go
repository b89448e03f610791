package perf_test

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/moxing/moxing/internal/perf"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
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
	m, err := gpt.New(small, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if r.OptimizerMs <= 0 || r.OptimizerMs >= r.MsPerStep || r.Params != nn.NumParams(nn.Params(m)) {
		t.Errorf("GPTTrain = %+v; want the optimizer's share of a step and the model's parameters", r)
	}
	if r.Tokens != 16 || (r.PeakGFLOPs > 0) != (r.Kernels != "go") {
		t.Errorf("GPTTrain = %+v; want 16 tokens a step, and the FMA peak unless the kernels are pure Go", r)
	}
	if want := 6 * float64(r.Params) * 16 / r.MsPerStep / 1e6; math.Abs(r.GFLOPs()-want) > 1e-9*want {
		t.Errorf("GFLOPs() = %v, want %v", r.GFLOPs(), want)
	}
	if s := r.Summary(); strings.Contains(s, "of the FMA peak") != (r.PeakGFLOPs > 0) {
		t.Errorf("Summary() = %q with a peak of %v", s, r.PeakGFLOPs)
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

// MemBandwidth reports the five kernels, each with a rate from its time
// and bytes, and triad's rate on every row; AdamW leaves GOMAXPROCS as it
// found it.
func TestMemBandwidth(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	rows := perf.MemBandwidth(1<<16, 1<<16, 1, 2)
	if runtime.GOMAXPROCS(0) != procs {
		t.Errorf("GOMAXPROCS %d after, %d before", runtime.GOMAXPROCS(0), procs)
	}
	want := []string{"copy", "scale", "add", "triad", "adamw"}
	if len(rows) != len(want) {
		t.Fatalf("%d rows", len(rows))
	}
	for i, r := range rows {
		if r.Kernel != want[i] || r.Best <= 0 || r.GBs <= 0 || r.Triad != rows[3].GBs {
			t.Errorf("row %d: %+v", i, r)
		}
		if got := float64(r.Bytes) * (1 << 16) / r.Best.Seconds() / 1e9; math.Abs(got-r.GBs) > 1e-9*got {
			t.Errorf("%s: %.3f GB/s for %d bytes a value in %v", r.Kernel, r.GBs, r.Bytes, r.Best)
		}
	}
}

// FMAPeak reports a positive rate where the kernels have an FMA loop, 0
// for pure Go, and leaves GOMAXPROCS as it found it.
func TestFMAPeak(t *testing.T) {
	procs := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(procs)
	peak := perf.FMAPeak(2, 5)
	if runtime.GOMAXPROCS(0) != 1 {
		t.Errorf("GOMAXPROCS %d after, 1 before", runtime.GOMAXPROCS(0))
	}
	if want := tensor.Kernels() != "go"; (peak > 0) != want || peak < 0 {
		t.Errorf("FMAPeak %.1f GFLOP/s with kernels %s", peak, tensor.Kernels())
	}
	t.Logf("%s: %.1f GFLOP/s on 2 threads", tensor.Kernels(), peak)
}
