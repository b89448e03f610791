// Package mlp is the multilayer perceptron for tabular data: Linear layers
// with an activation (and optional dropout) between them, giving logits for
// classification or values for regression.
package mlp

import (
	"fmt"
	"math/rand/v2"

	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
)

// Config describes an MLP. It is saved in checkpoints as JSON.
type Config struct {
	Inputs     int     `json:"inputs"`     // input features
	Hidden     []int   `json:"hidden"`     // hidden layer widths, e.g. [64]; empty for a linear model
	Outputs    int     `json:"outputs"`    // logits (1 for binary) or regression values
	Activation string  `json:"activation"` // relu (default), tanh, sigmoid or gelu
	Dropout    float32 `json:"dropout"`    // dropout after each hidden activation, in [0, 1)
}

// Validate reports the first problem with c.
func (c *Config) Validate() error {
	switch {
	case c.Inputs < 1:
		return fmt.Errorf("mlp: %d inputs, want at least 1", c.Inputs)
	case c.Outputs < 1:
		return fmt.Errorf("mlp: %d outputs, want at least 1", c.Outputs)
	case c.Dropout < 0 || c.Dropout >= 1:
		return fmt.Errorf("mlp: dropout %v outside [0, 1)", c.Dropout)
	}
	for _, h := range c.Hidden {
		if h < 1 {
			return fmt.Errorf("mlp: hidden layer width %d, want at least 1", h)
		}
	}
	if c.Activation == "" {
		c.Activation = "relu"
	}
	_, err := nn.Activation(c.Activation)
	return err
}

// Model is an MLP. Its parameters are named by layer index, as
// nn.Sequential: 0.weight, 0.bias, 2.weight, …
type Model struct {
	Config Config         `nn:"-"`
	Net    *nn.Sequential `nn:",inline"`
}

// New builds an MLP from cfg with PyTorch's default Linear initialisation.
func New(cfg Config, rng *rand.Rand) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	act, _ := nn.Activation(cfg.Activation)
	sizes := append(append([]int{cfg.Inputs}, cfg.Hidden...), cfg.Outputs)
	return &Model{Config: cfg, Net: nn.NewMLP(sizes, act, cfg.Dropout, rng)}, nil
}

// Forward maps x (N, Inputs) to (N, Outputs).
func (m *Model) Forward(x *tensor.Tensor) *tensor.Tensor { return m.Net.Forward(x) }
