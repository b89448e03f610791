package cnn

import (
	"fmt"
	"math/rand/v2"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/nn"
)

// Kind is the card kind of a ConvNet checkpoint.
const Kind = "cnn"

// Card returns m's model card. An image model's preprocessing (its
// standardisation and class names) goes into the card's Extra, from the
// caller.
func (m *Model) Card() *checkpoint.Card { return checkpoint.NewCard(Kind, m.Config) }

// NumParams is the number of values a ConvNet of c holds: its convolutions
// (k²·in·out, plus a bias or a batch norm's weight, bias and running
// statistics) and its fully connected layers. c must be valid. It is a
// float so that a hostile config cannot overflow it.
func (c Config) NumParams() float64 {
	n, in, k := 0.0, float64(c.Channels), float64(c.Kernel)
	for _, o := range c.Conv {
		out := float64(o)
		n += k * k * in * out
		if c.BatchNorm {
			n += 4 * out // weight, bias, running mean and variance
		} else {
			n += out
		}
		in = out
	}
	features, _ := c.features()
	sizes := append(append([]int{features}, c.Hidden...), c.Outputs)
	for i := 0; i+1 < len(sizes); i++ {
		n += float64(sizes[i]+1) * float64(sizes[i+1])
	}
	return n
}

// Load builds the ConvNet a card describes and loads its weights from the
// checkpoint whose header is h, checking the card, the config's size and
// every tensor's name and shape from the header before reading any data.
func Load(card *checkpoint.Card, h *checkpoint.Header) (*Model, error) {
	if card.Kind != Kind {
		return nil, fmt.Errorf("a %q model, not a ConvNet", card.Kind)
	}
	var cfg Config
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
