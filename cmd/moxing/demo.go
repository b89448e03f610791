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
	"github.com/moxing/moxing/metrics"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/sample"
	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/tokenizer"
	"github.com/moxing/moxing/train"
	"github.com/spf13/pflag"
)

const demoExample = `  moxing demo                                  # about 3 minutes on two cores
  moxing demo --steps 100                      # a quick look
  moxing demo --resume runs/demo-… --steps 1200   # train the same model longer`

const demoSynopsis = "Trains a small GPT on the Go standard library's source code (from the Go toolchain,\n" +
	"$(go env GOROOT)/src: no download) with a byte-level BPE vocabulary learned from it, keeps the best\n" +
	"checkpoint in a run folder, prints Go code it generates and how many of the words it wrote occur in\n" +
	"the source it read, and the commands to try next."

// demoOptions are moxing demo's settings; config.json in the run folder
// holds them, and --resume reads them back.
type demoOptions struct {
	Steps     int     `json:"steps" flag:"steps" def:"900" help:"optimizer steps (with --resume: the new total)" range:"(0,)"`
	BatchSize int     `json:"batch_size" flag:"batch-size" def:"16" help:"sequences per step" range:"(0,)"`
	Seq       int     `json:"seq" flag:"seq" def:"128" help:"tokens per sequence (the context window)" range:"[2,)"`
	CorpusKB  int     `json:"corpus_kb" flag:"corpus-kb" def:"2048" help:"how much Go source to read, in KiB" range:"(0,)"`
	Tokenizer string  `json:"tokenizer" flag:"tokenizer" def:"bpe" help:"bpe (byte-level BPE learned from the corpus) or char (one token per character)"`
	Vocab     int     `json:"vocab" flag:"vocab" def:"2048" help:"BPE vocabulary size" range:"(0,)"`
	LR        float64 `json:"lr" flag:"lr" def:"2e-3" help:"peak learning rate" range:"(0,)"`
	Seed      uint64  `json:"seed" flag:"seed" def:"1337" help:"random seed (initialisation, batches)"`
	Generate  int     `json:"-" flag:"generate" def:"300" help:"tokens to generate at the end" range:"(0,)"`
	Prompt    string  `json:"-" flag:"prompt" def:"func " help:"start of the generated text"`
}

func demoCommand(fs *pflag.FlagSet) runner {
	var o demoOptions
	var rflags runFlags
	bindFlags(fs, &o)
	rflags.register(fs, "demo", "--steps")
	return func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
		rf, err := rflags.folder(fs, &o, "steps", "generate", "prompt")
		if err != nil {
			return err
		}
		if err := checkFlags(&o); err != nil {
			return err
		}
		root, err := goSourceRoot()
		if err != nil {
			return err
		}
		corpus, files, err := data.ReadGoSource(root, o.CorpusKB<<10)
		if err != nil {
			return err
		}
		tok, err := demoTokenizer(o, corpus)
		if err != nil {
			return err
		}
		ids, err := tok.Encode(corpus)
		if err != nil {
			return err
		}
		split := len(ids) * 9 / 10
		cfg := gpt.Tiny()
		cfg.VocabSize, cfg.BlockSize = tok.VocabSize(), o.Seq
		m, err := gpt.New(cfg, rand.New(rand.NewPCG(o.Seed, 0)))
		if err != nil {
			return err
		}
		card, err := (&gpt.Pretrained{LM: m, Tokenizer: tok}).Card()
		if err != nil {
			return err
		}
		run, resume, err := rf.open("demo", o)
		if err != nil {
			return err
		}
		defer run.Close()
		fmt.Fprintf(stderr, "corpus: %d files, %d KiB of Go from %s; %s tokenizer of %d tokens, %d tokens (%.1f bytes each)\n",
			files, len(corpus)>>10, root, o.Tokenizer, tok.VocabSize(), len(ids), float64(len(corpus))/float64(len(ids)))
		fmt.Fprintf(stderr, "model: GPT, %d layers, %d heads, %d channels, window %d, %d parameters (kernels %s)\n",
			cfg.NLayer, cfg.NHead, cfg.NEmbd, cfg.BlockSize, nn.NumParams(nn.Params(m)), tensor.Kernels())
		lc := train.DefaultLMConfig()
		lc.Steps, lc.BatchSize, lc.SeqLen, lc.EvalEvery, lc.Seed, lc.Meta = o.Steps, o.BatchSize, o.Seq, max(1, o.Steps/10), o.Seed, card.Metadata(checkpoint.MetaCard)
		lc.Schedule = train.LMSchedule(float32(o.LR), max(1, o.Steps/20), o.Steps)
		loop := &train.LM{Model: m, Opt: train.NewLMOptimizer(nn.Params(m), float32(o.LR), 0.1), Config: lc, Run: run}
		fmt.Fprintf(stderr, "training: %d steps of %d×%d tokens into %s; the time it takes follows after the first steps\n", o.Steps, o.BatchSize, o.Seq, run.Dir)
		res, err := fitLM(ctx, loop, resume, ids[:split], ids[split:], "moxing demo", false, io.Discard, stderr)
		if errors.Is(err, context.Canceled) || ctx.Err() != nil {
			fmt.Fprintf(stderr, "interrupted after %d steps; generating from the best weights so far\n", res.Steps)
		} else if err != nil {
			return err
		}
		best := run.Path("best.safetensors")
		fmt.Fprintf(stderr, "best validation loss %.4f at step %d; checkpoint %s\n\n", res.BestLoss, res.BestStep, best)
		var text strings.Builder
		lm := &load.LanguageModel{Model: m, Tokenizer: tok, Window: cfg.BlockSize, Vocab: cfg.VocabSize}
		fmt.Fprint(stdout, o.Prompt)
		if err := generateText(context.WithoutCancel(ctx), io.MultiWriter(stdout, &text), stderr, lm, o.Prompt, o.Generate,
			sample.Config{Temperature: 0.8, TopK: 40}, 1, ""); err != nil {
			return err
		}
		seen, words := metrics.WordsSeen(text.String(), corpus)
		fmt.Fprintf(stdout, "\n\n%d of the %d words it wrote (%.0f%%) occur in the Go source it read.\n", seen, words, 100*float64(seen)/float64(max(words, 1)))
		fmt.Fprintf(stdout, "Next:\n  moxing generate -m %[1]s -p 'func main() {' -n 200\n  moxing eval --model %[1]s --text $(go env GOROOT)/src/fmt/print.go\n"+
			"  moxing plot --run %[2]s\n  moxing demo --resume %[2]s --steps %[3]d    # train it longer\n", run.Dir, run.Dir, 2*o.Steps)
		return nil
	}
}

// demoTokenizer is the demo's tokenizer, learned from corpus.
func demoTokenizer(o demoOptions, corpus string) (tokenizer.Tokenizer, error) {
	switch o.Tokenizer {
	case "bpe":
		return tokenizer.TrainBPE(corpus, o.Vocab)
	case "char":
		return tokenizer.NewChar(corpus)
	}
	return nil, usagef("--tokenizer %q: want bpe or char", o.Tokenizer)
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
