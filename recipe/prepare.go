package recipe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/tokenizer"
)

// PrepareOptions are the settings of Prepare (moxing prepare).
type PrepareOptions struct {
	Input         string  // the corpus: files, folders or globs, comma-separated (see data.ReadCorpus)
	Ext           string  // extensions of the files read from folders, comma-separated
	Format        string  // the format of the items that name none: one of data.CorpusFormats
	Tokenizer     string  // "char", "bpe" (learned from the corpus) or "gpt2"
	TokenizerFrom string  // use the tokenizer of this model instead (see tokenizerOf)
	Vocab         int     // the vocabulary size of a BPE, at least 1
	Val           float64 // the fraction of each part (its end) kept for validation, in (0, 1)
	Out           string  // the folder written (see data.WritePrepared)
}

// PrepareResult is what Prepare wrote. Its JSON is what moxing prepare
// --json prints (the fields in the order of their keys).
type PrepareResult struct {
	Bytes       int    `json:"bytes"`        // of corpus text read
	Files       int    `json:"files"`        // files read
	Out         string `json:"out"`          // the folder written
	Skipped     int    `json:"skipped"`      // files in folders skipped for their extension
	TrainTokens int    `json:"train_tokens"` // in train.tok
	ValTokens   int    `json:"val_tokens"`   // in val.tok
	Vocab       int    `json:"vocab"`        // the tokenizer's vocabulary size
}

// Prepare turns the text corpus o.Input into a tokenizer and token files
// in o.Out (tokenizer.json, train.tok, val.tok): every part of the corpus
// gives the last o.Val of its text to validation. Notes (files skipped,
// characters the vocabulary lacks) go to log. A cancelled ctx stops it
// before anything is written.
func Prepare(ctx context.Context, o PrepareOptions, log io.Writer) (*PrepareResult, error) {
	log = logger(log)
	if o.Input == "" || o.Out == "" {
		return nil, optionf("--input and --out are required; see --help")
	}
	if !(o.Val > 0 && o.Val < 1) { // NaN too
		return nil, optionf("--val %g: want a fraction in (0, 1)", o.Val)
	}
	if o.Vocab < 1 {
		return nil, optionf("--vocab %d: want a positive vocabulary size", o.Vocab)
	}
	if !slices.Contains(data.CorpusFormats, o.Format) {
		return nil, optionf("--format %q: want text or brown", o.Format)
	}
	corpus, err := data.ReadCorpus(o.Input, o.Format, strings.Split(o.Ext, ","))
	if errors.Is(err, data.ErrEmptyCorpus) {
		return nil, fmt.Errorf("--input: %w (--ext chooses the extensions read)", err)
	}
	if err != nil {
		return nil, err
	}
	if corpus.Skipped > 0 {
		fmt.Fprintf(log, "note: %d files in the folders were skipped for their extension (--ext %s)\n", corpus.Skipped, o.Ext)
	}
	if err := ctx.Err(); err != nil {
		return nil, err // cancelled while reading: nothing is written
	}
	tok, err := prepareTokenizer(ctx, o, corpus.Text())
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	lossy := tokenizer.NewLossy(tok)
	trainIDs, valIDs, err := corpus.Encode(lossy, o.Val)
	noteReplaced(log, lossy, "the corpus")
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := data.WritePrepared(o.Out, tok, trainIDs, valIDs); err != nil {
		return nil, err
	}
	return &PrepareResult{Files: corpus.Files, Skipped: corpus.Skipped, Bytes: len(corpus.Text()), TrainTokens: trainIDs.Len(),
		ValTokens: valIDs.Len(), Vocab: tok.VocabSize(), Out: o.Out}, nil
}

// prepareTokenizer is Prepare's tokenizer: another model's
// (o.TokenizerFrom), or one of o.Tokenizer's kind built on text.
func prepareTokenizer(ctx context.Context, o PrepareOptions, text string) (tokenizer.Tokenizer, error) {
	switch {
	case o.TokenizerFrom != "":
		return tokenizerOf(o.TokenizerFrom)
	case o.Tokenizer == "char":
		return tokenizer.NewChar(text)
	case o.Tokenizer == "bpe":
		return tokenizer.TrainBPE(ctx, text, o.Vocab)
	case o.Tokenizer == "gpt2":
		return tokenizer.GPT2()
	}
	return nil, optionf("--tokenizer %q: want char, bpe or gpt2", o.Tokenizer)
}
