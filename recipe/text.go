package recipe

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

// textRNNRecipe is Train --arch lstm|gru|rnn: a recurrent text classifier
// trained from scratch on a labelled text file, with a BPE vocabulary
// learned from its texts or another model's tokenizer.
func textRNNRecipe(ctx context.Context, o TrainOptions, log io.Writer) (*supervised, error) {
	topt := data.TextOptions{TextField: o.TextField, LabelField: o.LabelField}
	ex, err := data.ReadTextFile(o.Data, topt)
	if err != nil {
		return nil, err
	}
	var tok tokenizer.Tokenizer
	if o.TokenizerFrom != "" {
		if tok, err = tokenizerOf(o.TokenizerFrom); err != nil {
			return nil, err
		}
	} else {
		// A BPE vocabulary learned from the training texts alone.
		var corpus strings.Builder
		for _, e := range ex {
			corpus.WriteString(e.Text)
			corpus.WriteByte('\n')
		}
		if tok, err = tokenizer.TrainBPE(ctx, corpus.String(), o.Vocab); err != nil {
			return nil, err
		}
	}
	window := max(o.Window, 1)
	trainSet, valSet, classes, err := textSets(tok, window, o.Data, o.ValData, topt, o.Val, o.Seed, log)
	if err != nil {
		return nil, err
	}
	hidden, err := parseInts(o.Hidden)
	if err != nil || len(hidden) != 1 {
		return nil, optionf("--hidden %q: want one number of hidden units for --model %s", o.Hidden, o.Arch)
	}
	cfg := rnn.Config{Kind: nn.RNNKind(o.Arch), Vocab: tok.VocabSize(), Embed: o.Embd, Hidden: hidden[0], Layers: o.Layers,
		Bidirectional: o.Bidirectional, Dropout: float32(o.Dropout), Classes: len(classes)}
	if cfg.Classes == 2 {
		cfg.Classes = 1
	}
	model, err := rnn.NewClassifier(cfg, rand.New(rand.NewPCG(o.Seed, 2)))
	if err != nil {
		return nil, &OptionError{err.Error()}
	}
	opt, err := newOptimizer(o, nn.Params(model))
	if err != nil {
		return nil, err
	}
	card, err := (&rnn.Pretrained{Classifier: model, Labels: classes, Tokenizer: tok, Window: window}).Card()
	if err != nil {
		return nil, err
	}
	return &supervised{
		model: model, opt: opt, head: train.Head{Task: data.Classification, Classes: len(classes)}, classes: classes, card: card,
		trainSet: trainSet, valSet: valSet, testSet: &data.Dataset{},
		about: fmt.Sprintf("%s: %d training and %d validation texts, classes %s; vocabulary %d; %s classifier of %d parameters",
			o.Data, trainSet.Len(), valSet.Len(), strings.Join(classes, ", "), tok.VocabSize(), strings.ToUpper(o.Arch),
			nn.NumParams(nn.Params(model))),
	}, nil
}

// tokenizerOf returns the tokenizer of the text model at path (see
// load.Open), or an error saying what the model is instead.
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

// textSets is data.ReadTextSets with notes on log for characters the
// vocabulary lacks and texts cut to the window.
func textSets(tok tokenizer.Tokenizer, window int, dataPath, valPath string, topt data.TextOptions, val float64, seed uint64, log io.Writer) (trainSet, valSet *data.Dataset, classes []string, err error) {
	lossy := tokenizer.NewLossy(tok)
	s, err := data.ReadTextSets(lossy, window, dataPath, valPath, topt, val, rand.New(rand.NewPCG(seed, 1)))
	noteReplaced(log, lossy, dataPath)
	if err != nil {
		return nil, nil, nil, err
	}
	if s.Cut > 0 {
		fmt.Fprintf(log, "note: %d texts are longer than the model's window of %d tokens; their first %d tokens are used\n", s.Cut, window, window)
	}
	return s.Train, s.Val, s.Classes, nil
}

// noteReplaced says on log, in one line, how many characters of what a
// character vocabulary lacked (they became tokenizer.Unknown).
func noteReplaced(log io.Writer, l *tokenizer.Lossy, what string) {
	if n := l.Replaced(); n > 0 {
		fmt.Fprintf(log, "note: %d characters of %s are not in the model's vocabulary; they were read as the unknown character U+FFFD\n", n, what)
	}
}

// classifierHead is the training head of a text classifier.
func classifierHead(g *load.TextClassifier) train.Head {
	return train.Head{Task: data.Classification, Classes: len(g.Labels), PerClassLogits: g.PerClassLogits}
}

// encodeTexts is data.EncodeTexts for g, with notes on log for characters
// the vocabulary lacks and texts cut to the window.
func encodeTexts(g *load.TextClassifier, ex []data.TextExample, name string, log io.Writer) (*data.Dataset, error) {
	if g.Features != nil {
		if len(ex) == 0 {
			return nil, fmt.Errorf("%s: no texts", name)
		}
		return bowRows(g.Features, ex), nil
	}
	lossy := tokenizer.NewLossy(g.Tokenizer)
	d, cut, err := data.EncodeTexts(lossy, ex, g.Window, name)
	noteReplaced(log, lossy, name)
	if cut > 0 {
		fmt.Fprintf(log, "note: %d of %d texts in %s are longer than the model's window of %d tokens; their first %d tokens are used\n",
			cut, len(ex), name, g.Window, g.Window)
	}
	return d, err
}

// ClassifyTexts runs the text classifier g on the texts ex (from name, for
// messages): the most likely label and every label's probability of each.
// Notes on characters the vocabulary lacks and texts cut to the window go
// to log.
func ClassifyTexts(g *load.TextClassifier, ex []data.TextExample, name string, log io.Writer) (train.Predictions, error) {
	d, err := encodeTexts(g, ex, name, logger(log))
	if err != nil {
		return train.Predictions{}, err
	}
	return classifierHead(g).Predict(g.Model, d), nil
}

// EvaluateTexts is the text classifier g's report on the labelled text
// file at path (its fields as topt says): accuracy, precision, recall, F1,
// ROC AUC, log-loss and the confusion matrix. Notes go to log.
func EvaluateTexts(g *load.TextClassifier, path string, topt data.TextOptions, log io.Writer) (*Evaluation, error) {
	ex, err := data.ReadTextFile(path, topt)
	if err != nil {
		return nil, err
	}
	d, err := encodeTexts(g, ex, path, logger(log))
	if err != nil {
		return nil, err
	}
	if d.Labels, err = data.LabelIndex(ex, g.Labels, path); err != nil {
		return nil, err
	}
	rep, err := classifierHead(g).Evaluate(g.Model, d)
	return &Evaluation{Report: rep, Rows: d.Len(), Classes: g.Labels}, err
}
