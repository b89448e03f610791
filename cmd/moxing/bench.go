package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"

	"github.com/moxing/moxing/internal/perf"
	"github.com/moxing/moxing/models/gpt"
	"github.com/spf13/pflag"
)

const benchExample = `  moxing bench matmul --m 256 --n 2304 --k 768 --threads 2 --trans-b`

const benchMatmulSynopsis = "Times C = op(A)·op(B) (float32) through tensor.MatMulT for a few seconds and prints the\n" +
	"best rate seen, as GFLOPS (2·M·N·K per product). The last line is machine-readable:\n" +
	"matmul M=… N=… K=… threads=… GFLOPS=…"

func benchMatmulCommand(fs *pflag.FlagSet) runner {
	var cfg perf.MatmulConfig
	var threads int
	fs.IntVar(&cfg.M, "m", 512, "rows of op(A) and C")
	fs.IntVar(&cfg.N, "n", 512, "columns of op(B) and C")
	fs.IntVar(&cfg.K, "k", 512, "columns of op(A), rows of op(B)")
	fs.IntVar(&threads, "threads", runtime.NumCPU(), "threads (GOMAXPROCS)")
	fs.BoolVar(&cfg.TransA, "trans-a", false, "A is stored K×M")
	fs.BoolVar(&cfg.TransB, "trans-b", false, "B is stored N×K (as a Linear layer's weight)")
	fs.Float64Var(&cfg.Seconds, "seconds", 2, "how long to run")
	return func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
		if cfg.M < 1 || cfg.N < 1 || cfg.K < 1 || threads < 1 {
			return usagef("--m, --n, --k and --threads must be at least 1")
		}
		runtime.GOMAXPROCS(threads)
		r, err := perf.Matmul(ctx, cfg, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "kernels %s, trans_a=%v, trans_b=%v\n", r.Kernels, cfg.TransA, cfg.TransB)
		fmt.Fprintf(stdout, "matmul M=%d N=%d K=%d threads=%d GFLOPS=%.1f\n", cfg.M, cfg.N, cfg.K, threads, r.GFLOPS)
		return nil
	}
}

const benchGPTExample = `  moxing bench gpt --config tiny --batch-size 16 --seq 256 --threads 2 --mode train
  moxing bench gpt --config gpt2-small --threads 2 --mode generate --tokens 64`

const benchGPTSynopsis = "Times a GPT training step (forward, backward, AdamW) or batch-1 generation with a KV cache,\n" +
	"on random weights and tokens. The last line is machine-readable: … ms/step=… or … tokens/s=…"

// benchGPTCommand times GPT training steps or generation on random weights
// and tokens.
func benchGPTCommand(fs *pflag.FlagSet) runner {
	var config, mode string
	var tc perf.TrainConfig
	var threads, tokens, vocab int
	fs.StringVar(&config, "config", "tiny", "tiny (4 layers, 4 heads, C=128, T=256) or gpt2-small (124M)")
	fs.StringVar(&mode, "mode", "train", "train or generate")
	fs.IntVar(&tc.Batch, "batch-size", 16, "sequences per training step")
	fs.IntVar(&tc.Seq, "seq", 256, "tokens per sequence (training)")
	fs.IntVar(&threads, "threads", runtime.NumCPU(), "threads (GOMAXPROCS)")
	fs.IntVar(&tokens, "tokens", 64, "tokens to generate (generate mode)")
	fs.IntVar(&vocab, "vocab", 80, "vocabulary of the tiny config")
	fs.Float64Var(&tc.Seconds, "seconds", 5, "how long to time training steps")
	return func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
		cfg, ok := gpt.Preset(config)
		if !ok {
			return usagef("--config %q: want tiny or gpt2-small", config)
		}
		if config == "tiny" {
			cfg.VocabSize = vocab
		}
		if threads < 1 || tc.Batch < 1 || tc.Seq < 1 || tc.Seq > cfg.BlockSize || tokens < 1 {
			return usagef("--threads, --batch-size, --tokens must be positive and --seq within 1..%d", cfg.BlockSize)
		}
		if mode != "train" && mode != "generate" {
			return usagef("--mode %q: want train or generate", mode)
		}
		runtime.GOMAXPROCS(threads)
		rng := rand.New(rand.NewPCG(1, 2))
		if mode == "generate" {
			r, err := perf.GPTGenerate(ctx, cfg, tokens, rng)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "kernels %s; %d tokens; allocated %.1f MB (the KV cache) + %.1f KB per token\n",
				r.Kernels, r.Tokens, float64(r.CacheBytes)/1e6, r.AllocPerToken/1e3)
			fmt.Fprintf(stdout, "gpt config=%s mode=generate threads=%d tokens/s=%.1f\n", config, threads, r.TokensPerSecond)
			return nil
		}
		r, err := perf.GPTTrain(ctx, cfg, tc, rng)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, r.Summary())
		fmt.Fprintf(stdout, "gpt config=%s mode=train batch=%d seq=%d threads=%d ms/step=%.1f\n", config, tc.Batch, tc.Seq, threads, r.MsPerStep)
		return nil
	}
}

const benchMembwSynopsis = "Measures memory bandwidth STREAM's way over arrays of 256 MiB (copy, scale, add, triad; bytes as\n" +
	"STREAM counts them), then AdamW's step over GPT-2 small's 124M parameters (28 bytes each) against triad."

func benchMembwCommand(fs *pflag.FlagSet) runner {
	ts := fs.IntSlice("threads", []int{1, 2}, "thread counts, comma-separated")
	reps := fs.Int("reps", 5, "repetitions; the best counts")
	return func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
		if len(*ts) == 0 || slices.Min(*ts) < 1 || *reps < 1 {
			return usagef("want --threads counts such as 1,2 and a positive --reps")
		}
		fmt.Fprintf(stdout, "| kernel | bytes/value | threads | GB/s | ms | / triad |\n|---|---|---|---|---|---|\n")
		for _, t := range *ts {
			for _, r := range perf.MemBandwidth(1<<26, 124439808, t, *reps) {
				fmt.Fprintf(stdout, "| %s | %d | %d | %.1f | %.1f | %.0f%% |\n", r.Kernel, r.Bytes, t, r.GBs, r.Best.Seconds()*1e3, 100*r.GBs/r.Triad)
			}
		}
		return nil
	}
}
