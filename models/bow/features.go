// Package bow is the bag-of-n-grams text classifier: word and character
// n-grams of a text weighted by TF-IDF (fitted on the training texts), and
// a linear model on them, or a fastText-style one (the n-grams' embeddings
// averaged by their weights, then a linear layer). It is the model people
// reach for first on a few thousand labelled texts: it trains in seconds
// and, on small data, beats a Transformer trained from scratch.
package bow

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/moxing/moxing/tensor"
)

// Features says which n-grams a text is made of and how they are weighted,
// as scikit-learn's TfidfVectorizer does with these settings.
type Features struct {
	// Words is the range of word n-grams (n from Words[0] to Words[1]);
	// {0, 0} for none. Words are runs of two or more letters, digits or
	// underscores, lowercased (scikit-learn's token_pattern), and an
	// n-gram is n consecutive words joined by a space.
	Words [2]int `json:"words"`
	// Chars is the range of character n-grams within word boundaries
	// (scikit-learn's char_wb: each whitespace-separated word, lowercased
	// and padded with a space on each side); {0, 0} for none.
	Chars [2]int `json:"chars"`
	// HashBits, when positive, hashes every n-gram into 2^HashBits
	// features (FNV-1a) instead of keeping a vocabulary of the training
	// n-grams: for vocabularies too large to keep.
	HashBits int `json:"hash_bits,omitempty"`
	// MinDF drops n-grams seen in fewer training texts (vocabulary only).
	MinDF int `json:"min_df,omitempty"`
	// Sublinear uses 1 + ln(count) as an n-gram's term frequency.
	Sublinear bool `json:"sublinear_tf"`
}

// Validate reports settings that describe no features.
func (f Features) Validate() error {
	for _, r := range []struct {
		name string
		v    [2]int
	}{{"word", f.Words}, {"character", f.Chars}} {
		if r.v != [2]int{} && (r.v[0] < 1 || r.v[1] < r.v[0] || r.v[1] > 16) {
			return fmt.Errorf("bow: %s n-grams %d to %d: want 1 ≤ min ≤ max ≤ 16", r.name, r.v[0], r.v[1])
		}
	}
	switch {
	case f.Words == [2]int{} && f.Chars == [2]int{}:
		return fmt.Errorf("bow: neither word nor character n-grams: a text would have no features")
	case f.HashBits < 0 || f.HashBits > 24:
		return fmt.Errorf("bow: %d hash bits: want 1 to 24 (0: a vocabulary)", f.HashBits)
	case f.MinDF < 0:
		return fmt.Errorf("bow: min_df %d: want at least 0", f.MinDF)
	}
	return nil
}

// terms calls add for each n-gram of text (repeats included).
func (f Features) terms(text string, add func(term string)) {
	text = strings.ToLower(text)
	if f.Words != [2]int{} {
		var words []string
		start := -1
		for i, r := range text + " " {
			if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || unicode.Is(unicode.Mn, r) {
				if start < 0 {
					start = i
				}
				continue
			}
			if start >= 0 {
				if w := text[start:i]; utf8.RuneCountInString(w) >= 2 {
					words = append(words, w)
				}
				start = -1
			}
		}
		for n := f.Words[0]; n <= f.Words[1]; n++ {
			for i := 0; i+n <= len(words); i++ {
				add("w " + strings.Join(words[i:i+n], " "))
			}
		}
	}
	if f.Chars != [2]int{} {
		for _, w := range strings.Fields(text) {
			r := []rune(" " + w + " ")
			for n := f.Chars[0]; n <= f.Chars[1]; n++ {
				if len(r) <= n { // the whole padded word, once
					add("c " + string(r))
					break
				}
				for i := 0; i+n <= len(r); i++ {
					add("c " + string(r[i:i+n]))
				}
			}
		}
	}
}

// Vectorizer maps texts to TF-IDF rows: the Features, and what was fitted
// on the training texts (the vocabulary and each feature's inverse
// document frequency). Safe for concurrent use once fitted.
type Vectorizer struct {
	Features Features  `json:"features"`
	Terms    []string  `json:"terms,omitempty"` // the vocabulary, by feature index (none when hashed)
	IDF      []float32 `json:"idf"`             // ln((1+n)/(1+df)) + 1, by feature index
	index    map[string]int
}

// Fit learns a vectorizer's vocabulary and IDF from texts: every n-gram of
// them (those in at least MinDF texts), sorted, or 2^HashBits hashed
// features. The IDF is smoothed as scikit-learn's: ln((1+n)/(1+df)) + 1
// for n texts, df of which hold the feature.
func Fit(f Features, texts []string) (*Vectorizer, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	v := &Vectorizer{Features: f}
	n := float64(len(texts))
	idf := func(d int) float32 { return float32(math.Log((1+n)/(1+float64(d))) + 1) }
	if f.HashBits > 0 {
		df := make([]int, 1<<f.HashBits)
		seen := map[int]bool{}
		for _, t := range texts {
			clear(seen)
			f.terms(t, func(term string) { seen[v.hash(term)] = true })
			for i := range seen {
				df[i]++
			}
		}
		v.IDF = make([]float32, len(df))
		for i, d := range df {
			v.IDF[i] = idf(d)
		}
		return v, nil
	}
	df := map[string]int{}
	seen := map[string]bool{}
	for _, t := range texts {
		clear(seen)
		f.terms(t, func(term string) {
			if !seen[term] {
				seen[term] = true
				df[term]++
			}
		})
	}
	for term, d := range df {
		if d >= f.MinDF {
			v.Terms = append(v.Terms, term)
		}
	}
	if len(v.Terms) == 0 {
		return nil, fmt.Errorf("bow: the %d training texts have no n-gram in at least %d of them", len(texts), f.MinDF)
	}
	if len(v.Terms) >= 1<<24 {
		return nil, fmt.Errorf("bow: %d n-grams: over the 2^24 a vocabulary may hold; hash them (hash bits) or raise min_df", len(v.Terms))
	}
	slices.Sort(v.Terms)
	for _, term := range v.Terms {
		v.IDF = append(v.IDF, idf(df[term]))
	}
	return v, v.init()
}

// init builds the vocabulary's index after Fit or decoding, and checks
// that the fitted parts agree.
func (v *Vectorizer) init() error {
	if err := v.Features.Validate(); err != nil {
		return err
	}
	if v.Features.HashBits > 0 {
		if len(v.IDF) != 1<<v.Features.HashBits || len(v.Terms) > 0 {
			return fmt.Errorf("bow: %d hashed features with %d IDF values and %d terms", 1<<v.Features.HashBits, len(v.IDF), len(v.Terms))
		}
		return nil
	}
	if len(v.Terms) != len(v.IDF) || len(v.Terms) == 0 {
		return fmt.Errorf("bow: %d terms with %d IDF values", len(v.Terms), len(v.IDF))
	}
	v.index = make(map[string]int, len(v.Terms))
	for i, t := range v.Terms {
		v.index[t] = i
	}
	return nil
}

// Len is the number of features.
func (v *Vectorizer) Len() int { return len(v.IDF) }

// hash is term's feature: FNV-1a (32 bits) of its bytes, masked to
// HashBits.
func (v *Vectorizer) hash(term string) int {
	h := uint32(2166136261)
	for i := 0; i < len(term); i++ {
		h = (h ^ uint32(term[i])) * 16777619
	}
	return int(h & (1<<v.Features.HashBits - 1))
}

// Transform returns text's TF-IDF row, sparse: its features in increasing
// order and their values, tf·idf scaled to unit L2 norm, the word and the
// character n-grams each on their own (as scikit-learn's FeatureUnion of
// the two vectorizers: the row's norm is then √2). N-grams outside the
// vocabulary are dropped; a text with none gives an empty row.
func (v *Vectorizer) Transform(text string) (ids []int, vals []float32) {
	parts := [2]map[int]int{{}, {}} // word, character n-gram counts by feature
	v.Features.terms(text, func(term string) {
		part := parts[0]
		if term[0] == 'c' {
			part = parts[1]
		}
		if v.Features.HashBits > 0 {
			part[v.hash(term)]++
		} else if i, ok := v.index[term]; ok {
			part[i]++
		}
	})
	row := map[int]float32{}
	for _, counts := range parts {
		var norm float64
		x := make(map[int]float32, len(counts))
		for i, n := range counts {
			tf := float64(n)
			if v.Features.Sublinear {
				tf = 1 + math.Log(tf)
			}
			x[i] = float32(tf) * v.IDF[i]
			norm += float64(x[i]) * float64(x[i])
		}
		s := float32(1 / math.Sqrt(norm))
		for i, xi := range x {
			row[i] += xi * s
		}
	}
	for i := range row {
		ids = append(ids, i)
	}
	slices.Sort(ids)
	for _, i := range ids {
		vals = append(vals, row[i])
	}
	return ids, vals
}

// Rows is texts as the model's input: (len(texts), 2L) for the longest
// row's L features, each row its feature ids (as float32: exact below
// 2^24) then their values, padded with id -1 and value 0. lengths is each
// row's count of features.
func (v *Vectorizer) Rows(texts []string) (x *tensor.Tensor, lengths []int) {
	ids := make([][]int, len(texts))
	vals := make([][]float32, len(texts))
	width := 1
	for i, t := range texts {
		ids[i], vals[i] = v.Transform(t)
		width = max(width, len(ids[i]))
		lengths = append(lengths, len(ids[i]))
	}
	data := make([]float32, len(texts)*2*width)
	for i := range texts {
		row := data[i*2*width : (i+1)*2*width]
		for j := range width {
			row[j] = -1
		}
		for j, id := range ids[i] {
			row[j], row[width+j] = float32(id), vals[i][j]
		}
	}
	return tensor.New(data, len(texts), 2*width), lengths
}
