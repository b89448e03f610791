package tensor_test

import (
	"math/rand/v2"
	"runtime"
	"slices"
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

// Linear is MatMulT then Add of the bias, forward and backward, for both
// weight layouts, with and without a bias, on matrices and batches of rows.
func TestLinearMatchesComposed(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, shape := range [][]int{{1, 1}, {5, 7}, {2, 3, 33}, {4, 17, 64}} {
		k := shape[len(shape)-1]
		for _, n := range []int{1, 9, 48} {
			for _, transW := range []bool{false, true} {
				for _, bias := range []string{"none", "row", "full"} {
					x := tensor.Randn(rng, shape...)
					w := tensor.Randn(rng, k, n)
					if transW {
						w = tensor.Randn(rng, n, k)
					}
					var b *tensor.Tensor
					in := []*tensor.Tensor{x, w}
					switch bias {
					case "row":
						b = tensor.Randn(rng, n)
					case "full":
						b = tensor.Randn(rng, append(append([]int(nil), shape[:len(shape)-1]...), n)...)
					}
					if b != nil {
						in = append(in, b)
					}
					fused := func(in ...*tensor.Tensor) *tensor.Tensor {
						var bias *tensor.Tensor
						if len(in) == 3 {
							bias = in[2]
						}
						return in[0].Linear(in[1], bias, transW)
					}
					composed := func(in ...*tensor.Tensor) *tensor.Tensor {
						y := in[0].MatMulT(in[1], false, transW)
						if len(in) == 3 {
							y = y.Add(in[2])
						}
						return y
					}
					name := []any{shape, n, transW, bias}
					fin, cin := cloneAll(in), cloneAll(in)
					fy, cy := fused(fin...), composed(cin...)
					if err := tensortest.AllClose(fy, cy, 1e-5, 1e-5); err != nil {
						t.Fatalf("%v: forward: %v", name, err)
					}
					up := tensor.Randn(rng, fy.Shape()...)
					fy.BackwardWith(up)
					cy.BackwardWith(up)
					for i := range fin {
						if err := tensortest.AllClose(fin[i].Grad, cin[i].Grad, 1e-4, 1e-5); err != nil {
							t.Fatalf("%v: gradient of input %d: %v", name, i, err)
						}
					}
					if len(x.Data) <= 200 {
						if err := tensortest.GradCheck(fused, cloneAll(in), tensortest.Options{}); err != nil {
							t.Fatalf("%v: %v", name, err)
						}
					}
				}
			}
		}
	}
	mustPanic(t, func() { tensor.Zeros(2, 3).Linear(tensor.Zeros(4, 5), nil, false) }, "Linear", "[2 3]")
	mustPanic(t, func() { tensor.Zeros(2, 3).Linear(tensor.Zeros(3, 5), tensor.Zeros(4), false) }, "Linear", "[4]")
	mustPanic(t, func() { tensor.Zeros(2, 3).Linear(tensor.Zeros(3, 5), tensor.Zeros(5, 2), false) }, "Linear", "[5 2]")
}

func cloneAll(ts []*tensor.Tensor) []*tensor.Tensor {
	out := make([]*tensor.Tensor, len(ts))
	for i, t := range ts {
		out[i] = t.Clone().RequireGrad()
	}
	return out
}

// TestLogSoftmaxGather checks the fused pick against LogSoftmax then
// Gather composed from primitives, outputs and gradients (on rows split
// across threads too, and with the input's gradient reached twice, so
// that one contribution is written and the other added), then against
// finite differences, and that bad indices panic.
func TestLogSoftmaxGather(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, shape := range [][2]int{{1, 1}, {3, 7}, {5, 100}, {64, 4096}} {
		n, c := shape[0], shape[1]
		idx := make([]int, n)
		for i := range idx {
			idx[i] = rng.IntN(c)
		}
		x := tensor.Randn(rng, n, c).MulScalar(3)
		up := tensor.Randn(rng, n, 1)
		fused := func(x ...*tensor.Tensor) *tensor.Tensor { return x[0].LogSoftmaxGather(idx) }
		composed := func(x ...*tensor.Tensor) *tensor.Tensor { return logSoftmaxComposed(x[0]).Gather(1, idx) }
		fx, cx := x.Clone().RequireGrad(), x.Clone().RequireGrad()
		fy, cy := fused(fx), composed(cx)
		if err := tensortest.AllClose(fy, cy, 1e-5, 1e-5); err != nil {
			t.Fatalf("%v: forward: %v", shape, err)
		}
		// Reached twice: the pick's gradient and a plain sum's.
		fy.Mul(up).Sum(false).Add(fx.Sum(false)).Backward()
		cy.Mul(up).Sum(false).Add(cx.Sum(false)).Backward()
		if err := tensortest.AllClose(fx.Grad, cx.Grad, 1e-4, 1e-5); err != nil {
			t.Fatalf("%v: gradient: %v", shape, err)
		}
		if n*c <= 500 {
			if err := tensortest.GradCheck(fused, []*tensor.Tensor{x.Clone().RequireGrad()}, tensortest.Options{}); err != nil {
				t.Fatalf("%v: %v", shape, err)
			}
		}
	}
	for _, bad := range [][]int{{0, 7}, {-1, 0}, {0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("LogSoftmaxGather(%v) on (2, 7) did not panic", bad)
				}
			}()
			tensor.Zeros(2, 7).LogSoftmaxGather(bad)
		}()
	}
}

// TestLayerNormChunked checks LayerNorm's backward where it splits rows
// into chunks with partial weight and bias gradients: against the composed
// twin, and the same bits on one thread as on two.
func TestLayerNormChunked(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	const rows, c = 300, 512 // 5 chunks of up to 64 rows
	x, w, b, up := tensor.Randn(rng, rows, c), tensor.Randn(rng, c), tensor.Randn(rng, c), tensor.Randn(rng, rows, c)
	grads := func() []*tensor.Tensor {
		in := []*tensor.Tensor{x.Clone().RequireGrad(), w.Clone().RequireGrad(), b.Clone().RequireGrad()}
		in[0].LayerNorm(in[1], in[2], 1e-5).BackwardWith(up)
		return []*tensor.Tensor{in[0].Grad, in[1].Grad, in[2].Grad}
	}
	in := []*tensor.Tensor{x.Clone().RequireGrad(), w.Clone().RequireGrad(), b.Clone().RequireGrad()}
	layerNormComposed(in[0], in[1], in[2], 1e-5).BackwardWith(up)
	got := grads()
	for i := range got {
		if err := tensortest.AllClose(got[i], in[i].Grad, 1e-3, 1e-4); err != nil {
			t.Fatalf("gradient of input %d: %v", i, err)
		}
	}
	prev := runtime.GOMAXPROCS(1)
	one := grads()
	runtime.GOMAXPROCS(max(prev, 2))
	two := grads()
	runtime.GOMAXPROCS(prev)
	for i := range one {
		if !slices.Equal(one[i].Data, two[i].Data) {
			t.Fatalf("gradient of input %d differs between one thread and two", i)
		}
	}
}
