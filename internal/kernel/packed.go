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
	kc     int   // the depth of its blocks, as Gemm chooses for k
	offs   []int // block (jc/nc, pc/kc) starts at data[offs[jc/nc*kBlocks+pc/kc]]
}

// PackB packs op(B) (k×n; B is stored k×n with ldb ≥ n, or n×k with
// ldb ≥ k when transB) for GemmPacked, with the kernels in use now. B must
// not change while the PackedB is used.
func PackB(transB bool, k, n int, b []float32, ldb int) *PackedB {
	checkOp("B", transB, k, n, ldb, len(b))
	im := active
	p := &PackedB{impl: im, transB: transB, k: k, n: n, b: b, ldb: ldb, kc: im.depth(k)}
	total := 0
	for jc := 0; jc < n; jc += im.nc {
		for pc := 0; pc < k; pc += p.kc {
			p.offs = append(p.offs, total)
			total += min(p.kc, k-pc) * roundUp(min(im.nc, n-jc), im.nr)
		}
	}
	p.data = make([]float32, total)
	for jc := 0; jc < n; jc += im.nc {
		for pc := 0; pc < k; pc += p.kc {
			packBlock(p.block(jc, pc), im, transB, b, ldb, pc, jc, min(p.kc, k-pc), min(im.nc, n-jc), runtime.GOMAXPROCS(0))
		}
	}
	return p
}

// block returns the packed block of B at rows pc, columns jc.
func (p *PackedB) block(jc, pc int) []float32 {
	kBlocks := (p.k + p.kc - 1) / p.kc
	return p.data[p.offs[jc/p.impl.nc*kBlocks+pc/p.kc]:]
}

// GemmPacked computes C = alpha·A·op(B) + beta·C as Gemm does, with B
// packed by PackB: A is m×k (lda ≥ k), C m×n (ldc ≥ n). The result is
// Gemm's, bit for bit.
func GemmPacked(m int, alpha float32, a []float32, lda int, p *PackedB, beta float32, c []float32, ldc int) {
	if p.impl != active {
		panic(fmt.Sprintf("kernel: GemmPacked with B packed for the %s kernels while %s are in use", p.impl.name, active.name))
	}
	gemm(runtime.GOMAXPROCS(0), false, p.transB, m, p.n, p.k, alpha, a, lda, p.b, p.ldb, beta, c, ldc, p, false)
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

// PackedA is the A operand of several GEMMs on one thread, op(A) (m×k)
// packed once: a convolution's weight, multiplied by each image's column
// matrix in turn. Its storage is pooled; Release gives it back.
type PackedA struct {
	impl *impl
	m, k int
	kc   int // the depth of its blocks, as Gemm chooses for k
	buf  *[]float32
}

// PackA packs alpha·op(A) (m×k; A is stored m×k with lda ≥ k, or k×m with
// lda ≥ m when transA) for PackedA.Gemm, with the kernels in use now.
func PackA(transA bool, m, k int, alpha float32, a []float32, lda int) *PackedA {
	checkOp("A", transA, m, k, lda, len(a))
	im := active
	p := &PackedA{impl: im, m: m, k: k, kc: im.depth(k)}
	rows := roundUp(m, im.mr)
	p.buf = GetBuf(rows*k + im.mr*im.nr) // the blocks, then the edge tile
	for pc := 0; pc < k; pc += p.kc {
		kb := min(p.kc, k-pc)
		for ic := 0; ic < m; ic += im.mc {
			packA((*p.buf)[p.offset(ic, pc):], im, transA, a, lda, ic, pc, min(im.mc, m-ic), kb, alpha)
		}
	}
	return p
}

// offset is where block (ic, pc) starts: depth blocks one after another,
// each holding every row block (rows rounded up to whole panels).
func (p *PackedA) offset(ic, pc int) int {
	return pc*roundUp(p.m, p.impl.mr) + ic*min(p.kc, p.k-pc)
}

// Release gives p's storage back; p must not be used after.
func (p *PackedA) Release() {
	PutBuf(p.buf)
	p.buf = nil
}

// Gemm computes C = op(A)·op(B) + beta·C on the calling goroutine, with
// op(A) from p: op(B) is k×n (B stored k×n with ldb ≥ n, or n×k with
// ldb ≥ k when transB), C is m×n (ldc ≥ n). Its blocks are Gemm's, so for
// m > 4 and n ≥ nr/2 (where Gemm takes no shortcut) the result is Gemm's
// bit for bit.
func (p *PackedA) Gemm(transB bool, n int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if p.impl != active {
		panic(fmt.Sprintf("kernel: PackedA.Gemm with A packed for the %s kernels while %s are in use", p.impl.name, active.name))
	}
	m, k, im := p.m, p.k, p.impl
	if m <= 0 || n <= 0 {
		return
	}
	checkOp("B", transB, k, n, ldb, len(b))
	checkMatrix("C", m, n, ldc, len(c))
	if k <= 0 || beta != 0 {
		scaleC(m, n, beta, c, ldc)
	}
	if k <= 0 {
		return
	}
	bp := GetBuf(p.kc * roundUp(min(n, im.nc), im.nr))
	defer PutBuf(bp)
	tile := (*p.buf)[len(*p.buf)-im.mr*im.nr:]
	for jc := 0; jc < n; jc += im.nc {
		nb := min(im.nc, n-jc)
		for pc := 0; pc < k; pc += p.kc {
			kb := min(p.kc, k-pc)
			packB(*bp, im, transB, b, ldb, pc, jc, kb, nb)
			for ic := 0; ic < m; ic += im.mc {
				// With beta 0, C was not cleared: the first k block overwrites it.
				macroKernel(im, (*p.buf)[p.offset(ic, pc):], *bp, tile, min(im.mc, m-ic), nb, kb, c[ic*ldc+jc:], ldc, pc > 0 || beta != 0)
			}
		}
	}
}
