package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/sample"
	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/tokenizer"
	"github.com/moxing/moxing/train"
	"github.com/spf13/pflag"
)

const demoExample = `  moxing demo                      # a few minutes on two cores
  moxing demo --steps 100          # a quick look`

const demoSynopsis = "Trains a small character-level GPT on the Go standard library's source code (from the Go\n" +
	"toolchain, $(go env GOROOT)/src: no download), keeps the best checkpoint, and prints Go code it generates."

func demoCommand(fs *pflag.FlagSet) runner {
	var steps, batch, seq, corpusKB, maxTokens int
	var lr float64
	var runDir, prompt string
	fs.IntVar(&steps, "steps", 600, "optimizer steps")
	fs.IntVar(&batch, "batch-size", 16, "sequences per step")
	fs.IntVar(&seq, "seq", 128, "characters per sequence (the context window)")
	fs.IntVar(&corpusKB, "corpus-kb", 2048, "how much Go source to read, in KiB")
	fs.Float64Var(&lr, "lr", 1e-3, "peak learning rate")
	fs.IntVar(&maxTokens, "generate", 500, "characters to generate at the end")
	fs.StringVar(&prompt, "prompt", "func ", "start of the generated text")
	fs.StringVar(&runDir, "run", "", "run folder (default: runs/demo-<time>)")
	return func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
		if steps < 1 || batch < 1 || seq < 2 || corpusKB < 1 || lr <= 0 {
			return usagef("--steps, --batch-size, --corpus-kb and --lr must be positive and --seq at least 2")
		}
		root, err := goSourceRoot()
		if err != nil {
			return err
		}
		corpus, files, err := data.ReadGoSource(root, corpusKB<<10)
		if err != nil {
			return err
		}
		tok, err := tokenizer.NewChar(corpus)
		if err != nil {
			return err
		}
		ids, err := tok.Encode(corpus)
		if err != nil {
			return err
		}
		split := len(ids) * 9 / 10
		cfg := gpt.Tiny()
		cfg.VocabSize, cfg.BlockSize = tok.VocabSize(), seq
		m, err := gpt.New(cfg, rand.New(rand.NewPCG(1337, 0)))
		if err != nil {
			return err
		}
		card, err := (&gpt.Pretrained{LM: m, Tokenizer: tok}).Card()
		if err != nil {
			return err
		}
		run, _, err := runFolder{dir: runDir}.open("demo", map[string]any{"steps": steps, "batch": batch, "seq": seq, "corpus_kb": corpusKB, "lr": lr, "seed": 1})
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "corpus: %d files, %d KiB of Go from %s; %d distinct characters\n", files, len(corpus)>>10, root, tok.VocabSize())
		fmt.Fprintf(stderr, "model: GPT, %d layers, %d heads, %d channels, window %d, %d parameters; %d steps of %d×%d characters (kernels: %s)\n",
			cfg.NLayer, cfg.NHead, cfg.NEmbd, cfg.BlockSize, nn.NumParams(nn.Params(m)), steps, batch, seq, tensor.Kernels())
		lc := train.DefaultLMConfig()
		lc.Steps, lc.BatchSize, lc.SeqLen, lc.EvalEvery, lc.Seed, lc.Meta = steps, batch, seq, max(1, steps/10), 1, card.Metadata(checkpoint.MetaCard)
		lc.Schedule = train.LMSchedule(float32(lr), max(1, steps/20), steps)
		loop := &train.LM{Model: m, Opt: train.NewLMOptimizer(nn.Params(m), float32(lr), 0.1), Config: lc, Run: run}
		res, err := fitLM(ctx, loop, false, ids[:split], ids[split:], "moxing demo", false, io.Discard, stderr)
		if errors.Is(err, context.Canceled) || ctx.Err() != nil {
			fmt.Fprintf(stderr, "interrupted after %d steps; generating from the best weights so far\n", res.Steps)
		} else if err != nil {
			return err
		}
		best := run.Path("best.safetensors")
		fmt.Fprintf(stderr, "best validation loss %.4f at step %d; checkpoint %s\n\n", res.BestLoss, res.BestStep, best)
		fmt.Fprint(stdout, prompt)
		lm := &load.LanguageModel{Model: m, Tokenizer: tok, Window: cfg.BlockSize, Vocab: cfg.VocabSize}
		if err := generateText(context.WithoutCancel(ctx), stdout, stderr, lm, prompt, maxTokens,
			sample.Config{Temperature: 0.8, TopK: 40}, 1, ""); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\n\n(more: moxing generate --model %s --prompt 'package main')\n", best)
		return nil
	}
}

// goSourceRoot finds $(go env GOROOT)/src.
func goSourceRoot() (string, error) {
	root := ""
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		root = strings.TrimSpace(string(out))
	}
	if root == "" {
		root = runtime.GOROOT() //nolint:staticcheck // the fallback when no go command is on PATH
	}
	src := filepath.Join(root, "src")
	if st, err := os.Stat(src); err != nil || !st.IsDir() {
		return "", fmt.Errorf("demo: cannot find the Go source tree (looked for %s): install Go or put its go command on PATH", src)
	}
	return src, nil
}
