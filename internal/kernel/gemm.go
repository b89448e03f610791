package kernel

import (
	"runtime"
	"sync"
)

// Blocking parameters of the GotoBLAS-style loop nest. A kc×nc panel of B and
// an mc×kc block of A are packed into contiguous buffers, then multiplied by
// an mr×nr register-blocked micro-kernel.
const (
	mr = 4
	nr = 4
	kc = 256
	mc = 64
	nc = 2048

	// parallelFlops is the m·n·k below which a GEMM runs on the calling
	// goroutine: starting goroutines costs more than it saves.
	parallelFlops = 1 << 18
)

// Gemm computes C = alpha·op(A)·op(B) + beta·C, where op(X) is X or Xᵀ.
//
// op(A) is m×k and op(B) is k×n; C is m×n with leading dimension ldc. A is
// stored m×k (lda ≥ k) when transA is false and k×m (lda ≥ m) when true;
// likewise B is stored k×n (ldb ≥ n) or n×k (ldb ≥ k). When beta is 0, C is
// overwritten and its old contents (even NaN) do not matter, as in BLAS.
//
// Large products are split across GOMAXPROCS goroutines by blocks of rows and
// columns of C; the result does not depend on the split.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	scaleC(m, n, beta, c, ldc)
	if k <= 0 || alpha == 0 {
		return
	}
	workers := runtime.GOMAXPROCS(0)
	if m*n*k < parallelFlops {
		workers = 1
	}
	bp := getBuf(kc * roundUp(min(n, nc), nr))
	defer putBuf(bp)
	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			packB(*bp, transB, b, ldb, pc, jc, kb, nb)
			blockTasks(m, nb, workers, func(ic, mb, jr, nbr int) {
				ap := getBuf(mc * kc)
				packA(*ap, transA, a, lda, ic, pc, mb, kb, alpha)
				macroKernel(*ap, (*bp)[jr*kb:], mb, nbr, kb, c[ic*ldc+jc+jr:], ldc)
				putBuf(ap)
			})
		}
	}
}

// GemmBatched runs batch independent GEMMs with the same shapes:
// C_i = alpha·op(A_i)·op(B_i) + beta·C_i, where A_i starts at a[i*strideA],
// and so on. A stride of 0 reuses one matrix for every batch entry (e.g. a
// weight shared by all sequences). Layouts are as in Gemm.
func GemmBatched(transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int, batch int) {
	if batch <= 0 {
		return
	}
	workers := runtime.GOMAXPROCS(0)
	if batch == 1 || workers == 1 || m*n*k >= parallelFlops || batch*m*n*k < parallelFlops {
		for i := 0; i < batch; i++ {
			Gemm(transA, transB, m, n, k, alpha, a[i*strideA:], lda, b[i*strideB:], ldb, beta, c[i*strideC:], ldc)
		}
		return
	}
	// Many small products: one goroutine per worker, each taking whole
	// matrices, each of which runs serially inside Gemm.
	parallelFor(batch, workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			Gemm(transA, transB, m, n, k, alpha, a[i*strideA:], lda, b[i*strideB:], ldb, beta, c[i*strideC:], ldc)
		}
	})
}

// scaleC sets C = beta·C (C = 0 when beta is 0).
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// blockTasks splits the mb×nb block of C into tiles of up to mc rows and a
// multiple of nr columns, and runs task on each, on up to workers goroutines.
// jr is the first column of the tile inside the block.
func blockTasks(m, n, workers int, task func(ic, mb, jr, nb int)) {
	rowBlocks := (m + mc - 1) / mc
	colBlocks := 1
	if workers > 1 && rowBlocks < 4*workers {
		// Split columns too, so skinny products (m = 1..16) still use every core.
		colBlocks = min((4*workers+rowBlocks-1)/rowBlocks, (n+nr-1)/nr)
	}
	colWidth := roundUp((n+colBlocks-1)/colBlocks, nr)
	colBlocks = (n + colWidth - 1) / colWidth
	run := func(t int) {
		ib, jb := t/colBlocks, t%colBlocks
		ic, jr := ib*mc, jb*colWidth
		task(ic, min(mc, m-ic), jr, min(colWidth, n-jr))
	}
	tasks := rowBlocks * colBlocks
	if workers <= 1 || tasks == 1 {
		for t := 0; t < tasks; t++ {
			run(t)
		}
		return
	}
	parallelFor(tasks, workers, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			run(t)
		}
	})
}

// parallelFor calls body on contiguous ranges covering [0, n), on up to
// workers goroutines, and returns when all are done.
func parallelFor(n, workers int, body func(lo, hi int)) {
	workers = min(workers, n)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := n*w/workers, n*(w+1)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			body(lo, hi)
		}()
	}
	wg.Wait()
}

// packA copies the mb×kb block of alpha·op(A) starting at (ic, pc) into ap as
// row panels of mr rows: panel r holds, for each p, the mr values
// op(A)[ic+r*mr+0..mr-1][pc+p]. Rows past mb are zero.
func packA(ap []float32, transA bool, a []float32, lda, ic, pc, mb, kb int, alpha float32) {
	for r := 0; r < mb; r += mr {
		panel := ap[r*kb : (r+mr)*kb]
		rows := min(mr, mb-r)
		for i := 0; i < mr; i++ {
			if i >= rows {
				for p := 0; p < kb; p++ {
					panel[p*mr+i] = 0
				}
				continue
			}
			row := ic + r + i
			if transA {
				for p := 0; p < kb; p++ {
					panel[p*mr+i] = alpha * a[(pc+p)*lda+row]
				}
			} else {
				src := a[row*lda+pc : row*lda+pc+kb]
				for p, v := range src {
					panel[p*mr+i] = alpha * v
				}
			}
		}
	}
}

// packB copies the kb×nb block of op(B) starting at (pc, jc) into bp as column
// panels of nr columns: panel q holds, for each p, the nr values
// op(B)[pc+p][jc+q*nr+0..nr-1]. Columns past nb are zero.
func packB(bp []float32, transB bool, b []float32, ldb, pc, jc, kb, nb int) {
	for q := 0; q < nb; q += nr {
		panel := bp[q*kb : (q+nr)*kb]
		cols := min(nr, nb-q)
		for p := 0; p < kb; p++ {
			dst := panel[p*nr : p*nr+nr]
			for j := 0; j < nr; j++ {
				switch {
				case j >= cols:
					dst[j] = 0
				case transB:
					dst[j] = b[(jc+q+j)*ldb+pc+p]
				default:
					dst[j] = b[(pc+p)*ldb+jc+q+j]
				}
			}
		}
	}
}

// macroKernel adds the product of a packed mb×kb block of A and a packed
// kb×nb block of B into C.
func macroKernel(ap, bp []float32, mb, nb, kb int, c []float32, ldc int) {
	for j := 0; j < nb; j += nr {
		bpanel := bp[j*kb : (j+nr)*kb]
		cols := min(nr, nb-j)
		for i := 0; i < mb; i += mr {
			rows := min(mr, mb-i)
			micro4x4(kb, ap[i*kb:(i+mr)*kb], bpanel, c[i*ldc+j:], ldc, rows, cols)
		}
	}
}

// micro4x4 computes a 4×4 tile of A·B from packed panels in registers and
// adds its first rows×cols entries into C.
func micro4x4(kb int, a, b []float32, c []float32, ldc, rows, cols int) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	a = a[:kb*mr]
	b = b[:kb*nr]
	for p := 0; p < kb; p++ {
		ap := a[p*mr : p*mr+mr : p*mr+mr]
		bq := b[p*nr : p*nr+nr : p*nr+nr]
		b0, b1, b2, b3 := bq[0], bq[1], bq[2], bq[3]
		a0 := ap[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := ap[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := ap[2]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := ap[3]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	tile := [mr][nr]float32{
		{c00, c01, c02, c03},
		{c10, c11, c12, c13},
		{c20, c21, c22, c23},
		{c30, c31, c32, c33},
	}
	for i := 0; i < rows; i++ {
		row := c[i*ldc : i*ldc+cols]
		for j := range row {
			row[j] += tile[i][j]
		}
	}
}

var bufPool sync.Pool

// getBuf returns a scratch buffer of at least n floats from a pool.
func getBuf(n int) *[]float32 {
	if p, ok := bufPool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n)
	return &s
}

func putBuf(p *[]float32) { bufPool.Put(p) }

func roundUp(x, m int) int { return (x + m - 1) / m * m }
