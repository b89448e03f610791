package data_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/tokenizer"
)

func TestPad(t *testing.T) {
	for _, tc := range []struct {
		name  string
		seqs  [][]int
		shape []int
		want  []float32
	}{
		{"ragged", [][]int{{1, 2, 3}, {4}, {5, 6}}, []int{3, 3}, []float32{1, 2, 3, 4, -1, -1, 5, 6, -1}},
		{"equal", [][]int{{7, 0}, {0, 7}}, []int{2, 2}, []float32{7, 0, 0, 7}},
		{"one", [][]int{{9}}, []int{1, 1}, []float32{9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := data.Pad(tc.seqs)
			if !slices.Equal(x.Shape(), tc.shape) || !slices.Equal(x.Data, tc.want) {
				t.Errorf("Pad = %v %v, want %v %v", x.Shape(), x.Data, tc.shape, tc.want)
			}
		})
	}
}

func charTok(t *testing.T) tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.NewChar("abcdefgh ")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestEncodeTexts(t *testing.T) {
	tok := charTok(t)
	ex := []data.TextExample{{Text: "abc", Where: "line 2"}, {Text: "abcdefgh", Where: "line 3"}, {Text: "h", Where: "line 4"}}
	for _, tc := range []struct {
		name    string
		window  int
		cut     int
		lengths []int
		width   int
	}{
		{"fits", 8, 0, []int{3, 8, 1}, 8},
		{"cuts_one", 5, 1, []int{3, 5, 1}, 5},
		{"cuts_two", 2, 2, []int{2, 2, 1}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, cut, err := data.EncodeTexts(tok, ex, tc.window, "t.csv")
			if err != nil {
				t.Fatal(err)
			}
			if cut != tc.cut || !slices.Equal(d.Lengths, tc.lengths) || !slices.Equal(d.Lines, []int{1, 2, 3}) ||
				!slices.Equal(d.X.Shape(), []int{3, tc.width}) || d.Labels != nil {
				t.Errorf("cut %d, lengths %v, lines %v, shape %v, labels %v", cut, d.Lengths, d.Lines, d.X.Shape(), d.Labels)
			}
			ids, _ := tok.Encode("abc")
			for j, id := range ids[:min(len(ids), tc.window)] {
				if d.X.Data[j] != float32(id) {
					t.Errorf("row 0 = %v, want ids %v", d.X.Data[:tc.width], ids)
				}
			}
		})
	}
}

func TestEncodeTextsErrors(t *testing.T) {
	tok := charTok(t)
	for _, tc := range []struct {
		name   string
		ex     []data.TextExample
		window int
		want   string
	}{
		{"unknown_char", []data.TextExample{{Text: "abc", Where: "line 2"}, {Text: "axz", Where: "line 3"}}, 4, "t.csv line 3: "},
		{"no_tokens", []data.TextExample{{Text: "", Where: "record 1"}}, 4, "t.csv record 1: the text has no tokens"},
		{"no_texts", nil, 4, "t.csv: no texts"},
		{"bad_window", []data.TextExample{{Text: "a"}}, 0, "window of 0 tokens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := data.EncodeTexts(tok, tc.ex, tc.window, "t.csv")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLabelIndex(t *testing.T) {
	classes := []string{"neg", "pos"}
	for _, tc := range []struct {
		name   string
		labels []string
		want   []int
		err    string
	}{
		{"known", []string{"pos", "neg", "pos"}, []int{1, 0, 1}, ""},
		{"unknown", []string{"pos", "meh"}, nil, `v.jsonl line 2: label "meh" is not one of the training labels (neg, pos)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ex []data.TextExample
			for i, l := range tc.labels {
				ex = append(ex, data.TextExample{Text: "x", Label: l, Where: "line " + string(rune('1'+i))})
			}
			got, err := data.LabelIndex(ex, classes, "v.jsonl")
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Errorf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestClassWeights(t *testing.T) {
	classes := []string{"a", "b", "c"}
	labels := []int{0, 0, 0, 1, 1, 2} // 6 labels: 3, 2, 1
	for _, tc := range []struct {
		name, spec string
		labels     []int
		want       []float32
		err        string
	}{
		{"none", "", labels, nil, ""},
		{"balanced", "balanced", labels, []float32{6.0 / 9, 6.0 / 6, 6.0 / 3}, ""},
		{"list", "1, 2.5,0", labels, []float32{1, 2.5, 0}, ""},
		{"balanced_missing_class", "balanced", []int{0, 1}, nil, `no training text has the label "c"`},
		{"balanced_bad_label", "balanced", []int{0, 3}, nil, "label 3 of text 2 is not a class index"},
		{"too_few", "1,2", labels, nil, `class weights "1,2": 2 weights for 3 classes (a, b, c)`},
		{"negative", "1,-2,3", labels, nil, `"-2" is not a non-negative number`},
		{"not_a_number", "1,x,3", labels, nil, `"x" is not a non-negative number`},
		{"infinite", "1,inf,3", labels, nil, `"inf" is not a non-negative number`},
		{"nan", "1,NaN,3", labels, nil, `"NaN" is not a non-negative number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := data.ClassWeights(tc.spec, tc.labels, classes)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestTrainValSplit(t *testing.T) {
	tok := charTok(t)
	var ex []data.TextExample
	var labels []int
	for i := range 20 {
		ex = append(ex, data.TextExample{Text: strings.Repeat("a", 1+i%5)})
		labels = append(labels, i%4/3) // 15 of class 0, 5 of class 1
	}
	d, _, err := data.EncodeTexts(tok, ex, 8, "t")
	if err != nil {
		t.Fatal(err)
	}
	d.Labels = labels
	tr, va, err := data.TrainValSplit(d, 0.2, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	count := func(s *data.Dataset, k int) int {
		n := 0
		for _, l := range s.Labels {
			if l == k {
				n++
			}
		}
		return n
	}
	if tr.Len() != 16 || va.Len() != 4 || count(va, 1) != 1 || count(va, 0) != 3 || len(va.Lengths) != 4 {
		t.Errorf("train %d, validation %d (%d of class 1), lengths %v", tr.Len(), va.Len(), count(va, 1), va.Lengths)
	}
	seen := map[int]bool{}
	for _, s := range []*data.Dataset{tr, va} {
		for _, l := range s.Lines {
			if seen[l] {
				t.Errorf("line %d is in both sets", l)
			}
			seen[l] = true
		}
	}
	again, _, _ := data.TrainValSplit(d, 0.2, rand.New(rand.NewPCG(1, 1)))
	if !slices.Equal(again.Lines, tr.Lines) {
		t.Error("the same seed split differently")
	}

	for _, tc := range []struct {
		name string
		val  float64
		rows int
		want string
	}{
		{"zero", 0, 20, "validation fraction 0"},
		{"one", 1, 20, "validation fraction 1"},
		{"negative", -0.5, 20, "validation fraction -0.5"},
		{"nan", math.NaN(), 20, "validation fraction NaN"},
		{"too_few_rows", 0.2, 2, "leaves no validation rows out of 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := make([]int, tc.rows)
			for i := range rows {
				rows[i] = i
			}
			_, _, err := data.TrainValSplit(d.Subset(rows), tc.val, rand.New(rand.NewPCG(1, 1)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
