package bow

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
)

// Kind is the card kind of a bag-of-n-grams classifier.
const Kind = "bow"

// MetaVectorizer is the metadata key of a checkpoint's fitted Vectorizer
// (its JSON).
const MetaVectorizer = "moxing.bow"

// Config is a classifier's shape.
type Config struct {
	Features int `json:"features"` // F: the vectorizer's features
	Classes  int `json:"classes"`  // C: one logit a class (two for two classes)
	// Dim is 0 for a linear model on the TF-IDF row, logits = x·W + b
	// (W (F, C)), or the width of a fastText-style model: the features'
	// embeddings (E (F, Dim)) summed by their TF-IDF weights, then
	// logits = h·W + b (W (Dim, C)).
	Dim int `json:"dim,omitempty"`
}

// Validate reports a config that describes no model.
func (c Config) Validate() error {
	if c.Features < 1 || c.Features >= 1<<24 || c.Classes < 2 || c.Classes > 1<<16 || c.Dim < 0 || c.Dim > 4096 {
		return fmt.Errorf("bow: %d features, %d classes, dim %d: want 1 ≤ features < 2^24, 2 ≤ classes ≤ 65536, 0 ≤ dim ≤ 4096", c.Features, c.Classes, c.Dim)
	}
	return nil
}

// NumParams is the number of parameters of a model of c (a float: a
// hostile config cannot overflow it).
func (c Config) NumParams() float64 {
	f, k, d := float64(c.Features), float64(c.Classes), float64(c.Dim)
	if c.Dim == 0 {
		return f*k + k
	}
	return f*d + d*k + k
}

// Model is the classifier: an nn.Layer from Vectorizer.Rows's rows
// (B, 2L) to logits (B, C).
type Model struct {
	Config Config         `nn:"-"`
	Embed  *tensor.Tensor // (F, Dim); nil for a linear model
	Weight *tensor.Tensor // (F, C) linear, (Dim, C) with embeddings
	Bias   *tensor.Tensor // (C)
}

// New returns a model of cfg: a linear model starts at zero (as logistic
// regression does); embeddings are drawn uniform in ±1/Dim and the output
// layer starts at zero, as fastText's.
func New(cfg Config, rng *rand.Rand) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Model{Config: cfg, Bias: tensor.Zeros(cfg.Classes).RequireGrad()}
	if cfg.Dim == 0 {
		m.Weight = tensor.Zeros(cfg.Features, cfg.Classes).RequireGrad()
		return m, nil
	}
	e := make([]float32, cfg.Features*cfg.Dim)
	for i := range e {
		e[i] = float32((2*rng.Float64() - 1) / float64(cfg.Dim))
	}
	m.Embed = tensor.New(e, cfg.Features, cfg.Dim).RequireGrad()
	m.Weight = tensor.Zeros(cfg.Dim, cfg.Classes).RequireGrad()
	return m, nil
}

// Forward maps rows (B, 2L) of feature ids and values (see
// Vectorizer.Rows) to logits (B, C). It panics on a feature id outside
// the model.
func (m *Model) Forward(x *tensor.Tensor) *tensor.Tensor {
	if x.NDim() != 2 || x.Shape()[1]%2 != 0 {
		panic(fmt.Sprintf("bow: input of shape %v: want (B, 2L)", x.Shape()))
	}
	b, l := x.Shape()[0], x.Shape()[1]/2
	offsets := make([]int, b+1) // row r's n-grams are [offsets[r], offsets[r+1])
	for r := range b {
		row, n := x.Data[r*2*l:r*2*l+l], 0
		for n < l && row[n] >= 0 {
			n++
		}
		offsets[r+1] = offsets[r] + n
	}
	ids, vals := make([]int, offsets[b]), make([]float32, offsets[b])
	for r := range b {
		row, o := x.Data[r*2*l:(r+1)*2*l], offsets[r]
		for j := range offsets[r+1] - o {
			ids[o+j], vals[o+j] = int(row[j]), row[l+j]
		}
	}
	offsets = offsets[:b]
	if m.Embed == nil {
		return tensor.EmbeddingBag(m.Weight, ids, offsets, vals, false).Add(m.Bias)
	}
	h := tensor.EmbeddingBag(m.Embed, ids, offsets, vals, false)
	return h.MatMul(m.Weight).Add(m.Bias)
}

// Pretrained is a classifier as a checkpoint holds it: the model, its
// vectorizer and its labels.
type Pretrained struct {
	Model      *Model
	Vectorizer *Vectorizer
	Labels     []string // class names by logit
}

// Card returns p's model card; its metadata (Card.Metadata) carries the
// vectorizer under MetaVectorizer.
func (p *Pretrained) Card() (*checkpoint.Card, error) {
	c := checkpoint.NewCard(Kind, p.Model.Config)
	c.Labels = p.Labels
	v, err := json.Marshal(p.Vectorizer)
	if err != nil {
		return nil, err
	}
	c.Extra = map[string]string{MetaVectorizer: string(v)}
	return c, nil
}

// Load builds the classifier a card describes and loads its weights from
// the checkpoint whose header is h, checking the card, the vectorizer
// against the config and every tensor's name and shape first.
func Load(card *checkpoint.Card, h *checkpoint.Header) (*Pretrained, error) {
	if card.Kind != Kind {
		return nil, fmt.Errorf("a %q model, not a bag-of-n-grams classifier", card.Kind)
	}
	var cfg Config
	if err := card.DecodeConfig(&cfg); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(card.Labels) != cfg.Classes {
		return nil, fmt.Errorf("bow: %d labels for %d classes", len(card.Labels), cfg.Classes)
	}
	v := new(Vectorizer)
	if err := json.Unmarshal([]byte(card.Extra[MetaVectorizer]), v); err != nil {
		return nil, fmt.Errorf("%s: %w", MetaVectorizer, err)
	}
	if err := v.init(); err != nil {
		return nil, fmt.Errorf("%s: %w", MetaVectorizer, err)
	}
	if v.Len() != cfg.Features {
		return nil, fmt.Errorf("%s: %d features for a model of %d", MetaVectorizer, v.Len(), cfg.Features)
	}
	for i, x := range v.IDF {
		if !(x >= 1) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("%s: IDF %v of feature %d: want a finite value of at least 1", MetaVectorizer, x, i)
		}
	}
	if err := h.CheckSize(cfg.NumParams()); err != nil {
		return nil, err
	}
	m, err := New(cfg, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, err
	}
	if err := h.LoadParams(nn.Params(m)); err != nil {
		return nil, err
	}
	return &Pretrained{Model: m, Vectorizer: v, Labels: card.Labels}, nil
}
