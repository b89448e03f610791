package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/models/rnn"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tokenizer"
	"github.com/moxing/moxing/train"
)

// textClassifier is a trained text classifier of either family (a GPT with
// a classification head, or a recurrent classifier) with what it needs to
// read text.
type textClassifier struct {
	model  nn.Layer // maps padded id rows (B, T) to logits
	tok    tokenizer.Tokenizer
	labels []string
	window int // texts are cut to this many tokens
	head   train.Head
}

// loadTextClassifier loads a classifier checkpoint of moxing finetune
// --task classify (with its adapter, if any) or moxing train --model
// lstm|gru|rnn.
func loadTextClassifier(path, adapter string) (*textClassifier, error) {
	if modelKind(path) == "rnn-classifier" {
		if adapter != "" {
			return nil, fmt.Errorf("%s: a recurrent classifier takes no adapter", path)
		}
		return loadRNNClassifier(path)
	}
	g, err := loadClassifier(path, adapter)
	if err != nil {
		return nil, err
	}
	return &textClassifier{model: g.cls, tok: g.tok, labels: g.Labels, window: g.Config.BlockSize,
		head: train.Head{Task: data.Classification, Classes: len(g.Labels), PerClassLogits: true}}, nil
}

// rnnClassifierMeta is the model metadata of a recurrent text classifier.
type rnnClassifierMeta struct {
	Kind   string     `json:"kind"` // "rnn-classifier"
	Config rnn.Config `json:"config"`
	Labels []string   `json:"labels"`
	Window int        `json:"window"` // longest text, in tokens
}

// rnnHead is the training head of a recurrent classifier: one logit for two
// classes (Config.Classes 1), else one per class.
func rnnHead(classes int) train.Head { return train.Head{Task: data.Classification, Classes: classes} }

// textRNNDefaults are the flag values --model lstm|gru|rnn uses where the
// command line sets none.
var textRNNDefaults = map[string]string{"hidden": "128", "epochs": "20", "patience": "5", "monitor": "val_accuracy", "dropout": "0.3", "val": "0.2"}

// trainTextRNN is moxing train --model lstm|gru|rnn: a recurrent text
// classifier trained from scratch on a labelled text file.
func trainTextRNN(ctx context.Context, o trainOptions, runDir string, resume bool, stdout, stderr io.Writer) error {
	topt := data.TextOptions{TextField: o.TextField, LabelField: o.LabelField}
	ex, err := readTextFile(o.Data, topt)
	if err != nil {
		return err
	}
	classes, labels, err := data.Labels(ex, o.Data)
	if err != nil {
		return err
	}
	var tok tokenizer.Tokenizer
	if o.TokenizerFrom != "" {
		g, err := loadGPT(o.TokenizerFrom, "")
		if err != nil {
			return err
		}
		tok = g.tok
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
	trainSet, valSet, err := textSets(tok, window, ex, classes, labels, o.Data, o.ValData, topt, o.Val, o.Seed, stderr)
	if err != nil {
		return err
	}
	hidden, err := parseInts(o.Hidden)
	if err != nil || len(hidden) != 1 {
		return usagef("--hidden %q: want one number of hidden units for --model %s", o.Hidden, o.Model)
	}
	cfg := rnn.Config{Kind: nn.RNNKind(o.Model), Vocab: tok.VocabSize(), Embed: o.Embd, Hidden: hidden[0], Layers: o.Layers,
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
	if runDir, err = startRun(runDir, dataStem(o.Data), resume, o); err != nil {
		return err
	}
	var tb strings.Builder
	if err := tokenizer.Save(&tb, tok); err != nil {
		return err
	}
	mb, _ := json.Marshal(rnnClassifierMeta{Kind: "rnn-classifier", Config: cfg, Labels: classes, Window: window})
	fmt.Fprintf(stderr, "%s: %d training and %d validation texts, classes %s; vocabulary %d; %s classifier of %d parameters; run folder %s\n",
		o.Data, trainSet.Len(), valSet.Len(), strings.Join(classes, ", "), tok.VocabSize(), strings.ToUpper(o.Model),
		nn.NumParams(nn.Params(model)), runDir)
	return fitAndReport(ctx, o, supervisedRun{
		model: model, opt: opt, head: rnnHead(len(classes)), classes: classes,
		meta:   map[string]string{metaModel: string(mb), metaTokenizer: tb.String()},
		runDir: runDir, resume: resume, trainSet: trainSet, valSet: valSet, testSet: &data.Dataset{},
	}, stdout, stderr)
}

// loadRNNClassifier loads a checkpoint of moxing train --model lstm|gru|rnn.
func loadRNNClassifier(path string) (*textClassifier, error) {
	f, err := checkpoint.Load(path)
	if err != nil {
		return nil, err
	}
	var mm rnnClassifierMeta
	if err := json.Unmarshal([]byte(f.Metadata[metaModel]), &mm); err != nil || mm.Kind != "rnn-classifier" {
		return nil, fmt.Errorf("%s: not a recurrent classifier checkpoint", path)
	}
	tok, err := tokenizer.Load(strings.NewReader(f.Metadata[metaTokenizer]))
	if err != nil {
		return nil, fmt.Errorf("%s: tokenizer: %w", path, err)
	}
	if tok.VocabSize() > mm.Config.Vocab || len(mm.Labels) < 2 || mm.Window < 1 {
		return nil, fmt.Errorf("%s: metadata does not fit the model (tokenizer of %d tokens, %d labels, window %d)", path, tok.VocabSize(), len(mm.Labels), mm.Window)
	}
	m, err := rnn.NewClassifier(mm.Config, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := checkpoint.Assign(nn.Params(m), train.ModelTensors(f.Tensors), true); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &textClassifier{model: m, tok: tok, labels: mm.Labels, window: mm.Window, head: rnnHead(len(mm.Labels))}, nil
}
