package recipe

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/tokenizer"
	"github.com/moxing/moxing/train"
)

// DemoOptions are the settings of Demo (moxing demo). config.json in the
// run folder holds them.
type DemoOptions struct {
	Steps     int     `json:"steps" flag:"steps" def:"900" help:"optimizer steps (with --resume: the new total)" range:"(0,)"`
	BatchSize int     `json:"batch_size" flag:"batch-size" def:"16" help:"sequences per step" range:"(0,)"`
	Seq       int     `json:"seq" flag:"seq" def:"128" help:"tokens per sequence (the context window)" range:"[2,)"`
	CorpusKB  int     `json:"corpus_kb" flag:"corpus-kb" def:"2048" help:"how much Go source to read, in KiB" range:"(0,)"`
	Tokenizer string  `json:"tokenizer" flag:"tokenizer" def:"bpe" help:"bpe (byte-level BPE learned from the corpus) or char (one token per character)"`
	Vocab     int     `json:"vocab" flag:"vocab" def:"2048" help:"BPE vocabulary size" range:"(0,)"`
	LR        float64 `json:"lr" flag:"lr" def:"2e-3" help:"peak learning rate" range:"(0,)"`
	Seed      uint64  `json:"seed" flag:"seed" def:"1337" help:"random seed (initialisation, batches)"`
}

// DemoResult is the model Demo trained, with what it read.
type DemoResult struct {
	LMResult
	Model  *load.LanguageModel // the GPT with the best weights, ready to generate
	Corpus string              // the Go source it read
}

// Demo trains a small GPT (gpt.Tiny with a window of o.Seq) on the Go
// source under src (see data.ReadGoSource), with a tokenizer learned from
// it, in the run folder f; the last tenth of the tokens is validation.
// What it reads and builds goes to log. When ctx is cancelled the run is
// saved to resume and the error wraps ctx's, with the result so far: the
// model then holds the best weights yet.
func Demo(ctx context.Context, o DemoOptions, src string, f Folder, obs train.Observer, log io.Writer) (*DemoResult, error) {
	if err := Check(&o); err != nil {
		return nil, err
	}
	log = logger(log)
	f.start("demo")
	corpus, files, err := data.ReadGoSource(src, o.CorpusKB<<10)
	if err != nil {
		return nil, err
	}
	tok, err := demoTokenizer(ctx, o, corpus)
	if err != nil {
		return nil, err
	}
	ids, err := tok.Encode(corpus)
	if err != nil {
		return nil, err
	}
	cfg := gpt.Tiny()
	cfg.VocabSize, cfg.BlockSize = tok.VocabSize(), o.Seq
	m, err := gpt.New(cfg, rand.New(rand.NewPCG(o.Seed, 0)))
	if err != nil {
		return nil, err
	}
	card, err := (&gpt.Pretrained{LM: m, Tokenizer: tok}).Card()
	if err != nil {
		return nil, err
	}
	run, err := f.open(o)
	if err != nil {
		return nil, err
	}
	defer run.Close()
	fmt.Fprintf(log, "corpus: %d files, %d KiB of Go from %s; %s tokenizer of %d tokens, %d tokens (%.1f bytes each)\n",
		files, len(corpus)>>10, src, o.Tokenizer, tok.VocabSize(), len(ids), float64(len(corpus))/float64(len(ids)))
	fmt.Fprintf(log, "model: GPT, %d layers, %d heads, %d channels, window %d, %d parameters (kernels %s)\n",
		cfg.NLayer, cfg.NHead, cfg.NEmbd, cfg.BlockSize, nn.NumParams(nn.Params(m)), tensor.Kernels())
	lc := train.DefaultLMConfig()
	lc.Steps, lc.BatchSize, lc.SeqLen, lc.EvalEvery, lc.Seed, lc.Meta = o.Steps, o.BatchSize, o.Seq, max(1, o.Steps/10), o.Seed, card.Metadata(checkpoint.MetaCard)
	lc.Schedule = train.LMSchedule(float32(o.LR), max(1, o.Steps/20), o.Steps)
	loop := &train.LM{Model: m, Opt: train.NewLMOptimizer(nn.Params(m), float32(o.LR), 0.1), Config: lc, Run: run, Observer: obs}
	fmt.Fprintf(log, "training: %d steps of %d×%d tokens into %s; the time it takes follows after the first steps\n", o.Steps, o.BatchSize, o.Seq, run.Dir)
	split := len(ids) * 9 / 10
	tokens := data.NewTokens(ids, tok.VocabSize())
	res, err := fitLM(ctx, loop, f.Resume, tokens.Slice(0, split), tokens.Slice(split, len(ids)), run.Dir)
	if res == nil {
		return nil, err
	}
	lm := &load.LanguageModel{Model: m, Tokenizer: tok, Window: cfg.BlockSize, Vocab: cfg.VocabSize}
	return &DemoResult{LMResult: *res, Model: lm, Corpus: corpus}, err
}

// demoTokenizer is Demo's tokenizer, learned from corpus.
func demoTokenizer(ctx context.Context, o DemoOptions, corpus string) (tokenizer.Tokenizer, error) {
	switch o.Tokenizer {
	case "bpe":
		return tokenizer.TrainBPE(ctx, corpus, o.Vocab)
	case "char":
		return tokenizer.NewChar(corpus)
	}
	return nil, optionf("--tokenizer %q: want bpe or char", o.Tokenizer)
}
