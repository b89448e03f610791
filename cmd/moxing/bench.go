package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/sample"
	"github.com/moxing/moxing/tensor"
)

const benchExample = `  moxing bench matmul --m 256 --n 2304 --k 768 --threads 2 --trans-b`

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "gpt" {
		return benchGPT(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "matmul" {
		return usagef(`want "moxing bench matmul [flags]" or "moxing bench gpt [flags]"`)
	}
	var m, n, k, threads int
	var transA, transB bool
	var seconds float64
	fs := newFlags("bench matmul", "Times C = op(A)·op(B) (float32) through tensor.MatMulT for a few seconds and prints the\n"+
		"best rate seen, as GFLOPS (2·M·N·K per product). The last line is machine-readable:\n"+
		"matmul M=… N=… K=… threads=… GFLOPS=…", benchExample, stderr)
	fs.IntVar(&m, "m", 512, "rows of op(A) and C")
	fs.IntVar(&n, "n", 512, "columns of op(B) and C")
	fs.IntVar(&k, "k", 512, "columns of op(A), rows of op(B)")
	fs.IntVar(&threads, "threads", runtime.NumCPU(), "threads (GOMAXPROCS)")
	fs.BoolVar(&transA, "trans-a", false, "A is stored K×M")
	fs.BoolVar(&transB, "trans-b", false, "B is stored N×K (as a Linear layer's weight)")
	fs.Float64Var(&seconds, "seconds", 2, "how long to run")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if m < 1 || n < 1 || k < 1 || threads < 1 {
		return usagef("--m, --n, --k and --threads must be at least 1")
	}
	runtime.GOMAXPROCS(threads)
	rng := rand.New(rand.NewPCG(1, 2))
	sa, sb := []int{m, k}, []int{k, n}
	if transA {
		sa = []int{k, m}
	}
	if transB {
		sb = []int{n, k}
	}
	// The product's storage comes from an arena, as in a training step:
	// allocating 4·M·N fresh bytes per product would time the garbage
	// collector and page faults, not the kernel.
	arena := tensor.NewArena()
	a, b := tensor.Randn(rng, sa...).UseArena(arena), tensor.Randn(rng, sb...)
	product := func() {
		a.MatMulT(b, transA, transB)
		arena.Reset()
	}
	product() // warm up: pools, page faults

	// The best of several rounds of about a fifth of the time each: the
	// machine is shared, and the best round is the kernel's own speed.
	flops := 2 * float64(m) * float64(n) * float64(k)
	best := 0.0
	deadline := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	for round := 0; round < 5 || time.Now().Before(deadline); round++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		reps, start := 0, time.Now()
		for time.Since(start) < time.Duration(seconds*float64(time.Second)/5) || reps == 0 {
			product()
			reps++
		}
		best = max(best, flops*float64(reps)/time.Since(start).Seconds()/1e9)
		if round >= 20 {
			break
		}
	}
	fmt.Fprintf(stdout, "kernels %s, trans_a=%v, trans_b=%v\n", tensor.Kernels(), transA, transB)
	fmt.Fprintf(stdout, "matmul M=%d N=%d K=%d threads=%d GFLOPS=%.1f\n", m, n, k, threads, best)
	return nil
}

const benchGPTExample = `  moxing bench gpt --config tiny --batch 16 --seq 256 --threads 2 --mode train
  moxing bench gpt --config gpt2-small --threads 2 --mode generate --tokens 64`

// benchGPT times GPT training steps or generation on random weights and
// tokens.
func benchGPT(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var config, mode string
	var batch, seq, threads, tokens, vocab int
	var seconds float64
	fs := newFlags("bench gpt", "Times a GPT training step (forward, backward, AdamW) or batch-1 generation with a KV cache,\n"+
		"on random weights and tokens. The last line is machine-readable: … ms/step=… or … tokens/s=…", benchGPTExample, stderr)
	fs.StringVar(&config, "config", "tiny", "tiny (4 layers, 4 heads, C=128, T=256) or gpt2-small (124M)")
	fs.StringVar(&mode, "mode", "train", "train or generate")
	fs.IntVar(&batch, "batch", 16, "sequences per training step")
	fs.IntVar(&seq, "seq", 256, "tokens per sequence (training)")
	fs.IntVar(&threads, "threads", runtime.NumCPU(), "threads (GOMAXPROCS)")
	fs.IntVar(&tokens, "tokens", 64, "tokens to generate (generate mode)")
	fs.IntVar(&vocab, "vocab", 80, "vocabulary of the tiny config")
	fs.Float64Var(&seconds, "seconds", 5, "how long to time training steps")
	if err := parse(fs, args); err != nil {
		return err
	}
	var cfg gpt.Config
	switch config {
	case "tiny":
		cfg = gpt.Tiny()
		cfg.VocabSize = vocab
	case "gpt2-small":
		cfg = gpt.GPT2Small()
	default:
		return usagef("--config %q: want tiny or gpt2-small", config)
	}
	if threads < 1 || batch < 1 || seq < 1 || seq > cfg.BlockSize || tokens < 1 {
		return usagef("--threads, --batch, --tokens must be positive and --seq within 1..%d", cfg.BlockSize)
	}
	runtime.GOMAXPROCS(threads)
	rng := rand.New(rand.NewPCG(1, 2))
	m, err := gpt.New(cfg, rng)
	if err != nil {
		return err
	}
	randomIDs := func(n int) []int {
		ids := make([]int, n)
		for i := range ids {
			ids[i] = rng.IntN(cfg.VocabSize)
		}
		return ids
	}
	switch mode {
	case "train":
		params := nn.Params(m)
		opt := optim.NewAdamW(params, optim.AdamConfig{LR: 1e-4, WeightDecay: 0.1, Decay: func(p nn.Param) bool { return p.NDim() >= 2 }})
		x, y := randomIDs(batch*seq), randomIDs(batch*seq)
		arena := tensor.NewArena() // as train.Pretrain does
		nn.UseArena(m, arena)
		step := func() {
			_, loss := m.Forward(x, batch, seq, y)
			opt.ZeroGrad()
			loss.Backward()
			loss.Item()
			arena.Reset()
			opt.Step()
		}
		step() // warm up
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		alloc0, gc0 := ms.TotalAlloc, ms.NumGC
		n, start := 0, time.Now()
		for n < 3 || time.Since(start).Seconds() < seconds {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			step()
			n++
		}
		per := time.Since(start).Seconds() * 1000 / float64(n)
		runtime.ReadMemStats(&ms)
		perStep := float64(ms.TotalAlloc-alloc0) / float64(n)
		fmt.Fprintf(stdout, "kernels %s; %d steps; activation memory %.1f MB; allocated per step %.2f MB (%.2f%% of it); %d GCs; heap in use %.0f MB\n",
			tensor.Kernels(), n, float64(arena.Bytes())/1e6, perStep/1e6, 100*perStep/float64(arena.Bytes()), ms.NumGC-gc0, float64(ms.HeapInuse)/1e6)
		fmt.Fprintf(stdout, "gpt config=%s mode=train batch=%d seq=%d threads=%d ms/step=%.1f\n", config, batch, seq, threads, per)
	case "generate":
		s := sample.New(sample.Config{}, nil)
		prompt := randomIDs(1)
		for range m.Generate(ctx, prompt, 2, s) { // warm up
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		alloc0 := ms.TotalAlloc
		start, n := time.Now(), 0
		for range m.Generate(ctx, prompt, tokens, s) {
			n++
		}
		rate := float64(n) / time.Since(start).Seconds()
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(stdout, "kernels %s; %d tokens; allocated %.1f MB (the KV cache) + %.1f KB per token\n", tensor.Kernels(), n,
			float64(cacheBytes(cfg))/1e6, float64(int64(ms.TotalAlloc-alloc0)-cacheBytes(cfg))/float64(n)/1e3)
		fmt.Fprintf(stdout, "gpt config=%s mode=generate threads=%d tokens/s=%.1f\n", config, threads, rate)
	default:
		return usagef("--mode %q: want train or generate", mode)
	}
	return nil
}

// cacheBytes is the size of a KV cache for cfg: keys and values for every
// layer and position.
func cacheBytes(cfg gpt.Config) int64 { return int64(2 * cfg.NLayer * cfg.BlockSize * cfg.NEmbd * 4) }
