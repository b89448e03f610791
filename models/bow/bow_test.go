package bow

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
)

// The vectorizer's rows are scikit-learn's TfidfVectorizer's
// (testdata/tfidf.json, tools/reference/tfidf.py): the same n-grams, the
// same vocabulary size, the same values to float32 precision, and n-grams
// the fit never saw dropped.
func TestVectorizerMatchesScikitLearn(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/tfidf.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Cases []struct {
			Name       string               `json:"name"`
			Analyzer   string               `json:"analyzer"`
			Range      [2]int               `json:"ngram_range"`
			Sublinear  bool                 `json:"sublinear_tf"`
			Fit        []string             `json:"fit"`
			Texts      []string             `json:"texts"`
			Rows       []map[string]float64 `json:"rows"`
			Vocabulary int                  `json:"vocabulary"`
		}
	}
	if err := json.Unmarshal(raw, &golden); err != nil {
		t.Fatal(err)
	}
	if len(golden.Cases) < 3 {
		t.Fatalf("%d cases", len(golden.Cases))
	}
	for _, c := range golden.Cases {
		f := Features{Sublinear: c.Sublinear}
		prefix := "w "
		if c.Analyzer == "char_wb" {
			f.Chars, prefix = c.Range, "c "
		} else {
			f.Words = c.Range
		}
		v, err := Fit(f, c.Fit)
		if err != nil {
			t.Fatal(err)
		}
		if v.Len() != c.Vocabulary {
			t.Errorf("%s: %d features, scikit-learn %d", c.Name, v.Len(), c.Vocabulary)
		}
		for j, text := range c.Texts {
			ids, vals := v.Transform(text)
			got := map[string]float64{}
			for k, id := range ids {
				got[strings.TrimPrefix(v.Terms[id], prefix)] = float64(vals[k])
			}
			want := c.Rows[j]
			if len(got) != len(want) {
				t.Errorf("%s: text %q: %d features, scikit-learn %d: %v vs %v", c.Name, text, len(got), len(want), got, want)
				continue
			}
			for term, w := range want {
				if g, ok := got[term]; !ok || math.Abs(g-w) > 1e-6 {
					t.Errorf("%s: text %q: %q is %v, scikit-learn %v", c.Name, text, term, g, w)
				}
			}
		}
	}
}

// Hashed features fold the n-grams into 2^bits features; the word and the
// character parts of a row are each of unit norm.
func TestHashedFeatures(t *testing.T) {
	v, err := Fit(Features{Words: [2]int{1, 2}, Chars: [2]int{2, 3}, HashBits: 16, Sublinear: true}, []string{"good food here", "bad food there"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Len() != 1<<16 || len(v.Terms) != 0 {
		t.Fatalf("%d features, %d terms", v.Len(), len(v.Terms))
	}
	ids, vals := v.Transform("good food, never seen before")
	var norm float64
	for k, id := range ids {
		if id < 0 || id >= 1<<16 || k > 0 && id <= ids[k-1] {
			t.Fatalf("ids %v", ids)
		}
		norm += float64(vals[k] * vals[k])
	}
	if math.Abs(norm-2) > 0.05 { // two unit parts, nearly orthogonal (a bucket may hold both)
		t.Errorf("norm² %v", norm)
	}
}

func TestFeaturesValidate(t *testing.T) {
	for _, f := range []Features{{}, {Words: [2]int{2, 1}}, {Chars: [2]int{0, 3}}, {Words: [2]int{1, 1}, HashBits: 30}, {Words: [2]int{1, 40}}} {
		if f.Validate() == nil {
			t.Errorf("%+v: no error", f)
		}
	}
	if _, err := Fit(Features{Words: [2]int{1, 1}, MinDF: 5}, []string{"a b", "c d"}); err == nil {
		t.Error("a vocabulary of nothing: no error")
	}
}

// The linear model's logits are x·W + b for the TF-IDF row x, the
// fastText-style model's (x·E)·W + b, for a batch of rows of different
// lengths (one empty).
func TestForward(t *testing.T) {
	v, err := Fit(Features{Words: [2]int{1, 1}, Sublinear: true}, []string{"red green blue", "green green", "blue sky"})
	if err != nil {
		t.Fatal(err)
	}
	docs := []string{"red sky", "green", "nothing known", "blue blue green"}
	x, lengths := v.Rows(docs)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, dim := range []int{0, 3} {
		m, err := New(Config{Features: v.Len(), Classes: 3, Dim: dim}, rng)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range nn.Params(m) {
			for i := range p.Data {
				p.Data[i] = float32(rng.NormFloat64())
			}
		}
		got := m.Forward(x)
		for r, d := range docs {
			ids, vals := v.Transform(d)
			if len(ids) != lengths[r] {
				t.Fatalf("row %d: length %d, %d features", r, lengths[r], len(ids))
			}
			dense := make([]float64, v.Len())
			for k, id := range ids {
				dense[id] = float64(vals[k])
			}
			h, width := dense, v.Len()
			if dim > 0 {
				h, width = make([]float64, dim), dim
				for j := range dim {
					for f := range dense {
						h[j] += dense[f] * float64(m.Embed.Data[f*dim+j])
					}
				}
			}
			for c := range 3 {
				want := float64(m.Bias.Data[c])
				for j := range width {
					want += h[j] * float64(m.Weight.Data[j*3+c])
				}
				if g := float64(got.Data[r*3+c]); math.Abs(g-want) > 1e-5 {
					t.Errorf("dim %d: logit (%d, %d) is %v, want %v", dim, r, c, g, want)
				}
			}
		}
	}
}

// A checkpoint with the card loads back to the same model and vectorizer;
// a card whose vectorizer does not fit the model is refused.
func TestLoad(t *testing.T) {
	v, _ := Fit(Features{Words: [2]int{1, 2}, Chars: [2]int{2, 3}, Sublinear: true}, []string{"good food", "bad food"})
	m, _ := New(Config{Features: v.Len(), Classes: 2, Dim: 4}, rand.New(rand.NewPCG(3, 4)))
	p := &Pretrained{Model: m, Vectorizer: v, Labels: []string{"neg", "pos"}}
	card, err := p.Card()
	if err != nil {
		t.Fatal(err)
	}
	load := func(meta map[string]string) (*Pretrained, error) {
		var buf bytes.Buffer
		ts := map[string]*tensor.Tensor{}
		for _, q := range nn.Params(m) {
			ts[q.Name] = q.Tensor
		}
		if err := checkpoint.Write(&buf, ts, meta); err != nil {
			t.Fatal(err)
		}
		h, err := checkpoint.ReadHeader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		c, err := checkpoint.ReadCard(h.Metadata, checkpoint.MetaCard)
		if err != nil {
			t.Fatal(err)
		}
		return Load(c, h)
	}
	back, err := load(card.Metadata(checkpoint.MetaCard))
	if err != nil {
		t.Fatal(err)
	}
	x, _ := v.Rows([]string{"good food", "bad"})
	a, b := m.Forward(x), back.Model.Forward(x)
	for i := range a.Data {
		if a.Data[i] != b.Data[i] {
			t.Fatalf("logit %d: %v loaded, %v before", i, b.Data[i], a.Data[i])
		}
	}
	bad := card.Metadata(checkpoint.MetaCard)
	bad[MetaVectorizer] = strings.Replace(bad[MetaVectorizer], `"idf":[`, `"idf":[0.5,`, 1)
	if _, err := load(bad); err == nil {
		t.Error("a vectorizer of one more IDF than terms: no error")
	}
}
