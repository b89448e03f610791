package tensor_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/tensor/tensortest"
)

// attentionComposed is CausalSelfAttention built from primitives, as a
// GPT's attention is usually written; with a dropout mask (B, H, T, T) of
// 0 and 1/(1-p) (nil: none), it is CausalSelfAttentionDropout.
func attentionComposed(qkv *tensor.Tensor, h int, dropMask *tensor.Tensor) *tensor.Tensor {
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
	if dropMask != nil {
		att = att.Mul(dropMask)
	}
	return att.MatMul(heads(2)).Permute(0, 2, 1, 3).Reshape(b, t, c)
}

func TestCausalSelfAttentionMatchesComposed(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, sz := range [][4]int{{1, 1, 4, 1}, {2, 5, 12, 3}, {3, 17, 16, 2}, {2, 40, 48, 4}} {
		b, tt, c, h := sz[0], sz[1], sz[2], sz[3]
		x := tensor.Randn(rng, b, tt, 3*c)
		fx, cx := x.Clone().RequireGrad(), x.Clone().RequireGrad()
		fy, cy := tensor.CausalSelfAttention(fx, h), attentionComposed(cx, h, nil)
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

// Attending in pieces with a KV cache (a prompt, then one position at a
// time) gives what CausalSelfAttention gives on the whole sequence, and so
// does a ragged call where sequences at different positions share a call.
func TestCausalSelfAttentionCached(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	for _, sz := range [][4]int{{1, 1, 4, 1}, {2, 5, 12, 3}, {3, 17, 16, 2}} {
		b, tt, c, h := sz[0], sz[1], sz[2], sz[3]
		x := tensor.Randn(rng, b, tt, 3*c)
		want := tensor.CausalSelfAttention(x, h) // (B, T, C)
		keys, values := tensor.Zeros(b, h, tt+3, c/h), tensor.Zeros(b, h, tt+3, c/h)
		var pieces []*tensor.Tensor
		for pos, n := 0, (tt+1)/2; pos < tt; pos, n = pos+n, 1 {
			var segs []tensor.AttnSegment
			for i := range b {
				segs = append(segs, tensor.AttnSegment{Slot: i, Pos: pos, Rows: n})
			}
			pieces = append(pieces, tensor.CausalSelfAttentionCached(x.Slice(1, pos, pos+n), h, keys, values, segs))
		}
		if err := tensortest.AllClose(tensor.Concat(1, pieces...), want, 1e-5, 1e-5); err != nil {
			t.Fatalf("%v: %v", sz, err)
		}
	}

	// Three sequences of lengths 7, 3 and 5 in slots 2, 0 and 1, fed in
	// ragged calls: each call takes one to three new positions of each
	// sequence not yet done, in a changing order.
	c, h := 8, 2
	lengths, slotOf := []int{7, 3, 5}, []int{2, 0, 1}
	xs, wants := make([]*tensor.Tensor, 3), make([]*tensor.Tensor, 3)
	for i, l := range lengths {
		xs[i] = tensor.Randn(rng, 1, l, 3*c)
		wants[i] = tensor.CausalSelfAttention(xs[i], h)
	}
	keys, values := tensor.Zeros(3, h, 8, c/h), tensor.Zeros(3, h, 8, c/h)
	done, got := make([]int, 3), make([][]float32, 3)
	for call := 0; done[0] < 7 || done[1] < 3 || done[2] < 5; call++ {
		var segs []tensor.AttnSegment
		var rows []*tensor.Tensor
		for k := range 3 {
			i := (k + call) % 3
			if done[i] == lengths[i] {
				continue
			}
			n := min(1+(call+i)%3, lengths[i]-done[i])
			segs = append(segs, tensor.AttnSegment{Slot: slotOf[i], Pos: done[i], Rows: n})
			rows = append(rows, xs[i].Slice(1, done[i], done[i]+n))
		}
		y := tensor.CausalSelfAttentionCached(tensor.Concat(1, rows...), h, keys, values, segs) // (1, N, C)
		r := 0
		for _, g := range segs {
			i := slices.Index(slotOf, g.Slot)
			got[i] = append(got[i], y.Data[r*c:(r+g.Rows)*c]...)
			r += g.Rows
			done[i] += g.Rows
		}
	}
	for i := range 3 {
		if err := tensortest.AllClose(tensor.New(got[i], 1, lengths[i], c), wants[i], 1e-5, 1e-5); err != nil {
			t.Fatalf("ragged sequence %d: %v", i, err)
		}
	}

	small := tensor.Zeros(1, 2, 4, 2)
	mustPanic(t, func() {
		tensor.CausalSelfAttentionCached(tensor.Zeros(1, 3, 12), 2, small, small, []tensor.AttnSegment{{Slot: 0, Pos: 2, Rows: 3}})
	}, "CausalSelfAttentionCached", "segment 0")
	mustPanic(t, func() {
		tensor.CausalSelfAttentionCached(tensor.Zeros(1, 1, 12).RequireGrad(), 2, small, small, []tensor.AttnSegment{{Rows: 1}})
	}, "CausalSelfAttentionCached", "gradient")
	mustPanic(t, func() {
		tensor.CausalSelfAttentionCached(tensor.Zeros(1, 2, 12), 2, small, small, []tensor.AttnSegment{{Rows: 1}, {Rows: 1}})
	}, "CausalSelfAttentionCached", "at most once")
	mustPanic(t, func() {
		tensor.CausalSelfAttentionCached(tensor.Zeros(1, 3, 12), 2, small, small, []tensor.AttnSegment{{Rows: 1}})
	}, "CausalSelfAttentionCached", "3 rows for segments of 1")
}

// attentionDropMasks are the masks (B, H, T, T) that
// CausalSelfAttentionDropout draws for seed.
func attentionDropMasks(b, h, t int, p float32, seed uint64) *tensor.Tensor {
	mask := tensor.Zeros(b, h, t, t)
	for bh := range b * h {
		tensor.AttentionDropMask(mask.Data[bh*t*t:(bh+1)*t*t], t, p, seed, bh)
	}
	return mask
}

func TestCausalSelfAttentionDropout(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	const p = 0.3
	for _, sz := range [][4]int{{1, 1, 4, 1}, {2, 5, 12, 3}, {3, 17, 16, 2}, {2, 40, 48, 4}} {
		b, tt, c, h := sz[0], sz[1], sz[2], sz[3]
		x := tensor.Randn(rng, b, tt, 3*c)
		seed := uint64(len(sz) * tt)
		fx, cx := x.Clone().RequireGrad(), x.Clone().RequireGrad()
		// The op draws its seed from the rng it is given: give it one that
		// draws seed first.
		fy := tensor.CausalSelfAttentionDropout(fx, h, p, rand.New(constSource(seed)))
		cy := attentionComposed(cx, h, attentionDropMasks(b, h, tt, p, seed))
		if err := tensortest.AllClose(fy, cy, 1e-5, 1e-5); err != nil {
			t.Fatalf("%v: forward: %v", sz, err)
		}
		up := tensor.Randn(rng, b, tt, c)
		fy.BackwardWith(up)
		cy.BackwardWith(up)
		if err := tensortest.AllClose(fx.Grad, cx.Grad, 1e-4, 1e-5); err != nil {
			t.Fatalf("%v: gradient: %v", sz, err)
		}
		if tt <= 17 {
			f := func(in ...*tensor.Tensor) *tensor.Tensor {
				return tensor.CausalSelfAttentionDropout(in[0], h, p, rand.New(constSource(seed)))
			}
			if err := tensortest.GradCheck(f, []*tensor.Tensor{x.Clone().RequireGrad()}, tensortest.Options{}); err != nil {
				t.Fatalf("%v: %v", sz, err)
			}
		}
	}
	// About p of the causal weights are dropped.
	const n = 64
	m := make([]float32, n*n)
	tensor.AttentionDropMask(m, n, p, 7, 3)
	dropped := 0
	for i := 0; i < n; i++ {
		for j := 0; j <= i; j++ {
			switch m[i*n+j] {
			case 0:
				dropped++
			case 1 / (1 - p):
			default:
				t.Fatalf("mask value %v at (%d, %d): want 0 or 1/(1-p)", m[i*n+j], i, j)
			}
		}
		for j := i + 1; j < n; j++ {
			if m[i*n+j] != 0 {
				t.Fatalf("mask above the diagonal at (%d, %d)", i, j)
			}
		}
	}
	if frac := float64(dropped) / (n * (n + 1) / 2); math.Abs(frac-p) > 0.03 {
		t.Fatalf("dropped %.3f of the weights, want about %v", frac, p)
	}
	x := tensor.Randn(rng, 2, 6, 12)
	y0 := tensor.CausalSelfAttentionDropout(x, 2, 0, rng)
	if err := tensortest.AllClose(y0, tensor.CausalSelfAttention(x, 2), 0, 0); err != nil {
		t.Fatalf("p = 0: %v", err)
	}
	mustPanic(t, func() { tensor.CausalSelfAttentionDropout(x, 2, 1, rng) }, "probability")
}

// constSource is a rand.Source whose every draw is its value.
type constSource uint64

func (s constSource) Uint64() uint64 { return uint64(s) }
