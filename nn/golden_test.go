package nn_test

import (
	"testing"

	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/tensor/tensortest"
)

type fn = tensortest.Func

// goldenNN maps each op in testdata/nn.json to the nn code under test.
var goldenNN = map[string]func(c *tensortest.Case) fn{
	"mse": func(*tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return nn.MSELoss(x[0], x[1]) }
	},
	"bce_logits": func(*tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return nn.BCEWithLogits(x[0], x[1]) }
	},
	"cross_entropy": func(c *tensortest.Case) fn {
		// PyTorch's ignore_index becomes a negative target here.
		targets := c.Ints("targets")
		for i, y := range targets {
			if y == c.Int("ignore") {
				targets[i] = -1
			}
		}
		return func(x ...*tensor.Tensor) *tensor.Tensor {
			return nn.CrossEntropy(x[0], targets, c.Float("smoothing"))
		}
	},
	"weighted_cross_entropy": func(c *tensortest.Case) fn {
		targets := c.Ints("targets")
		for i, y := range targets {
			if y == c.Int("ignore") {
				targets[i] = -1
			}
		}
		w := c.Floats("weights")
		return func(x ...*tensor.Tensor) *tensor.Tensor { return nn.WeightedCrossEntropy(x[0], targets, w) }
	},
	"linear": func(*tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor {
			l := &nn.Linear{Weight: x[1]}
			if len(x) > 2 {
				l.Bias = x[2]
			}
			return l.Forward(x[0])
		}
	},
	"layer_norm": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor {
			return (&nn.LayerNorm{Weight: x[1], Bias: x[2], Eps: c.Float("eps")}).Forward(x[0])
		}
	},
	"embedding": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor {
			return (&nn.Embedding{Weight: x[0]}).Forward(c.Ints("ids")).Reshape(append(c.Ints("shape"), -1)...)
		}
	},
	"mlp": func(*tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor {
			m := nn.NewSequential(&nn.Linear{Weight: x[1], Bias: x[2]}, nn.ReLU{}, &nn.Linear{Weight: x[3], Bias: x[4]})
			return m.Forward(x[0])
		}
	},
}

// TestGoldenNN checks losses and layers against PyTorch and finite differences.
func TestGoldenNN(t *testing.T) {
	tensortest.RunGolden(t, "../testdata/nn.json", goldenNN, 1e-4, 1e-5)
}
