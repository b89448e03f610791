package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/moxing/moxing/internal/kernel"
)

// CausalSelfAttention is fused multi-head causal self-attention on packed
// queries, keys and values. qkv is (B, T, 3C): for each position, the C
// query channels, then the C key channels, then the C value channels, each
// split into nHead heads of D = C/nHead channels. For each sequence and head,
// with Q, K, V its (T, D) slices:
//
//	P = causal_softmax(Q·Kᵀ/√D)    (T, T), position i attends to j ≤ i
//	Y = P·V                        (T, D)
//
// and the heads are placed side by side in the result (B, T, C). It reads
// Q, K and V in place (no (B, H, T, D) copies) and never builds a masked
// score tensor. Backward, with G = dL/dY:
//
//	dV = Pᵀ·G,  dP = G·Vᵀ,  dS = P ⊙ (dP - rowsum(dP ⊙ P)),
//	dQ = dS·K/√D,  dK = dSᵀ·Q/√D.
//
// It keeps P (B·H·T·T floats) for the backward pass, when there is one;
// inference needs T·T floats per thread. Tested against the
// same computation composed from MatMul, MaskedFill and Softmax.
func CausalSelfAttention(qkv *Tensor, nHead int) *Tensor {
	return causalSelfAttention(qkv, nHead, 0, 0)
}

// CausalSelfAttentionDropout is CausalSelfAttention with dropout on the
// attention weights, as in training GPT-2: with M a mask of independent
// Bernoulli(1-p) draws,
//
//	A = P ⊙ M/(1-p),  Y = A·V,
//
// and backward dV = Aᵀ·G, dP = (G·Vᵀ) ⊙ M/(1-p), then as without dropout.
// The mask is not stored: each (sequence, head) draws it from its own
// stream, seeded by one draw from rng, and backward draws it again, so the
// op keeps only P, like CausalSelfAttention, where composing it from
// primitives keeps a dozen (B, H, T, T) tensors. The result does not depend
// on the number of threads.
func CausalSelfAttentionDropout(qkv *Tensor, nHead int, p float32, rng *rand.Rand) *Tensor {
	if p < 0 || p >= 1 {
		panic(fmt.Sprintf("tensor: CausalSelfAttentionDropout probability %v outside [0, 1)", p))
	}
	if p == 0 {
		return causalSelfAttention(qkv, nHead, 0, 0)
	}
	return causalSelfAttention(qkv, nHead, p, rng.Uint64())
}

// AttnSegment is one sequence's share of a CausalSelfAttentionCached call:
// Rows new positions, the next Rows rows of its input, for cache slot Slot,
// which holds Pos positions before the call.
type AttnSegment struct{ Slot, Pos, Rows int }

// CausalSelfAttentionCached is CausalSelfAttention for decoding with a KV
// cache, for inference only, over a ragged batch: the sequences of one
// call may be at different positions and bring different numbers of new
// positions (a prompt being processed next to sequences decoding one token
// each, as continuous batching needs).
//
// qkv (..., N, 3C) packs the queries, keys and values of N new positions:
// segs[0].Rows rows of the first segment, then the second's, and so on
// (Σ Rows = N). keys and values (Slots, H, S, D) hold each slot's earlier
// positions. For each segment it writes the new keys and values into its
// slot at positions Pos … Pos+Rows-1, and new position i (Pos+i overall)
// attends to the slot's positions j ≤ Pos+i, per head:
//
//	P = causal_softmax(Q·K[0:Pos+Rows]ᵀ/√D)    (Rows, Pos+Rows)
//	Y = P·V[0:Pos+Rows]                         (Rows, D)
//
// It returns (..., N, C). A segment at Pos 0 computes what
// CausalSelfAttention does on its rows. Each row's result depends on its
// own segment alone, not on what else shares the call. It records no
// backward and panics when qkv requires a gradient (see nn.Detach), on two
// segments of one slot, and on a segment outside the cache.
func CausalSelfAttentionCached(qkv *Tensor, nHead int, keys, values *Tensor, segs []AttnSegment) *Tensor {
	if qkv.requiresGrad {
		panic("tensor: CausalSelfAttentionCached has no backward; its input must not require a gradient")
	}
	nd := qkv.NDim()
	if nd < 2 || nHead < 1 || qkv.shape[nd-1]%(3*nHead) != 0 {
		panic(fmt.Sprintf("tensor: CausalSelfAttentionCached of shape %v with %d heads: want (..., N, 3C) with C a multiple of the heads", qkv.shape, nHead))
	}
	c3 := qkv.shape[nd-1]
	n := qkv.Numel() / c3
	c := c3 / 3
	d := c / nHead
	if keys.NDim() != 4 || !sameShape(keys.shape, values.shape) || keys.shape[1] != nHead || keys.shape[3] != d {
		panic(fmt.Sprintf("tensor: CausalSelfAttentionCached of %v with a cache of %v and %v: want (Slots, H, S, D) with H = %d, D = %d", qkv.shape, keys.shape, values.shape, nHead, d))
	}
	slots, s := keys.shape[0], keys.shape[2]
	starts := make([]int, len(segs)) // each segment's first row
	used := make(map[int]bool, len(segs))
	rows := 0
	for i, g := range segs {
		if g.Slot < 0 || g.Slot >= slots || used[g.Slot] || g.Pos < 0 || g.Rows < 1 || g.Pos+g.Rows > s {
			panic(fmt.Sprintf("tensor: CausalSelfAttentionCached segment %d %+v with a cache of %d slots of %d positions (a slot at most once a call)", i, g, slots, s))
		}
		used[g.Slot] = true
		starts[i] = rows
		rows += g.Rows
	}
	if rows != n {
		panic(fmt.Sprintf("tensor: CausalSelfAttentionCached of %d rows for segments of %d", n, rows))
	}
	scale := float32(1 / math.Sqrt(float64(d)))
	outShape := append(append([]int(nil), qkv.shape[:nd-1]...), c)
	out := newOutDirty("CausalSelfAttentionCached", outShape, qkv)
	x, y := qkv.Data, out.Data
	kernel.Parallel(len(segs)*nHead, func(lo, hi int) {
		for gh := lo; gh < hi; gh++ {
			g, h := segs[gh/nHead], gh%nHead
			r0, t, m := starts[gh/nHead], g.Rows, g.Pos+g.Rows // first row, new rows, positions attended
			at := (g.Slot*nHead + h) * s * d
			kc, vc := keys.Data[at:at+s*d], values.Data[at:at+s*d] // (S, D)
			for i := range t {
				row := x[(r0+i)*c3:]
				copy(kc[(g.Pos+i)*d:(g.Pos+i+1)*d], row[c+h*d:])
				copy(vc[(g.Pos+i)*d:(g.Pos+i+1)*d], row[2*c+h*d:])
			}
			buf := kernel.GetBuf(t * m)
			p := *buf   // (T, Pos+T)
			if t == 1 { // decoding: one query, without a GEMM's set-up
				kernel.AttendRow(x[r0*c3+h*d:r0*c3+h*d+d], kc[:m*d], vc[:m*d], scale, p[:m], y[r0*c+h*d:r0*c+h*d+d])
				kernel.PutBuf(buf)
				continue
			}
			kernel.GemmSerial(false, true, t, m, d, scale, x[r0*c3+h*d:], c3, kc, d, 0, p, m) // Q·Kᵀ/√D
			for i := range t {
				row := p[i*m : (i+1)*m]
				kernel.SoftmaxRows(row[:g.Pos+i+1], row[:g.Pos+i+1], g.Pos+i+1)
				clear(row[g.Pos+i+1:])
			}
			kernel.GemmSerial(false, false, t, d, m, 1, p, m, vc, d, 0, y[r0*c+h*d:], c) // P·V
			kernel.PutBuf(buf)
		}
	})
	return out.record(nil)
}

// attentionDropMask fills the causal part of m (T, T) with the dropout mask
// of sequence-and-head bh for seed: 0 for a dropped weight, 1/(1-p) for a
// kept one, row by row, j ≤ i; the rest of m is 0.
func attentionDropMask(m []float32, t int, p float32, seed uint64, bh int) {
	rng := rand.New(rand.NewPCG(seed, uint64(bh)))
	scale := 1 / (1 - p)
	for i := 0; i < t; i++ {
		row := m[i*t : (i+1)*t]
		for j := 0; j <= i; j++ {
			row[j] = 0
			if rng.Float32() >= p {
				row[j] = scale
			}
		}
		clear(row[i+1:])
	}
}

// causalSelfAttention is CausalSelfAttention, with attention dropout of
// probability drop (masks drawn from seed) when drop > 0.
func causalSelfAttention(qkv *Tensor, nHead int, drop float32, seed uint64) *Tensor {
	if qkv.NDim() != 3 || nHead < 1 || qkv.shape[2]%(3*nHead) != 0 {
		panic(fmt.Sprintf("tensor: CausalSelfAttention of shape %v with %d heads: want (B, T, 3C) with C a multiple of the heads", qkv.shape, nHead))
	}
	b, t, c3 := qkv.shape[0], qkv.shape[1], qkv.shape[2]
	c := c3 / 3
	d := c / nHead
	scale := float32(1 / math.Sqrt(float64(d)))
	out := newOut("CausalSelfAttention", []int{b, t, c}, qkv)
	var probs []float32 // P, row-major (B, H, T, T), kept for backward
	if out.requiresGrad {
		probs = scratch(out, b*nHead*t*t)
	}
	x, y := qkv.Data, out.Data
	kernel.Parallel(b*nHead, func(lo, hi int) {
		var buf, dropped *[]float32 // without backward, one (T, T) P at a time; A = P ⊙ M/(1-p)
		if probs == nil {
			buf = kernel.GetBuf(t * t)
			defer kernel.PutBuf(buf)
		}
		if drop > 0 {
			dropped = kernel.GetBuf(t * t)
			defer kernel.PutBuf(dropped)
		}
		for bh := lo; bh < hi; bh++ {
			bi, h := bh/nHead, bh%nHead
			base := bi * t * c3
			q, k, v := x[base+h*d:], x[base+c+h*d:], x[base+2*c+h*d:]
			var p []float32
			if probs != nil {
				p = probs[bh*t*t : (bh+1)*t*t]
			} else {
				p = *buf
			}
			kernel.GemmSerial(false, true, t, t, d, scale, q, c3, k, c3, 0, p, t) // (T, T) = Q·Kᵀ/√D
			kernel.CausalSoftmaxRows(p, t)
			a := p
			if drop > 0 {
				a = *dropped
				attentionDropMask(a, t, drop, seed, bh)
				for i, pv := range p {
					a[i] *= pv
				}
			}
			kernel.GemmSerial(false, false, t, d, t, 1, a, t, v, c3, 0, y[bi*t*c+h*d:], c) // (T, D) = A·V
		}
	})
	return out.record(func() {
		dx, g := gradOf(qkv), out.Grad.Data
		kernel.Parallel(b*nHead, func(lo, hi int) {
			buf := kernel.GetBuf(t * t)
			defer kernel.PutBuf(buf)
			dp := *buf
			var mask, dropped []float32 // M/(1-p) and A, with dropout
			if drop > 0 {
				mb, ab := kernel.GetBuf(t*t), kernel.GetBuf(t*t)
				defer kernel.PutBuf(mb)
				defer kernel.PutBuf(ab)
				mask, dropped = *mb, *ab
			}
			for bh := lo; bh < hi; bh++ {
				bi, h := bh/nHead, bh%nHead
				base := bi * t * c3
				q, k, v := x[base+h*d:], x[base+c+h*d:], x[base+2*c+h*d:]
				dq, dk, dv := dx[base+h*d:], dx[base+c+h*d:], dx[base+2*c+h*d:]
				p := probs[bh*t*t : (bh+1)*t*t]
				a := p
				if drop > 0 {
					attentionDropMask(mask, t, drop, seed, bh)
					for i, pv := range p {
						dropped[i] = pv * mask[i]
					}
					a = dropped
				}
				gy := g[bi*t*c+h*d:]
				kernel.GemmSerial(true, false, t, d, t, 1, a, t, gy, c, 1, dv, c3) // dV += Aᵀ·G
				kernel.GemmSerial(false, true, t, t, d, 1, gy, c, v, c3, 0, dp, t) // dA = G·Vᵀ
				if drop > 0 {
					for i, m := range mask {
						dp[i] *= m // dP = dA ⊙ M/(1-p)
					}
				}
				ds := dp // dS/√D in place: P ⊙ (dP - Σ dP⊙P), scaled here rather than in both products
				for i := 0; i < t; i++ {
					pr, dr := p[i*t:i*t+i+1], ds[i*t:(i+1)*t]
					s := kernel.Dot(pr, dr[:i+1])
					for j, pv := range pr {
						dr[j] = scale * (pv * (dr[j] - s))
					}
					clear(dr[i+1:])
				}
				kernel.GemmSerial(false, false, t, d, t, 1, ds, t, k, c3, 1, dq, c3) // dQ += dS·K/√D
				kernel.GemmSerial(true, false, t, d, t, 1, ds, t, q, c3, 1, dk, c3)  // dK += dSᵀ·Q/√D
			}
		})
	})
}
