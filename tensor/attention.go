package tensor

import (
	"fmt"
	"math"

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
		var buf *[]float32 // without backward, one (T, T) P at a time
		if probs == nil {
			buf = kernel.GetBuf(t * t)
			defer kernel.PutBuf(buf)
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
			kernel.GemmSerial(false, false, t, d, t, 1, p, t, v, c3, 0, y[bi*t*c+h*d:], c) // (T, D) = P·V
		}
	})
	return out.record(func() {
		dx, g := gradOf(qkv), out.Grad.Data
		kernel.Parallel(b*nHead, func(lo, hi int) {
			buf := kernel.GetBuf(t * t)
			defer kernel.PutBuf(buf)
			dp := *buf
			for bh := lo; bh < hi; bh++ {
				bi, h := bh/nHead, bh%nHead
				base := bi * t * c3
				q, k, v := x[base+h*d:], x[base+c+h*d:], x[base+2*c+h*d:]
				dq, dk, dv := dx[base+h*d:], dx[base+c+h*d:], dx[base+2*c+h*d:]
				p := probs[bh*t*t : (bh+1)*t*t]
				gy := g[bi*t*c+h*d:]
				kernel.GemmSerial(true, false, t, d, t, 1, p, t, gy, c, 1, dv, c3) // dV += Pᵀ·G
				kernel.GemmSerial(false, true, t, t, d, 1, gy, c, v, c3, 0, dp, t) // dP = G·Vᵀ
				ds := dp                                                           // dS in place: P ⊙ (dP - Σ dP⊙P)
				for i := 0; i < t; i++ {
					pr, dr := p[i*t:i*t+i+1], ds[i*t:(i+1)*t]
					s := kernel.Dot(pr, dr[:i+1])
					for j, pv := range pr {
						dr[j] = pv * (dr[j] - s)
					}
					clear(dr[i+1:])
				}
				kernel.GemmSerial(false, false, t, d, t, scale, ds, t, k, c3, 1, dq, c3) // dQ += dS·K/√D
				kernel.GemmSerial(true, false, t, d, t, scale, ds, t, q, c3, 1, dk, c3)  // dK += dSᵀ·Q/√D
			}
		})
	})
}
