package mlp

import (
	"fmt"
	"math/rand/v2"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/nn"
)

// Kind is the card kind of an MLP checkpoint.
const Kind = "mlp"

// Card returns m's model card. A tabular model's preprocessing (its
// schema) goes into the card's Extra, from the caller.
func (m *Model) Card() *checkpoint.Card { return checkpoint.NewCard(Kind, m.Config) }

// NumParams is the number of parameters of an MLP of c: Σ (in+1)·out over
// its layers, as a float so that a hostile config cannot overflow it.
func (c Config) NumParams() float64 {
	sizes := append(append([]int{c.Inputs}, c.Hidden...), c.Outputs)
	n := 0.0
	for i := 0; i+1 < len(sizes); i++ {
		n += float64(sizes[i]+1) * float64(sizes[i+1])
	}
	return n
}

// Load builds the MLP a card describes and loads its weights from the
// checkpoint whose header is h, checking the card, the config's size and
// every tensor's name and shape from the header before reading any data.
func Load(card *checkpoint.Card, h *checkpoint.Header) (*Model, error) {
	var cfg Config
	if card.Kind != Kind {
		return nil, fmt.Errorf("a %q model, not a tabular MLP", card.Kind)
	}
	if err := card.DecodeConfig(&cfg); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := h.CheckSize(cfg.NumParams()); err != nil {
		return nil, err
	}
	m, err := New(cfg, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, err
	}
	return m, h.LoadParams(nn.Params(m))
}
