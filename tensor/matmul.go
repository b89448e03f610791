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
	if sb == 0 && !transA && batch > 1 {
		kernel.Gemm(false, transB, batch*m, n, k, 1, a.Data, lda, b.Data, ldb, 0, out.Data, n)
	} else {
		kernel.GemmBatched(transA, transB, m, n, k, 1, a.Data, lda, sa, b.Data, ldb, sb, 0, out.Data, n, m*n, batch)
	}
	return out.record(func() {
		g := out.Grad.Data
		if ga := gradOf(a); ga != nil {
			if !transA {
				// dA (M,K) = G (M,N) · op(B)ᵀ
				if sa == 0 {
					for i := 0; i < batch; i++ {
						kernel.Gemm(false, !transB, m, k, n, 1, g[i*m*n:], n, b.Data[i*sb:], ldb, 1, ga, lda)
					}
				} else if sb == 0 {
					kernel.Gemm(false, !transB, batch*m, k, n, 1, g, n, b.Data, ldb, 1, ga, lda)
				} else {
					kernel.GemmBatched(false, !transB, m, k, n, 1, g, n, m*n, b.Data, ldb, sb, 1, ga, lda, sa, batch)
				}
			} else {
				// A is stored (K,M): dA = op(B) (K,N) · Gᵀ
				for i := 0; i < batch; i++ {
					kernel.Gemm(transB, true, k, m, n, 1, b.Data[i*sb:], ldb, g[i*m*n:], n, 1, ga[i*sa:], lda)
				}
			}
		}
		if gb := gradOf(b); gb != nil {
			if !transB {
				// dB (K,N) = op(A)ᵀ · G
				if sb == 0 && !transA {
					kernel.Gemm(true, false, k, n, batch*m, 1, a.Data, lda, g, n, 1, gb, ldb)
				} else if sb == 0 {
					for i := 0; i < batch; i++ {
						kernel.Gemm(!transA, false, k, n, m, 1, a.Data[i*sa:], lda, g[i*m*n:], n, 1, gb, ldb)
					}
				} else {
					kernel.GemmBatched(!transA, false, k, n, m, 1, a.Data, lda, sa, g, n, m*n, 1, gb, ldb, sb, batch)
				}
			} else {
				// B is stored (N,K): dB = Gᵀ (N,M) · op(A) (M,K)
				if sb == 0 && !transA {
					kernel.Gemm(true, false, n, k, batch*m, 1, g, n, a.Data, lda, 1, gb, ldb)
				} else if sb == 0 {
					for i := 0; i < batch; i++ {
						kernel.Gemm(true, transA, n, k, m, 1, g[i*m*n:], n, a.Data[i*sa:], lda, 1, gb, ldb)
					}
				} else {
					kernel.GemmBatched(true, transA, n, k, m, 1, g, n, m*n, a.Data, lda, sa, 1, gb, ldb, sb, batch)
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

// Kernels names the compute kernels in use on this CPU: "avx2" (AVX2 and
// FMA assembly) or "go" (portable; forced with the purego build tag).
func Kernels() string { return kernel.Impl() }
