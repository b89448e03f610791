package tensor

import (
	"fmt"
	"math"

	"github.com/moxing/moxing/internal/kernel"
)

// Sigmoid returns σ(a) = 1/(1+e⁻ᵃ), computed without overflow.
// d/da = σ(a)(1-σ(a)).
func (a *Tensor) Sigmoid() *Tensor {
	return unary("Sigmoid", a, sigmoid, func(_, y float32) float32 { return y * (1 - y) })
}

func sigmoid(x float32) float32 {
	if x >= 0 {
		return float32(1 / (1 + math.Exp(-float64(x))))
	}
	e := math.Exp(float64(x))
	return float32(e / (1 + e))
}

// ReLU returns max(a, 0). d/da = 1 where a > 0, else 0. A fused loop (it
// runs on every activation of a ConvNet), split across threads for large
// tensors.
func (a *Tensor) ReLU() *Tensor {
	out := newOutDirty("ReLU", a.shape, a)
	y := out.Data
	chunks(len(y), func(lo, hi int) { kernel.ReLU(y[lo:hi], a.Data[lo:hi]) })
	return out.record(func() {
		ga, g := gradOf(a), out.Grad.Data
		chunks(len(g), func(lo, hi int) { kernel.ReLUBackward(ga[lo:hi], g[lo:hi], y[lo:hi]) })
	})
}

// chunks runs body over [0, n) in one piece, or split across threads when n
// is large enough for that to pay (memory-bound loops over big tensors).
func chunks(n int, body func(lo, hi int)) {
	const grain = 1 << 16
	if n < 2*grain {
		body(0, n)
		return
	}
	parts := n / grain
	kernel.Parallel(parts, func(lo, hi int) { body(n*lo/parts, n*hi/parts) })
}

// rowChunks runs body over rows [0, rows) of n values each: in one piece,
// or split across threads by whole rows when they hold enough values for
// that to pay (a row kernel over a GPT's logits or activations).
func rowChunks(rows, n int, body func(r0, r1 int)) {
	const grain = 1 << 16
	if rows < 2 || rows*n < 2*grain {
		body(0, rows)
		return
	}
	parts := min(rows*n/grain, rows)
	kernel.Parallel(parts, func(lo, hi int) { body(rows*lo/parts, rows*hi/parts) })
}

// Tanh returns tanh(a). d/da = 1 - tanh²(a).
func (a *Tensor) Tanh() *Tensor {
	return unary("Tanh", a, func(x float32) float32 { return float32(math.Tanh(float64(x))) },
		func(_, y float32) float32 { return 1 - y*y })
}

// Softplus returns ln(1+eᵃ), computed as max(a,0) + ln(1+e^-|a|) so it
// never overflows. d/da = σ(a).
func (a *Tensor) Softplus() *Tensor {
	return unary("Softplus", a, func(x float32) float32 {
		xf := float64(x)
		return float32(math.Max(xf, 0) + math.Log1p(math.Exp(-math.Abs(xf))))
	}, func(x, _ float32) float32 { return sigmoid(x) })
}

// GELU returns the Gaussian error linear unit in GPT-2's tanh approximation:
//
//	0.5·a·(1 + tanh(√(2/π)·(a + 0.044715·a³)))
//
// A fused op (one pass forward, one backward) with
// d/da = 0.5·(1+t) + 0.5·a·(1-t²)·√(2/π)·(1 + 3·0.044715·a²), t = tanh(…);
// tested against the same expression composed from primitives.
func (a *Tensor) GELU() *Tensor {
	out := newOutDirty("GELU", a.shape, a)
	chunks(len(a.Data), func(lo, hi int) { kernel.GELU(out.Data[lo:hi], a.Data[lo:hi]) })
	return out.record(func() {
		ga, g := gradOf(a), out.Grad.Data
		chunks(len(ga), func(lo, hi int) { kernel.GELUBackward(ga[lo:hi], g[lo:hi], a.Data[lo:hi]) })
	})
}

// Softmax returns e^(a - max) / Σ e^(a - max) along axis (negative counts
// from the end). Along the last axis it is a fused op with
// d/da = y ⊙ (g - Σ g⊙y) for upstream gradient g; along other axes it is
// composed from primitives. Shifting by the maximum keeps it from
// overflowing and does not change the result or its gradient.
func (a *Tensor) Softmax(axis int) *Tensor {
	if ax := a.axis("Softmax", axis); ax != a.NDim()-1 {
		e := a.Sub(a.Detach().Max(true, ax)).Exp()
		return e.Div(e.Sum(true, ax))
	}
	n := a.shape[len(a.shape)-1]
	out := newOutDirty("Softmax", a.shape, a)
	rowChunks(len(a.Data)/max(n, 1), n, func(r0, r1 int) {
		kernel.SoftmaxRows(out.Data[r0*n:r1*n], a.Data[r0*n:r1*n], n)
	})
	return out.record(func() {
		ga, g := gradOf(a), out.Grad.Data
		rowChunks(len(ga)/max(n, 1), n, func(r0, r1 int) {
			kernel.SoftmaxRowsBackward(ga[r0*n:r1*n], out.Data[r0*n:r1*n], g[r0*n:r1*n], n)
		})
	})
}

// LogSoftmax returns a - max - ln Σ e^(a - max) along axis, the numerically
// stable log of Softmax. Along the last axis it is a fused op with
// d/da = g - e^y·Σ g; along other axes it is composed from primitives.
func (a *Tensor) LogSoftmax(axis int) *Tensor {
	if ax := a.axis("LogSoftmax", axis); ax != a.NDim()-1 {
		z := a.Sub(a.Detach().Max(true, ax))
		return z.Sub(z.Exp().Sum(true, ax).Log())
	}
	n := a.shape[len(a.shape)-1]
	out := newOutDirty("LogSoftmax", a.shape, a)
	rowChunks(len(a.Data)/max(n, 1), n, func(r0, r1 int) {
		kernel.LogSoftmaxRows(out.Data[r0*n:r1*n], a.Data[r0*n:r1*n], n)
	})
	return out.record(func() {
		if ga, fresh := gradFresh(a); ga != nil {
			g := out.Grad.Data
			rowChunks(len(ga)/max(n, 1), n, func(r0, r1 int) {
				kernel.LogSoftmaxRowsBackward(ga[r0*n:r1*n], out.Data[r0*n:r1*n], g[r0*n:r1*n], n, !fresh)
			})
		}
	})
}

// lnChunk is how many rows share one partial sum of a layer norm's weight
// and bias gradients: fixed, not the thread count's share, so that the
// partial sums, added in order, make the same gradient on any number of
// threads.
const lnChunk = 64

// layerNormBackward is kernel.LayerNormRowsBackward over rows of c values,
// split across threads in chunks of lnChunk rows when there are enough,
// each chunk summing its own dw and db (nil when not wanted).
func layerNormBackward(dx, dw, db, dy, x, w, mean, rstd []float32, rows, c int) {
	chunks := (rows + lnChunk - 1) / lnChunk
	if chunks < 2 || rows*c < 1<<17 {
		kernel.LayerNormRowsBackward(dx, dw, db, dy, x, w, mean, rstd, c)
		return
	}
	part := kernel.GetBuf(2 * chunks * c) // each chunk's dw, then its db
	defer kernel.PutBuf(part)
	clear(*part)
	kernel.Parallel(chunks, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			r0, r1 := ch*lnChunk, min(rows, (ch+1)*lnChunk)
			var dxc, dwc, dbc []float32
			if dx != nil {
				dxc = dx[r0*c : r1*c]
			}
			if dw != nil {
				dwc = (*part)[2*ch*c : (2*ch+1)*c]
			}
			if db != nil {
				dbc = (*part)[(2*ch+1)*c : (2*ch+2)*c]
			}
			kernel.LayerNormRowsBackward(dxc, dwc, dbc, dy[r0*c:r1*c], x[r0*c:r1*c], w, mean[r0:r1], rstd[r0:r1], c)
		}
	})
	for ch := 0; ch < chunks; ch++ {
		if dw != nil {
			kernel.Add((*part)[2*ch*c:(2*ch+1)*c], dw)
		}
		if db != nil {
			kernel.Add((*part)[(2*ch+1)*c:(2*ch+2)*c], db)
		}
	}
}

// LogSoftmaxGather returns a.LogSoftmax(-1).Gather(1, idx) for a matrix a
// (N, C) as one op: (N, 1), row i holding log_softmax(a_i)[idx[i]], without
// the (N, C) log-probabilities (a language model's cross-entropy over its
// vocabulary). d/da_i = g_i·(onehot(idx[i]) - softmax(a_i)). It panics
// unless a is a matrix with one index per row, each in [0, C).
func (a *Tensor) LogSoftmaxGather(idx []int) *Tensor {
	if a.NDim() != 2 || len(idx) != a.shape[0] {
		panic(fmt.Sprintf("tensor: LogSoftmaxGather: %d indices for shape %v (want a matrix, one index per row)", len(idx), a.shape))
	}
	n, c := a.shape[0], a.shape[1]
	for i, v := range idx {
		if v < 0 || v >= c {
			panic(fmt.Sprintf("tensor: LogSoftmaxGather: index %d (row %d) out of range [0, %d)", v, i, c))
		}
	}
	out := newOutDirty("LogSoftmaxGather", []int{n, 1}, a)
	lse := scratch(out, n) // each row's max + ln Σ e^(a - max)
	rowChunks(n, c, func(r0, r1 int) {
		kernel.LogSumExpRows(lse[r0:r1], a.Data[r0*c:r1*c], c)
		for r := r0; r < r1; r++ {
			out.Data[r] = a.Data[r*c+idx[r]] - lse[r]
		}
	})
	return out.record(func() {
		if ga, fresh := gradFresh(a); ga != nil {
			g := out.Grad.Data
			rowChunks(n, c, func(r0, r1 int) {
				kernel.LogSoftmaxPickBackward(ga[r0*c:r1*c], a.Data[r0*c:r1*c], lse[r0:r1], g[r0:r1], idx[r0:r1], c, !fresh)
			})
		}
	})
}

// LayerNorm normalises a (..., C) over its last axis and applies the affine
// map: (a - mean)/√(var + eps)·w + b, with w and b of shape (C) and the
// population variance, as torch.nn.functional.layer_norm. A fused op (the
// backward of llm.c's layernorm_backward), tested against its composition
// from primitives.
func (a *Tensor) LayerNorm(w, b *Tensor, eps float32) *Tensor {
	c := 0
	if a.NDim() > 0 {
		c = a.shape[len(a.shape)-1]
	}
	if c == 0 || !sameShape(w.shape, []int{c}) || !sameShape(b.shape, []int{c}) {
		panic(fmt.Sprintf("tensor: LayerNorm of shape %v with weight %v and bias %v", a.shape, w.shape, b.shape))
	}
	out := newOutDirty("LayerNorm", a.shape, a, w, b)
	rows := len(a.Data) / c
	mean, rstd := scratch(out, rows), scratch(out, rows)
	rowChunks(rows, c, func(r0, r1 int) {
		kernel.LayerNormRows(out.Data[r0*c:r1*c], a.Data[r0*c:r1*c], w.Data, b.Data, mean[r0:r1], rstd[r0:r1], c, eps)
	})
	return out.record(func() {
		layerNormBackward(gradOf(a), gradOf(w), gradOf(b), out.Grad.Data, a.Data, w.Data, mean, rstd, rows, c)
	})
}
