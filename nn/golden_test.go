package nn_test

import (
	"fmt"
	"math/rand/v2"
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
	"conv2d": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor {
			l := &nn.Conv2d{Weight: x[1], Opts: convOpts(c)}
			if len(x) > 2 {
				l.Bias = x[2]
			}
			return l.Forward(x[0])
		}
	},
	"max_pool2d": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return (&nn.MaxPool2d{Opts: poolOpts(c)}).Forward(x[0]) }
	},
	"avg_pool2d": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor { return (&nn.AvgPool2d{Opts: poolOpts(c)}).Forward(x[0]) }
	},
	"batch_norm_train": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor {
			bn := nn.NewBatchNorm2d(x[1].Dim(0))
			bn.Weight, bn.Bias, bn.Eps, bn.Momentum, bn.Training = x[1], x[2], c.Float("eps"), c.Float("momentum"), true
			return bn.Forward(x[0])
		}
	},
	"batch_norm_eval": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor {
			bn := nn.NewBatchNorm2d(x[1].Dim(0))
			bn.Weight, bn.Bias, bn.Eps = x[1], x[2], c.Float("eps")
			copy(bn.RunningMean.Data, c.Floats("running_mean"))
			copy(bn.RunningVar.Data, c.Floats("running_var"))
			return bn.Forward(x[0])
		}
	},
	"convnet": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor {
			bn := nn.NewBatchNorm2d(4)
			bn.Weight, bn.Bias = x[3], x[4]
			m := nn.NewSequential(&nn.Conv2d{Weight: x[1], Bias: x[2], Opts: tensor.Conv2dOpts{Padding: [2]int{1, 1}}},
				bn, nn.Tanh{}, &nn.AvgPool2d{Opts: tensor.Pool2dOpts{Kernel: [2]int{2, 2}}}, nn.Flatten{},
				&nn.Linear{Weight: x[5], Bias: x[6]})
			nn.Train(m, rand.New(rand.NewPCG(1, 2)))
			return m.Forward(x[0])
		}
	},
	"recurrent": func(c *tensortest.Case) fn {
		return func(x ...*tensor.Tensor) *tensor.Tensor {
			r := nn.NewRNN(nn.RNNKind(c.Attrs["kind"].(string)), c.Int("input"), c.Int("hidden"), c.Int("layers"), c.Bool("bidirectional"), 0,
				rand.New(rand.NewPCG(1, 2)))
			ps := nn.Params(r)
			names := c.Attrs["names"].([]any)
			if len(ps) != len(names) {
				panic(fmt.Sprintf("%d parameters, PyTorch has %d", len(ps), len(names)))
			}
			states := len(x) - len(ps) - 1
			for i, p := range ps {
				if p.Name != names[i] {
					panic(fmt.Sprintf("parameter %d is %s, PyTorch calls it %s", i, p.Name, names[i]))
				}
			}
			h0 := x[1]
			var c0 *tensor.Tensor
			if states == 2 {
				c0 = x[2]
			}
			// The case's leaves become the weights, so that their gradients
			// are checked (cells in the order of Params).
			k := 1 + states
			for _, cell := range r.Cells {
				cell.WeightIH, cell.WeightHH, cell.BiasIH, cell.BiasHH = x[k], x[k+1], x[k+2], x[k+3]
				k += 4
			}
			var lengths []int
			if c.Attrs["lengths"] != nil {
				lengths = c.Ints("lengths")
			}
			out, hN, cN := r.ForwardState(x[0], lengths, h0, c0)
			parts := []*tensor.Tensor{out.Reshape(-1), hN.Reshape(-1)}
			if cN != nil {
				parts = append(parts, cN.Reshape(-1))
			}
			return tensor.Concat(0, parts...)
		}
	},
}

func convOpts(c *tensortest.Case) tensor.Conv2dOpts {
	two := func(name string) [2]int { v := c.Ints(name); return [2]int{v[0], v[1]} }
	return tensor.Conv2dOpts{Stride: two("stride"), Padding: two("padding"), Dilation: two("dilation"), Groups: c.Int("groups")}
}

func poolOpts(c *tensortest.Case) tensor.Pool2dOpts {
	two := func(name string) [2]int { v := c.Ints(name); return [2]int{v[0], v[1]} }
	return tensor.Pool2dOpts{Kernel: two("kernel"), Stride: two("stride"), Padding: two("padding")}
}

// TestBatchNormRunningStats checks the running statistics after one
// training step against PyTorch's.
func TestBatchNormRunningStats(t *testing.T) {
	cases, err := tensortest.LoadCases("../testdata/nn.json")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range cases {
		if c.Op != "batch_norm_train" {
			continue
		}
		found = true
		bn := nn.NewBatchNorm2d(c.Inputs[1].Dim(0))
		bn.Momentum = c.Float("momentum")
		nn.Train(bn, rand.New(rand.NewPCG(1, 2)))
		if !bn.Training {
			t.Fatal("nn.Train did not put BatchNorm2d in training mode")
		}
		bn.Forward(c.Inputs[0].Detach())
		for name, pair := range map[string][2][]float32{
			"running_mean": {bn.RunningMean.Data, c.Floats("running_mean")},
			"running_var":  {bn.RunningVar.Data, c.Floats("running_var")},
		} {
			got, want := tensor.New(pair[0], len(pair[0])), tensor.New(pair[1], len(pair[1]))
			if err := tensortest.AllClose(got, want, 1e-5, 1e-6); err != nil {
				t.Errorf("%s: %s: %v", c.Name, name, err)
			}
		}
		nn.Eval(bn)
		if bn.Training {
			t.Fatal("nn.Eval left BatchNorm2d in training mode")
		}
	}
	if !found {
		t.Fatal("no batch_norm_train case in testdata/nn.json")
	}
}

// TestGoldenNN checks losses and layers against PyTorch and finite differences.
func TestGoldenNN(t *testing.T) {
	tensortest.RunGolden(t, "../testdata/nn.json", goldenNN, 1e-4, 1e-5)
}
