package tensor_test

import (
	"math/rand/v2"
	"testing"

	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/tensor/tensortest"
)

// The fused cells against the same step composed from primitives: outputs,
// every gradient, and finite differences.
func TestRecurrentCells(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const b, h = 3, 5
	lstmRef := func(x ...*tensor.Tensor) *tensor.Tensor {
		g := x[0].Add(x[1])
		i, f := g.Slice(1, 0, h).Sigmoid(), g.Slice(1, h, 2*h).Sigmoid()
		u, o := g.Slice(1, 2*h, 3*h).Tanh(), g.Slice(1, 3*h, 4*h).Sigmoid()
		c := f.Mul(x[2]).Add(i.Mul(u))
		return tensor.Concat(1, o.Mul(c.Tanh()), c)
	}
	gruRef := func(x ...*tensor.Tensor) *tensor.Tensor {
		gx, gh, hp := x[0], x[1], x[2]
		r := gx.Slice(1, 0, h).Add(gh.Slice(1, 0, h)).Sigmoid()
		z := gx.Slice(1, h, 2*h).Add(gh.Slice(1, h, 2*h)).Sigmoid()
		n := gx.Slice(1, 2*h, 3*h).Add(r.Mul(gh.Slice(1, 2*h, 3*h))).Tanh()
		return n.Add(z.Mul(hp.Sub(n)))
	}
	for _, c := range []struct {
		name     string
		gates    int
		fused    func(x ...*tensor.Tensor) *tensor.Tensor
		composed func(x ...*tensor.Tensor) *tensor.Tensor
	}{
		{"lstm", 4, func(x ...*tensor.Tensor) *tensor.Tensor { return tensor.LSTMCell(x[0], x[1], x[2]) }, lstmRef},
		{"gru", 3, func(x ...*tensor.Tensor) *tensor.Tensor { return tensor.GRUCell(x[0], x[1], x[2]) }, gruRef},
	} {
		mk := func() []*tensor.Tensor {
			r := rand.New(rand.NewPCG(5, 6))
			return []*tensor.Tensor{
				tensor.Randn(r, b, c.gates*h).RequireGrad(), tensor.Randn(r, b, c.gates*h).RequireGrad(), tensor.Randn(r, b, h).RequireGrad(),
			}
		}
		seed := tensor.Randn(rng, b, map[int]int{4: 2 * h, 3: h}[c.gates])
		xs, ys := mk(), mk()
		got, want := c.fused(xs...), c.composed(ys...)
		if err := tensortest.AllClose(got, want, 1e-5, 1e-6); err != nil {
			t.Fatalf("%s forward: %v", c.name, err)
		}
		got.BackwardWith(seed)
		want.BackwardWith(seed)
		for i := range xs {
			if err := tensortest.AllClose(xs[i].Grad, ys[i].Grad, 1e-4, 1e-6); err != nil {
				t.Errorf("%s gradient of input %d: %v", c.name, i, err)
			}
		}
		if err := tensortest.GradCheck(c.fused, mk(), tensortest.Options{}); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
