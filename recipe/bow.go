package recipe

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/models/bow"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/train"
)

// bowRecipe is Train --arch bow: a bag-of-n-grams classifier on a labelled
// text file, its TF-IDF fitted on the training texts alone.
func bowRecipe(o TrainOptions, log io.Writer) (*supervised, error) {
	feat := bow.Features{HashBits: o.HashBits, MinDF: o.MinDF, Sublinear: !o.RawTF}
	var err error
	if feat.Words, err = ngramRange("--word-ngrams", o.WordNgrams); err != nil {
		return nil, err
	}
	if feat.Chars, err = ngramRange("--char-ngrams", o.CharNgrams); err != nil {
		return nil, err
	}
	if err := feat.Validate(); err != nil {
		return nil, &OptionError{err.Error()}
	}
	topt := data.TextOptions{TextField: o.TextField, LabelField: o.LabelField}
	ex, err := data.ReadTextFile(o.Data, topt)
	if err != nil {
		return nil, err
	}
	classes, labels, err := data.Labels(ex, o.Data)
	if err != nil {
		return nil, err
	}
	var trainEx, valEx []data.TextExample
	var trainY, valY []int
	if o.ValData == "" {
		tr, va, _, err := data.Split(len(ex), labels, o.Val, 0, rand.New(rand.NewPCG(o.Seed, 1)))
		if err != nil {
			return nil, err
		}
		if len(va) == 0 {
			return nil, optionf("--val %g leaves no validation texts out of %d", o.Val, len(ex))
		}
		for _, i := range tr {
			trainEx, trainY = append(trainEx, ex[i]), append(trainY, labels[i])
		}
		for _, i := range va {
			valEx, valY = append(valEx, ex[i]), append(valY, labels[i])
		}
	} else {
		trainEx, trainY = ex, labels
		if valEx, err = data.ReadTextFile(o.ValData, topt); err != nil {
			return nil, err
		}
		if valY, err = data.LabelIndex(valEx, classes, o.ValData); err != nil {
			return nil, err
		}
	}
	vec, err := bow.Fit(feat, texts(trainEx))
	if err != nil {
		return nil, err
	}
	cfg := bow.Config{Features: vec.Len(), Classes: len(classes), Dim: o.Dim}
	model, err := bow.New(cfg, rand.New(rand.NewPCG(o.Seed, 2)))
	if err != nil {
		return nil, &OptionError{err.Error()}
	}
	opt, err := newOptimizer(o, nn.Params(model))
	if err != nil {
		return nil, err
	}
	card, err := (&bow.Pretrained{Model: model, Vectorizer: vec, Labels: classes}).Card()
	if err != nil {
		return nil, err
	}
	trainSet, valSet := bowRows(vec, trainEx), bowRows(vec, valEx)
	trainSet.Labels, valSet.Labels = trainY, valY
	kind := "linear"
	if o.Dim > 0 {
		kind = fmt.Sprintf("fastText-style (dim %d)", o.Dim)
	}
	return &supervised{
		model: model, opt: opt, head: train.Head{Task: data.Classification, Classes: len(classes), PerClassLogits: true}, classes: classes, card: card,
		trainSet: trainSet, valSet: valSet, testSet: &data.Dataset{},
		about: fmt.Sprintf("%s: %d training and %d validation texts, classes %s; %d n-gram features; %s bag-of-n-grams classifier of %d parameters",
			o.Data, trainSet.Len(), valSet.Len(), strings.Join(classes, ", "), vec.Len(), kind, nn.NumParams(nn.Params(model))),
	}, nil
}

// ngramRange parses "MIN,MAX" (or "N" for N,N; "" for none).
func ngramRange(flag, s string) ([2]int, error) {
	if s == "" || s == "0" {
		return [2]int{}, nil
	}
	n, err := parseInts(s)
	if err != nil || len(n) < 1 || len(n) > 2 {
		return [2]int{}, optionf("%s %q: want MIN,MAX (such as 1,2) or N", flag, s)
	}
	if len(n) == 1 {
		n = append(n, n[0])
	}
	return [2]int{n[0], n[1]}, nil
}

func texts(ex []data.TextExample) []string {
	t := make([]string, len(ex))
	for i, e := range ex {
		t[i] = e.Text
	}
	return t
}

// bowRows is ex as a bag-of-n-grams classifier's rows, one a text.
func bowRows(v *bow.Vectorizer, ex []data.TextExample) *data.Dataset {
	x, _ := v.Rows(texts(ex))
	lines := make([]int, len(ex))
	for i := range lines {
		lines[i] = i + 1
	}
	return &data.Dataset{X: x, Lines: lines}
}
