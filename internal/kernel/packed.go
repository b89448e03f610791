package kernel

import (
	"fmt"
	"runtime"
)

// PackedB is the B operand of a GEMM packed once for many products: the
// blocks Gemm packs on every call, kept. It is for a matrix that no longer
// changes, such as a weight at inference, multiplied by many small batches
// of rows: packing B costs about as much as reading it, which is most of a
// product with a few dozen rows. It holds a copy of B's elements (B itself
// is still read for matrix-vector shapes, which never pack).
type PackedB struct {
	impl   *impl
	transB bool
	k, n   int
	b      []float32 // the original
	ldb    int
	data   []float32
	offs   []int // block (jc/nc, pc/kc) starts at data[offs[jc/nc*kBlocks+pc/kc]]
}

// PackB packs op(B) (k×n; B is stored k×n with ldb ≥ n, or n×k with
// ldb ≥ k when transB) for GemmPacked, with the kernels in use now. B must
// not change while the PackedB is used.
func PackB(transB bool, k, n int, b []float32, ldb int) *PackedB {
	checkGemm(false, transB, 1, n, k, make([]float32, k), k, b, ldb, make([]float32, n), n)
	im := active
	p := &PackedB{impl: im, transB: transB, k: k, n: n, b: b, ldb: ldb}
	total := 0
	for jc := 0; jc < n; jc += im.nc {
		for pc := 0; pc < k; pc += im.kc {
			p.offs = append(p.offs, total)
			total += min(im.kc, k-pc) * roundUp(min(im.nc, n-jc), im.nr)
		}
	}
	p.data = make([]float32, total)
	for jc := 0; jc < n; jc += im.nc {
		for pc := 0; pc < k; pc += im.kc {
			packBlock(p.block(jc, pc), im, transB, b, ldb, pc, jc, min(im.kc, k-pc), min(im.nc, n-jc), runtime.GOMAXPROCS(0))
		}
	}
	return p
}

// block returns the packed block of B at rows pc, columns jc.
func (p *PackedB) block(jc, pc int) []float32 {
	kBlocks := (p.k + p.impl.kc - 1) / p.impl.kc
	return p.data[p.offs[jc/p.impl.nc*kBlocks+pc/p.impl.kc]:]
}

// GemmPacked computes C = alpha·A·op(B) + beta·C as Gemm does, with B
// packed by PackB: A is m×k (lda ≥ k), C m×n (ldc ≥ n). The result is
// Gemm's, bit for bit.
func GemmPacked(m int, alpha float32, a []float32, lda int, p *PackedB, beta float32, c []float32, ldc int) {
	if p.impl != active {
		panic(fmt.Sprintf("kernel: GemmPacked with B packed for the %s kernels while %s are in use", p.impl.name, active.name))
	}
	gemm(runtime.GOMAXPROCS(0), false, p.transB, m, p.n, p.k, alpha, a, lda, p.b, p.ldb, beta, c, ldc, p)
}

// packBlock packs the kb×nb block of op(B) at rows pc, columns jc into bp,
// its panels split across up to workers threads.
func packBlock(bp []float32, im *impl, transB bool, b []float32, ldb, pc, jc, kb, nb, workers int) {
	panels := (nb + im.nr - 1) / im.nr
	parallelFor(panels, min(workers, panels), func(lo, hi int) {
		q0, q1 := lo*im.nr, min(hi*im.nr, nb)
		packB(bp[q0*kb:], im, transB, b, ldb, pc, jc+q0, kb, q1-q0)
	})
}

// Trans reports whether B was packed transposed (stored n×k).
func (p *PackedB) Trans() bool { return p.transB }

// Current reports whether p was packed for the kernels now in use.
func (p *PackedB) Current() bool { return p.impl == active }
