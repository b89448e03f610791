package perf

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/sample"
	"github.com/moxing/moxing/tensor"
)

// TrainConfig is the batch of a GPT training step to time.
type TrainConfig struct {
	Batch   int     // B: sequences per step
	Seq     int     // T: tokens per sequence, within 1..BlockSize
	Seconds float64 // time steps for at least this long, and at least 3 steps
}

// TrainResult is the speed and memory of a GPT training step, measured after
// one warm-up step.
type TrainResult struct {
	Kernels         string  // tensor.Kernels() at the time
	Steps           int     // timed steps
	MsPerStep       float64 // mean wall time of a step, in milliseconds
	OptimizerMs     float64 // of MsPerStep: zeroing the gradients and AdamW's step
	Params          int     // the model's parameters: a step is about 6·Params·Tokens floating-point operations
	Tokens          int     // B·T, the tokens of a step
	ActivationBytes int64   // the arena's storage: activations, what backward keeps, their gradients
	AllocPerStep    float64 // heap bytes allocated per step besides the arena
	GCs             uint32  // garbage collections during the timed steps
	HeapInuse       uint64  // heap bytes in use at the end
	// PeakGFLOPs is the FMA peak on GOMAXPROCS threads (FMAPeak), measured
	// just before and just after the timed steps, the higher; 0 for pure Go.
	PeakGFLOPs float64
}

// GFLOPs is the step's rate of 6·Params·Tokens floating-point operations,
// the usual count of a transformer step (attention's T² terms left out).
func (r TrainResult) GFLOPs() float64 {
	return 6 * float64(r.Params) * float64(r.Tokens) / r.MsPerStep / 1e6
}

// Summary is r in one line of text, for people: the kernels, memory,
// the optimizer's share and the rate against the peak.
func (r TrainResult) Summary() string {
	act := float64(r.ActivationBytes)
	s := fmt.Sprintf("kernels %s; %d steps; activation memory %.1f MB; allocated per step %.2f MB (%.2f%% of it); %d GCs; heap in use %.0f MB; zeroing gradients and AdamW %.1f ms a step; 6·params·tokens %.0f GFLOP/s",
		r.Kernels, r.Steps, act/1e6, r.AllocPerStep/1e6, 100*r.AllocPerStep/act, r.GCs, float64(r.HeapInuse)/1e6, r.OptimizerMs, r.GFLOPs())
	if r.PeakGFLOPs > 0 {
		s += fmt.Sprintf(" = %.1f%% of the FMA peak (%.0f GFLOP/s, measured around the steps)", 100*r.GFLOPs()/r.PeakGFLOPs, r.PeakGFLOPs)
	}
	return s
}

// GPTTrain times training steps of a GPT of config cfg, with weights drawn
// from rng, on random tokens and targets: forward, backward, AdamW (LR 1e-4,
// weight decay 0.1 on matrices), with the activations in an arena as
// train.Pretrain has them. It returns ctx.Err() when ctx is cancelled and
// the error of gpt.New for a bad cfg.
func GPTTrain(ctx context.Context, cfg gpt.Config, tc TrainConfig, rng *rand.Rand) (TrainResult, error) {
	m, err := gpt.New(cfg, rng)
	if err != nil {
		return TrainResult{}, err
	}
	params := nn.Params(m)
	opt := optim.NewAdamW(params, optim.AdamConfig{LR: 1e-4, WeightDecay: 0.1, Decay: func(p nn.Param) bool { return p.NDim() >= 2 }})
	x, y := randomIDs(rng, tc.Batch*tc.Seq, cfg.VocabSize), randomIDs(rng, tc.Batch*tc.Seq, cfg.VocabSize) // (B·T), (B·T)
	arena := tensor.NewArena()
	nn.UseArena(m, arena)
	var optTime time.Duration
	step := func() {
		_, loss := m.Forward(x, tc.Batch, tc.Seq, y)
		t := time.Now()
		opt.ZeroGrad()
		optTime += time.Since(t)
		loss.Backward()
		loss.Item()
		arena.Reset()
		t = time.Now()
		opt.Step()
		optTime += time.Since(t)
	}
	step() // warm up
	optTime = 0
	peak := FMAPeak(runtime.GOMAXPROCS(0), 10)
	alloc0, gc0 := allocated()
	n, start := 0, time.Now()
	for n < 3 || time.Since(start).Seconds() < tc.Seconds {
		if ctx.Err() != nil {
			return TrainResult{}, ctx.Err()
		}
		step()
		n++
	}
	per := time.Since(start).Seconds() * 1000 / float64(n)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	peak = max(peak, FMAPeak(runtime.GOMAXPROCS(0), 10))
	return TrainResult{
		Kernels:         tensor.Kernels(),
		Steps:           n,
		MsPerStep:       per,
		OptimizerMs:     optTime.Seconds() * 1000 / float64(n),
		Params:          nn.NumParams(params),
		Tokens:          tc.Batch * tc.Seq,
		ActivationBytes: arena.Bytes(),
		AllocPerStep:    float64(ms.TotalAlloc-alloc0) / float64(n),
		GCs:             ms.NumGC - gc0,
		HeapInuse:       ms.HeapInuse,
		PeakGFLOPs:      peak,
	}, nil
}

// GenerateResult is the speed and memory of batch-1 generation.
type GenerateResult struct {
	Kernels         string  // tensor.Kernels() at the time
	Tokens          int     // tokens generated in the timed run
	TokensPerSecond float64 // Tokens over the run's wall time
	CacheBytes      int64   // the KV cache: CacheBytes(cfg)
	AllocPerToken   float64 // heap bytes allocated per token besides the KV cache
}

// GPTGenerate times the generation of tokens tokens, greedily, from a
// one-token random prompt by a GPT of config cfg with weights drawn from
// rng, after a two-token warm-up. It returns ctx.Err() when ctx is cancelled
// and the error of gpt.New for a bad cfg.
func GPTGenerate(ctx context.Context, cfg gpt.Config, tokens int, rng *rand.Rand) (GenerateResult, error) {
	m, err := gpt.New(cfg, rng)
	if err != nil {
		return GenerateResult{}, err
	}
	s := sample.New(sample.Config{}, nil)
	prompt := randomIDs(rng, 1, cfg.VocabSize)
	for range m.Generate(ctx, prompt, 2, s) { // warm up
	}
	alloc0, _ := allocated()
	start, n := time.Now(), 0
	for range m.Generate(ctx, prompt, tokens, s) {
		n++
	}
	rate := float64(n) / time.Since(start).Seconds()
	alloc1, _ := allocated()
	if ctx.Err() != nil {
		return GenerateResult{}, ctx.Err()
	}
	cache := CacheBytes(cfg)
	return GenerateResult{
		Kernels:         tensor.Kernels(),
		Tokens:          n,
		TokensPerSecond: rate,
		CacheBytes:      cache,
		AllocPerToken:   float64(int64(alloc1-alloc0)-cache) / float64(n),
	}, nil
}

// CacheBytes is the size of a KV cache for cfg: float32 keys and values for
// every layer and position.
func CacheBytes(cfg gpt.Config) int64 { return int64(2 * cfg.NLayer * cfg.BlockSize * cfg.NEmbd * 4) }

// randomIDs returns n tokens drawn uniformly from [0, vocab).
func randomIDs(rng *rand.Rand, n, vocab int) []int {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = rng.IntN(vocab)
	}
	return ids
}
