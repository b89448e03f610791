package tensor_test

import (
	"math/rand/v2"
	"testing"

	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/tensor/tensortest"
)

// The composed twins of the fused ops, written from primitives only.
func geluComposed(x *tensor.Tensor) *tensor.Tensor {
	inner := x.Add(x.Pow(3).MulScalar(0.044715)).MulScalar(0.7978845608028654)
	return x.MulScalar(0.5).Mul(inner.Tanh().AddScalar(1))
}

func softmaxComposed(x *tensor.Tensor) *tensor.Tensor {
	e := x.Sub(x.Detach().Max(true, -1)).Exp()
	return e.Div(e.Sum(true, -1))
}

func logSoftmaxComposed(x *tensor.Tensor) *tensor.Tensor {
	z := x.Sub(x.Detach().Max(true, -1))
	return z.Sub(z.Exp().Sum(true, -1).Log())
}

func layerNormComposed(x, w, b *tensor.Tensor, eps float32) *tensor.Tensor {
	xc := x.Sub(x.Mean(true, -1))
	v := xc.Mul(xc).Mean(true, -1)
	return xc.Div(v.AddScalar(eps).Sqrt()).Mul(w).Add(b)
}

// TestFusedMatchComposed checks each fused op against its composition from
// primitives: outputs and every input gradient, for several shapes, then
// against finite differences.
func TestFusedMatchComposed(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, shape := range [][]int{{1, 1}, {3, 7}, {2, 3, 33}, {4, 64}} {
		c := shape[len(shape)-1]
		for _, tc := range []struct {
			name            string
			fused, composed func(xs ...*tensor.Tensor) *tensor.Tensor
			inputs          []*tensor.Tensor
		}{
			{"gelu", func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].GELU() },
				func(x ...*tensor.Tensor) *tensor.Tensor { return geluComposed(x[0]) },
				[]*tensor.Tensor{tensor.Randn(rng, shape...).MulScalar(2)}},
			{"softmax", func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].Softmax(-1) },
				func(x ...*tensor.Tensor) *tensor.Tensor { return softmaxComposed(x[0]) },
				[]*tensor.Tensor{tensor.Randn(rng, shape...).MulScalar(3)}},
			{"log_softmax", func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].LogSoftmax(-1) },
				func(x ...*tensor.Tensor) *tensor.Tensor { return logSoftmaxComposed(x[0]) },
				[]*tensor.Tensor{tensor.Randn(rng, shape...).MulScalar(3)}},
			{"layer_norm", func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].LayerNorm(x[1], x[2], 1e-5) },
				func(x ...*tensor.Tensor) *tensor.Tensor { return layerNormComposed(x[0], x[1], x[2], 1e-5) },
				[]*tensor.Tensor{tensor.Randn(rng, shape...).MulScalar(2).AddScalar(1), tensor.Randn(rng, c), tensor.Randn(rng, c)}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.name == "layer_norm" && c == 1 {
					return // a single value normalises to 0 whatever it is: no gradient to compare
				}
				leaves := func() []*tensor.Tensor {
					out := make([]*tensor.Tensor, len(tc.inputs))
					for i, x := range tc.inputs {
						out[i] = x.Clone().RequireGrad()
					}
					return out
				}
				fx, cx := leaves(), leaves()
				up := tensor.Randn(rng, shape...)
				fy, cy := tc.fused(fx...), tc.composed(cx...)
				if err := tensortest.AllClose(fy, cy, 1e-5, 1e-6); err != nil {
					t.Fatalf("%v: forward: %v", shape, err)
				}
				fy.BackwardWith(up)
				cy.BackwardWith(up)
				for i := range fx {
					if err := tensortest.AllClose(fx[i].Grad, cx[i].Grad, 1e-4, 1e-5); err != nil {
						t.Fatalf("%v: gradient of input %d: %v", shape, i, err)
					}
				}
				if err := tensortest.GradCheck(tc.fused, leaves(), tensortest.Options{}); err != nil {
					t.Fatalf("%v: %v", shape, err)
				}
			})
		}
	}
}

func TestLayerNormShapeCheck(t *testing.T) {
	mustPanic(t, func() { tensor.Zeros(2, 3).LayerNorm(tensor.Ones(4), tensor.Zeros(4), 1e-5) }, "LayerNorm", "[2 3]", "[4]")
}
