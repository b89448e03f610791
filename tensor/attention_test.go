package tensor_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/tensor/tensortest"
)

// attentionComposed is CausalSelfAttention built from primitives, as a
// GPT's attention is usually written.
func attentionComposed(qkv *tensor.Tensor, h int) *tensor.Tensor {
	b, t, c := qkv.Dim(0), qkv.Dim(1), qkv.Dim(2)/3
	d := c / h
	heads := func(i int) *tensor.Tensor {
		return qkv.Slice(2, i*c, (i+1)*c).Reshape(b, t, h, d).Permute(0, 2, 1, 3) // (B, H, T, D)
	}
	mask := tensor.Zeros(t, t)
	for i := 0; i < t; i++ {
		for j := i + 1; j < t; j++ {
			mask.Data[i*t+j] = 1
		}
	}
	att := heads(0).MatMulT(heads(1), false, true).MulScalar(float32(1 / math.Sqrt(float64(d))))
	att = att.MaskedFill(mask, float32(math.Inf(-1))).Softmax(-1)
	return att.MatMul(heads(2)).Permute(0, 2, 1, 3).Reshape(b, t, c)
}

func TestCausalSelfAttentionMatchesComposed(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, sz := range [][4]int{{1, 1, 4, 1}, {2, 5, 12, 3}, {3, 17, 16, 2}, {2, 40, 48, 4}} {
		b, tt, c, h := sz[0], sz[1], sz[2], sz[3]
		x := tensor.Randn(rng, b, tt, 3*c)
		fx, cx := x.Clone().RequireGrad(), x.Clone().RequireGrad()
		fy, cy := tensor.CausalSelfAttention(fx, h), attentionComposed(cx, h)
		if err := tensortest.AllClose(fy, cy, 1e-5, 1e-5); err != nil {
			t.Fatalf("%v: forward: %v", sz, err)
		}
		if err := tensortest.AllClose(tensor.CausalSelfAttention(x, h), cy, 1e-5, 1e-5); err != nil {
			t.Fatalf("%v: forward without a gradient (no P kept): %v", sz, err)
		}
		up := tensor.Randn(rng, b, tt, c)
		fy.BackwardWith(up)
		cy.BackwardWith(up)
		if err := tensortest.AllClose(fx.Grad, cx.Grad, 1e-4, 1e-5); err != nil {
			t.Fatalf("%v: gradient: %v", sz, err)
		}
		if tt <= 17 {
			f := func(in ...*tensor.Tensor) *tensor.Tensor { return tensor.CausalSelfAttention(in[0], h) }
			if err := tensortest.GradCheck(f, []*tensor.Tensor{x.Clone().RequireGrad()}, tensortest.Options{}); err != nil {
				t.Fatalf("%v: %v", sz, err)
			}
		}
	}
	mustPanic(t, func() { tensor.CausalSelfAttention(tensor.Zeros(2, 3, 10), 2) }, "CausalSelfAttention", "[2 3 10]")
}
