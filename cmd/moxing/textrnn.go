package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/models/rnn"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tokenizer"
	"github.com/moxing/moxing/train"
)

// rnnHead is the training head of a recurrent classifier: one logit for two
// classes (Config.Classes 1), else one per class.
func rnnHead(classes int) train.Head { return train.Head{Task: data.Classification, Classes: classes} }

// textRNNDefaults are the flag values --arch lstm|gru|rnn uses where the
// command line sets none.
var textRNNDefaults = map[string]string{"hidden": "128", "epochs": "20", "patience": "5", "monitor": "val_accuracy", "dropout": "0.3", "val": "0.2"}

// trainTextRNN is moxing train --arch lstm|gru|rnn: a recurrent text
// classifier trained from scratch on a labelled text file.
func trainTextRNN(ctx context.Context, o trainOptions, rf runFolder, stdout, stderr io.Writer) error {
	topt := data.TextOptions{TextField: o.TextField, LabelField: o.LabelField}
	ex, err := data.ReadTextFile(o.Data, topt)
	if err != nil {
		return err
	}
	var tok tokenizer.Tokenizer
	if o.TokenizerFrom != "" {
		if tok, err = tokenizerOf(o.TokenizerFrom); err != nil {
			return err
		}
	} else {
		// A BPE vocabulary learned from the training texts alone.
		var corpus strings.Builder
		for _, e := range ex {
			corpus.WriteString(e.Text)
			corpus.WriteByte('\n')
		}
		if tok, err = tokenizer.TrainBPE(corpus.String(), o.Vocab); err != nil {
			return err
		}
	}
	window := max(o.Window, 1)
	trainSet, valSet, classes, err := textSets(tok, window, o.Data, o.ValData, topt, o.Val, o.Seed, stderr)
	if err != nil {
		return err
	}
	hidden, err := parseInts(o.Hidden)
	if err != nil || len(hidden) != 1 {
		return usagef("--hidden %q: want one number of hidden units for --model %s", o.Hidden, o.Arch)
	}
	cfg := rnn.Config{Kind: nn.RNNKind(o.Arch), Vocab: tok.VocabSize(), Embed: o.Embd, Hidden: hidden[0], Layers: o.Layers,
		Bidirectional: o.Bidirectional, Dropout: float32(o.Dropout), Classes: len(classes)}
	if cfg.Classes == 2 {
		cfg.Classes = 1
	}
	model, err := rnn.NewClassifier(cfg, rand.New(rand.NewPCG(o.Seed, 2)))
	if err != nil {
		return usageError{err.Error()}
	}
	opt, err := newOptimizer(o, nn.Params(model))
	if err != nil {
		return err
	}
	card, err := (&rnn.Pretrained{Classifier: model, Labels: classes, Tokenizer: tok, Window: window}).Card()
	if err != nil {
		return err
	}
	run, resume, err := rf.open(dataStem(o.Data), o)
	if err != nil {
		return err
	}
	defer run.Close()
	fmt.Fprintf(stderr, "%s: %d training and %d validation texts, classes %s; vocabulary %d; %s classifier of %d parameters; run folder %s\n",
		o.Data, trainSet.Len(), valSet.Len(), strings.Join(classes, ", "), tok.VocabSize(), strings.ToUpper(o.Arch),
		nn.NumParams(nn.Params(model)), run.Dir)
	return fitAndReport(ctx, o, supervisedRun{
		model: model, opt: opt, head: rnnHead(len(classes)), classes: classes, card: card,
		run: run, resume: resume, trainSet: trainSet, valSet: valSet, testSet: &data.Dataset{},
	}, stdout, stderr)
}

// tokenizerOf returns the tokenizer of the text model at path.
func tokenizerOf(path string) (tokenizer.Tokenizer, error) {
	m, err := load.Open(path)
	if err != nil {
		return nil, err
	}
	if tok := m.Tokenizer(); tok != nil {
		return tok, nil
	}
	return nil, fmt.Errorf("%s: a %s has no tokenizer", path, m.Describe())
}
