package tensor

import (
	"fmt"

	"github.com/moxing/moxing/internal/kernel"
)

// MatMul returns the matrix product a·b over the last two axes.
//
// a is (..., M, K) and b is (..., K, N); the result is (..., M, N). Leading
// (batch) axes must be equal, or one operand must be a plain matrix, which is
// then shared by every batch entry (a weight applied to a batch).
func (a *Tensor) MatMul(b *Tensor) *Tensor { return a.MatMulT(b, false, false) }

// MatMulT returns op(a)·op(b) over the last two axes, where op transposes
// the last two axes of its operand when the flag is set:
// MatMulT(k, false, true) is q·kᵀ. No transposed copy is made, in the forward
// or the backward pass.
//
// With C = op(A)·op(B) and upstream gradient G: dA = G·op(B)ᵀ (transposed
// back when transA), dB = op(A)ᵀ·G (transposed back when transB); a shared
// operand's gradient is summed over the batch.
func (a *Tensor) MatMulT(b *Tensor, transA, transB bool) *Tensor {
	if a.NDim() < 2 || b.NDim() < 2 {
		panic(fmt.Sprintf("tensor: MatMul needs operands with at least 2 axes, got shapes %v and %v", a.shape, b.shape))
	}
	ra, ca := a.shape[a.NDim()-2], a.shape[a.NDim()-1]
	rb, cb := b.shape[b.NDim()-2], b.shape[b.NDim()-1]
	m, k := ra, ca
	if transA {
		m, k = ca, ra
	}
	k2, n := rb, cb
	if transB {
		k2, n = cb, rb
	}
	batchA, batchB := a.shape[:a.NDim()-2], b.shape[:b.NDim()-2]
	var batchShape []int
	switch {
	case k != k2:
		panic(fmt.Sprintf("tensor: MatMul shapes %v x %v (transA=%v, transB=%v): inner sizes %d and %d differ", a.shape, b.shape, transA, transB, k, k2))
	case len(batchB) == 0:
		batchShape = batchA
	case len(batchA) == 0 || sameShape(batchA, batchB):
		batchShape = batchB
	default:
		panic(fmt.Sprintf("tensor: MatMul shapes %v x %v: batch axes differ", a.shape, b.shape))
	}
	batch := numel(batchShape)
	sa, sb := ra*ca, rb*cb
	if len(batchA) == 0 {
		sa = 0
	}
	if len(batchB) == 0 {
		sb = 0
	}
	lda, ldb := ca, cb // row lengths as stored
	out := newOutDirty(opName("MatMul", transA, transB), append(append([]int(nil), batchShape...), m, n), a, b)

	// A batch of rows times one shared untransposed-A-compatible matrix is a
	// single GEMM over all rows.
	switch {
	case sb == 0 && !transA && b.q8As(transB):
		kernel.GemvQ8(a.Data, batch*m, b.q8, out.Data, n, false)
	case sb == 0 && !transA && b.f16As(transB):
		kernel.GemvF16(a.Data, batch*m, b.f16, out.Data, n, false)
	case sb == 0 && !transA && b.packedAs(transB):
		kernel.GemmPacked(batch*m, 1, a.Data, lda, b.packed, 0, out.Data, n)
	case sb == 0 && !transA && batch > 1:
		kernel.Gemm(false, transB, batch*m, n, k, 1, a.Data, lda, b.Data, ldb, 0, out.Data, n)
	default:
		kernel.GemmBatched(transA, transB, m, n, k, 1, a.Data, lda, sa, b.Data, ldb, sb, 0, out.Data, n, m*n, batch)
	}
	return out.record(func() {
		g := out.Grad.Data
		// A fresh gradient is written by its first product (beta 0), not
		// cleared and added to: the tied embedding's is 154 MB in GPT-2.
		// A shared operand's products after the first add.
		if ga, fresh := gradFresh(a); ga != nil {
			beta := betaOf(fresh)
			if !transA {
				// dA (M,K) = G (M,N) · op(B)ᵀ
				if sa == 0 {
					for i := 0; i < batch; i++ {
						kernel.Gemm(false, !transB, m, k, n, 1, g[i*m*n:], n, b.Data[i*sb:], ldb, beta, ga, lda)
						beta = 1
					}
				} else if sb == 0 {
					kernel.Gemm(false, !transB, batch*m, k, n, 1, g, n, b.Data, ldb, beta, ga, lda)
				} else {
					kernel.GemmBatched(false, !transB, m, k, n, 1, g, n, m*n, b.Data, ldb, sb, beta, ga, lda, sa, batch)
				}
			} else {
				// A is stored (K,M): dA = op(B) (K,N) · Gᵀ
				for i := 0; i < batch; i++ {
					kernel.Gemm(transB, true, k, m, n, 1, b.Data[i*sb:], ldb, g[i*m*n:], n, beta, ga[i*sa:], lda)
					if sa == 0 {
						beta = 1
					}
				}
			}
		}
		if gb, fresh := gradFresh(b); gb != nil {
			beta := betaOf(fresh)
			if !transB {
				// dB (K,N) = op(A)ᵀ · G
				if sb == 0 && !transA {
					kernel.Gemm(true, false, k, n, batch*m, 1, a.Data, lda, g, n, beta, gb, ldb)
				} else if sb == 0 {
					for i := 0; i < batch; i++ {
						kernel.Gemm(!transA, false, k, n, m, 1, a.Data[i*sa:], lda, g[i*m*n:], n, beta, gb, ldb)
						beta = 1
					}
				} else {
					kernel.GemmBatched(!transA, false, k, n, m, 1, a.Data, lda, sa, g, n, m*n, beta, gb, ldb, sb, batch)
				}
			} else {
				// B is stored (N,K): dB = Gᵀ (N,M) · op(A) (M,K)
				if sb == 0 && !transA {
					kernel.Gemm(true, false, n, k, batch*m, 1, g, n, a.Data, lda, beta, gb, ldb)
				} else if sb == 0 {
					for i := 0; i < batch; i++ {
						kernel.Gemm(true, transA, n, k, m, 1, g[i*m*n:], n, a.Data[i*sa:], lda, beta, gb, ldb)
						beta = 1
					}
				} else {
					kernel.GemmBatched(true, transA, n, k, m, 1, g, n, m*n, a.Data, lda, sa, beta, gb, ldb, sb, batch)
				}
			}
		}
	})
}

func opName(base string, transA, transB bool) string {
	switch {
	case transA && transB:
		return base + "TT"
	case transA:
		return base + "TN"
	case transB:
		return base + "NT"
	}
	return base
}

// Packed returns a matrix that shares w's data and shape and carries it
// packed for the products w is the right operand of (Linear's weight with
// transW = trans, MatMulT's b with transB = trans): the packing that every
// product of more than a few rows does is done once, here. The packed
// products do not see later changes to Data, so pack a weight that no
// longer changes (at inference), or again for each pass (a recurrent
// layer's weight, multiplied at every step of a sequence). Gradients flow
// back to w. The packed copy costs as much memory as w, and gives the same
// results bit for bit.
//
// When w requires a gradient, the Linear products with the packed matrix
// (transW = trans) defer their weight gradients: each backward keeps its
// rows of x and of the output's gradient G, and Packed's backward sums
// them in one GEMM over all the rows, dW = Gᵀ·X (or Xᵀ·G), instead of one
// rank-B update of dW per product (a recurrent layer's step). Their input
// gradients, G·op(w)ᵀ, share one packing of w too.
func (w *Tensor) Packed(trans bool) *Tensor {
	if w.NDim() != 2 {
		panic(fmt.Sprintf("tensor: Packed of shape %v: want a matrix", w.shape))
	}
	k, n := w.shape[0], w.shape[1]
	if trans {
		k, n = n, k
	}
	out := newOut("Packed", []int{0}, w) // no storage of its own
	out.Data, out.shape = w.Data, w.Shape()
	out.packed = kernel.PackB(trans, k, n, w.Data, w.shape[1])
	if out.requiresGrad {
		out.sums = &packedGrads{trans: trans, k: k, n: n}
	}
	return out.record(func() {
		if s := out.sums; s != nil && s.rows > 0 {
			x, g := (*s.x)[:s.rows*k], (*s.g)[:s.rows*n]
			if trans { // dW (n×k) += Gᵀ·X
				kernel.Gemm(true, false, n, k, s.rows, 1, g, n, x, k, 1, out.Grad.Data, k)
			} else { // dW (k×n) += Xᵀ·G
				kernel.Gemm(true, false, k, n, s.rows, 1, x, k, g, n, 1, out.Grad.Data, n)
			}
			kernel.PutBuf(s.x)
			kernel.PutBuf(s.g)
			s.x, s.g, s.rows = nil, nil, 0
		}
		kernel.Add(out.Grad.Data, gradOf(w))
	})
}

// packedGrads collects, for a Packed matrix op(w) (k×n), the rows of x
// (rows×k) and of G (rows×n) of the Linear products whose weight gradient
// it sums, and the packing of op(w)ᵀ that their input gradients share.
type packedGrads struct {
	trans bool
	k, n  int
	x, g  *[]float32 // pooled (kernel.GetBuf): a training step allocates none
	rows  int
	total int             // the rows of the products so far, for x and g's sizes
	dx    *kernel.PackedB // op(w)ᵀ (n×k), packed at the first input gradient
}

// Q8 returns a matrix that shares w's data and shape and carries it in
// GGML's Q8_0 blocks for the products w is the right operand of (Linear's
// weight with transW = trans, MatMulT's b with transB = trans), which then
// use it: each row of the left operand is quantized to Q8_0 too, and the
// int8 products are summed per block (kernel.GemvQ8), so a product reads a
// quarter of the bytes of float32 weights. The results are those of the
// quantized weights, not w's: quantization rounds each weight to within
// half a step of its block's max/127. The inner size must be a multiple of
// 32. It is for weights that no longer change, at inference; w's float32
// data stays (an embedding's rows are looked up in it).
func (w *Tensor) Q8(trans bool) *Tensor {
	if w.NDim() != 2 {
		panic(fmt.Sprintf("tensor: Q8 of shape %v: want a matrix", w.shape))
	}
	rows, cols := w.shape[0], w.shape[1] // the rows of op(w)ᵀ: trans keeps w's
	src := w.Data
	if !trans {
		rows, cols = cols, rows
		src = w.Detach().Transpose(0, 1).Data
	}
	if cols%32 != 0 {
		panic(fmt.Sprintf("tensor: Q8 of shape %v (transposed %v): the inner size %d is not a multiple of 32", w.shape, trans, cols))
	}
	var q8 kernel.Q8
	kernel.QuantizeQ8(&q8, src, rows, cols)
	q := *w
	q.q8, q.q8Trans = kernel.PackQ8(&q8), trans
	q.packed, q.sums = nil, nil
	return &q
}

// F16 is Q8 for 16-bit float weights: the matrix carries IEEE halves, or
// bfloat16s when bf16 (h, the rows of op(w)ᵀ, row-major, as GGUF stores
// them: w's rows when trans), that Linear and MatMulT widen as they go,
// reading half the bytes of float32; w's Data must hold the same values,
// widened.
func (w *Tensor) F16(trans bool, h []uint16, bf16 bool) *Tensor {
	if w.NDim() != 2 || len(h) != len(w.Data) {
		panic(fmt.Sprintf("tensor: F16 of shape %v with %d halves", w.shape, len(h)))
	}
	rows, cols := w.shape[0], w.shape[1]
	if !trans {
		rows, cols = cols, rows
	}
	q := *w
	q.f16, q.q8Trans, q.q8, q.packed, q.sums = kernel.PackF16(rows, cols, h, bf16), trans, nil, nil, nil
	return &q
}

// IsQ8 reports whether t carries a Q8 or F16 form (see Q8, F16).
func (t *Tensor) IsQ8() bool { return t.q8 != nil || t.f16 != nil }

// f16As reports whether t carries halves for products with transB = trans.
func (t *Tensor) f16As(trans bool) bool { return t.f16 != nil && t.q8Trans == trans }

// q8As reports whether t carries a Q8 form for products with transB = trans.
func (t *Tensor) q8As(trans bool) bool { return t.q8 != nil && t.q8Trans == trans }

// packedAs reports whether t carries a packed form for products with
// transB = trans, made by the kernels now in use.
func (t *Tensor) packedAs(trans bool) bool {
	return t.packed != nil && t.packed.Trans() == trans && t.packed.Current()
}

// Kernels names the compute kernels in use on this CPU: "avx512" (AVX-512F
// matrix multiply), "avx2" (AVX2 and FMA assembly) or "go" (portable; forced
// with the purego build tag). The environment variable MOXING_KERNELS, read
// at start-up, picks a lesser one by name.
func Kernels() string { return kernel.Impl() }

// Linear returns x·op(w) + bias, an affine layer in one op: x is (..., K),
// w a matrix, (K, N), or (N, K) when transW (PyTorch's nn.Linear layout),
// and bias (N), added to every row, or of the result's shape (a term to add
// to, such as a residual or the frozen layer under an adapter), or nil; the
// result is (..., N). The result starts as the bias and the product is
// accumulated into it, so no separate product tensor is kept. With G = dL/dY
// over all rows: dx = G·op(w)ᵀ, dw = op⁻¹(xᵀ·G), dbias = the column sums of
// G, or G itself for a full-shape bias.
func (x *Tensor) Linear(w, bias *Tensor, transW bool) *Tensor {
	if x.NDim() < 1 || w.NDim() != 2 {
		panic(fmt.Sprintf("tensor: Linear of shape %v with weight %v: want (..., K) and a matrix", x.shape, w.shape))
	}
	k, n := w.shape[0], w.shape[1]
	if transW {
		k, n = n, k
	}
	shape := append(append([]int(nil), x.shape[:x.NDim()-1]...), n)
	full := bias != nil && bias.NDim() > 1
	if x.shape[x.NDim()-1] != k || (bias != nil && !sameShape(bias.shape, []int{n}) && !sameShape(bias.shape, shape)) {
		panic(fmt.Sprintf("tensor: Linear of shape %v with weight %v (transposed %v) and bias %v", x.shape, w.shape, transW, shapeOf(bias)))
	}
	rows := numel(x.shape[:x.NDim()-1])
	inputs := []*Tensor{x, w}
	if bias != nil {
		inputs = append(inputs, bias)
	}
	out := newOutDirty("Linear", shape, inputs...)
	if w.sums != nil && w.sums.trans == transW {
		w.sums.total += rows
	}
	beta := float32(0)
	switch { // split across threads: 28 MB a layer for GPT-2 small at B=8, T=128
	case full:
		chunks(len(out.Data), func(lo, hi int) { copy(out.Data[lo:hi], bias.Data[lo:hi]) })
		beta = 1
	case bias != nil:
		rowChunks(rows, n, func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				copy(out.Data[r*n:(r+1)*n], bias.Data)
			}
		})
		beta = 1
	}
	switch {
	case w.q8As(transW):
		kernel.GemvQ8(x.Data, rows, w.q8, out.Data, n, beta != 0)
	case w.f16As(transW):
		kernel.GemvF16(x.Data, rows, w.f16, out.Data, n, beta != 0)
	case w.packedAs(transW):
		kernel.GemmPacked(rows, 1, x.Data, k, w.packed, beta, out.Data, n)
	default:
		kernel.Gemm(false, transW, rows, n, k, 1, x.Data, k, w.Data, w.shape[1], beta, out.Data, n)
	}
	return out.record(func() {
		g := out.Grad.Data
		sums := w.sums
		if sums != nil && sums.trans != transW {
			sums = nil
		}
		if gx, fresh := gradFresh(x); gx != nil {
			beta := betaOf(fresh)
			if sums != nil && rows > 4 {
				if sums.dx == nil || !sums.dx.Current() {
					sums.dx = kernel.PackB(!transW, n, k, w.Data, w.shape[1])
				}
				kernel.GemmPacked(rows, 1, g, n, sums.dx, beta, gx, k) // dx = G·op(w)ᵀ
			} else {
				kernel.Gemm(false, !transW, rows, k, n, 1, g, n, w.Data, w.shape[1], beta, gx, k) // dx = G·op(w)ᵀ
			}
		}
		if sums != nil && gradOf(w) != nil { // zeros, to which Packed's backward adds the sum
			if sums.x == nil { // room for every product's rows, counted in their forward passes
				sums.x, sums.g = kernel.GetBuf(sums.total*k), kernel.GetBuf(sums.total*n)
			}
			if sums.rows+rows > sums.total {
				panic("tensor: more Linear backward passes through a Packed matrix than forward ones")
			}
			copy((*sums.x)[sums.rows*k:], x.Data[:rows*k]) // summed in Packed's backward
			copy((*sums.g)[sums.rows*n:], g[:rows*n])
			sums.rows += rows
		} else if gw, fresh := gradFresh(w); gw != nil {
			if transW {
				kernel.Gemm(true, false, n, k, rows, 1, g, n, x.Data, k, betaOf(fresh), gw, k) // dw (N, K) = Gᵀ·x
			} else {
				kernel.Gemm(true, false, k, n, rows, 1, x.Data, k, g, n, betaOf(fresh), gw, n) // dw (K, N) = xᵀ·G
			}
		}
		if bias == nil {
			return
		}
		switch gb := gradOf(bias); {
		case gb == nil:
		case full:
			kernel.Axpy(1, g, gb) // dbias = G
		default:
			for r := 0; r < rows; r++ {
				kernel.Axpy(1, g[r*n:(r+1)*n], gb) // dbias = Σ rows of G
			}
		}
	})
}

// shapeOf is t's shape, or nil for a nil t.
func shapeOf(t *Tensor) []int {
	if t == nil {
		return nil
	}
	return t.shape
}
