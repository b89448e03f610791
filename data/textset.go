package data

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/tokenizer"
)

// Pad packs token sequences into a (len(seqs), longest) batch, as sequence
// classifiers (gpt.Classifier, rnn.Classifier) read it: ids as float32
// (exact below 2²⁴), each row padded on the right with -1.
func Pad(seqs [][]int) *tensor.Tensor {
	t := 0
	for _, s := range seqs {
		t = max(t, len(s))
	}
	x := tensor.Full(-1, len(seqs), t)
	for i, s := range seqs {
		for j, id := range s {
			x.Data[i*t+j] = float32(id)
		}
	}
	return x
}

// EncodeTexts tokenizes the texts of ex with tok into a Dataset of padded
// id rows (see Pad) for a sequence classifier with a context of window
// tokens: a text longer than the window keeps its first window tokens, and
// cut counts such texts, so that the caller can say so. Lines numbers the
// texts from 1 and Lengths holds their token counts (for batching by
// length); Labels is left nil (see Labels and LabelIndex). Errors name the
// source (name) and the text's Where: a text that does not encode, or one
// with no tokens; no texts at all.
func EncodeTexts(tok tokenizer.Tokenizer, ex []TextExample, window int, name string) (d *Dataset, cut int, err error) {
	if window < 1 {
		return nil, 0, fmt.Errorf("data: a window of %d tokens: want at least 1", window)
	}
	if len(ex) == 0 {
		return nil, 0, fmt.Errorf("%s: no texts", name)
	}
	seqs := make([][]int, len(ex))
	lines, lengths := make([]int, len(ex)), make([]int, len(ex))
	for i, e := range ex {
		ids, err := tok.Encode(e.Text)
		if err != nil {
			return nil, 0, fmt.Errorf("%s %s: %w", name, e.Where, err)
		}
		if len(ids) == 0 {
			return nil, 0, fmt.Errorf("%s %s: the text has no tokens", name, e.Where)
		}
		if len(ids) > window {
			ids, cut = ids[:window], cut+1
		}
		seqs[i], lines[i], lengths[i] = ids, i+1, len(ids)
	}
	return &Dataset{X: Pad(seqs), Lines: lines, Lengths: lengths}, cut, nil
}

// LabelIndex returns the index in classes of each example's label, as
// Labels does for the training texts: it maps validation or test texts to
// the training classes. An error names the source (name), the text's Where
// and the label that is not one of classes.
func LabelIndex(ex []TextExample, classes []string, name string) ([]int, error) {
	index := map[string]int{}
	for i, c := range classes {
		index[c] = i
	}
	y := make([]int, len(ex))
	for i, e := range ex {
		k, ok := index[e.Label]
		if !ok {
			return nil, fmt.Errorf("%s %s: label %q is not one of the training labels (%s)", name, e.Where, e.Label, strings.Join(classes, ", "))
		}
		y[i] = k
	}
	return y, nil
}

// ClassWeights returns the loss weight of each of the classes from spec:
//
//   - "": no weights (nil);
//   - "balanced": n/(K·n_k) for class k, from the training labels (n
//     labels, K classes, n_k labels of class k), as scikit-learn's
//     class_weight="balanced"; an error names a class no label has;
//   - K comma-separated non-negative numbers, in the order of classes.
//
// Labels are class indices in [0, K). Errors quote spec.
func ClassWeights(spec string, labels []int, classes []string) ([]float32, error) {
	switch spec {
	case "":
		return nil, nil
	case "balanced":
		counts := make([]int, len(classes))
		for i, y := range labels {
			if y < 0 || y >= len(classes) {
				return nil, fmt.Errorf("class weights balanced: label %d of text %d is not a class index (%d classes)", y, i+1, len(classes))
			}
			counts[y]++
		}
		w := make([]float32, len(classes))
		for k, n := range counts {
			if n == 0 {
				return nil, fmt.Errorf("class weights balanced: no training text has the label %q", classes[k])
			}
			w[k] = float32(len(labels)) / float32(len(classes)*n)
		}
		return w, nil
	}
	parts := strings.Split(spec, ",")
	if len(parts) != len(classes) {
		return nil, fmt.Errorf("class weights %q: %d weights for %d classes (%s)", spec, len(parts), len(classes), strings.Join(classes, ", "))
	}
	w := make([]float32, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, fmt.Errorf("class weights %q: %q is not a non-negative number", spec, p)
		}
		w[i] = float32(v)
	}
	return w, nil
}

// TrainValSplit splits the labelled rows of d into training and validation
// sets, stratified by d.Labels and seeded by rng (see Split): about val of
// each class goes to validation. It is an error for val to lie outside
// (0, 1), or to leave no row for training or none for validation.
func TrainValSplit(d *Dataset, val float64, rng *rand.Rand) (trainSet, valSet *Dataset, err error) {
	if !(val > 0 && val < 1) {
		return nil, nil, fmt.Errorf("data: validation fraction %g: want a fraction in (0, 1)", val)
	}
	tr, va, _, err := Split(d.Len(), d.Labels, val, 0, rng)
	if err != nil {
		return nil, nil, err
	}
	if len(va) == 0 {
		return nil, nil, fmt.Errorf("data: a validation fraction of %g leaves no validation rows out of %d", val, d.Len())
	}
	return d.Subset(tr), d.Subset(va), nil
}

// TextSets are labelled texts encoded for a sequence classifier (see
// ReadTextSets).
type TextSets struct {
	Train, Val *Dataset
	Classes    []string // the training labels, sorted
	Cut        int      // texts longer than the window, cut to it
}

// ReadTextSets reads the labelled texts of the file at path (see
// ReadTextExamples), encodes them with tok for a window of window tokens
// (see EncodeTexts) and splits them: the texts of valPath for validation
// when it is not "", else val of them, stratified and drawn with rng.
func ReadTextSets(tok tokenizer.Tokenizer, window int, path, valPath string, opt TextOptions, val float64, rng *rand.Rand) (*TextSets, error) {
	ex, err := ReadTextFile(path, opt)
	if err != nil {
		return nil, err
	}
	s := &TextSets{}
	var labels []int
	if s.Classes, labels, err = Labels(ex, path); err != nil {
		return nil, err
	}
	all, cut, err := EncodeTexts(tok, ex, window, path)
	if err != nil {
		return nil, err
	}
	all.Labels, s.Cut = labels, cut
	if valPath == "" {
		s.Train, s.Val, err = TrainValSplit(all, val, rng)
		return s, err
	}
	vex, err := ReadTextFile(valPath, opt)
	if err != nil {
		return nil, err
	}
	if s.Val, cut, err = EncodeTexts(tok, vex, window, valPath); err != nil {
		return nil, err
	}
	s.Train, s.Cut = all, s.Cut+cut
	if s.Val.Labels, err = LabelIndex(vex, s.Classes, valPath); err != nil {
		return nil, err
	}
	return s, nil
}

// ReadTextLines reads unlabelled texts, one a line, from r; blank lines
// are skipped and each text is trimmed. name labels errors; a line over
// MaxRowBytes is one.
func ReadTextLines(r io.Reader, name string) ([]TextExample, error) {
	var ex []TextExample
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, MaxRowBytes)
	for n := 1; sc.Scan(); n++ {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			ex = append(ex, TextExample{Text: line, Where: fmt.Sprintf("line %d", n)})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return ex, nil
}

// ReadTextFile reads the labelled (or, with NoLabels, plain) texts of the
// file at path: see ReadTextExamples.
func ReadTextFile(path string, opt TextOptions) ([]TextExample, error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadTextExamples(f, path, opt)
}
