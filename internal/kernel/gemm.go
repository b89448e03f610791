package kernel

import (
	"fmt"
	"runtime"
)

// parallelFlops is the m·n·k below which a GEMM runs on the calling
// goroutine: handing work to other threads costs more than it saves.
const parallelFlops = 1 << 20

// depth is the depth of the blocks a product over k is packed in: all of
// it when it is at most im.deep (C is then read and written once, which is
// what costs in a product into a large C: a weight's gradient over B·T rows,
// or the logits); else as few equal blocks of at most im.deep (a multiple of
// 8) as cover k: 3072 as four of 768, B·T = 1024 as two of 512 (each block
// adds C into C once more, and costs a hand-off between threads); kc when
// im.deep is 0.
func (im *impl) depth(k int) int {
	if k <= im.deep {
		return max(im.kc, k)
	}
	if im.deep > 0 {
		blocks := (k + im.deep - 1) / im.deep
		return roundUp((k+blocks-1)/blocks, 8)
	}
	return im.kc
}

// smallM is the largest m (rows of C) multiplied without packing, row by row
// with axpy or dot kernels: for matrix-vector shapes packing B would cost as
// much as the product.
const smallM = 4

// Gemm computes C = alpha·op(A)·op(B) + beta·C, where op(X) is X or Xᵀ.
//
// op(A) is m×k and op(B) is k×n; C is m×n with leading dimension ldc. A is
// stored m×k (lda ≥ k) when transA is false and k×m (lda ≥ m) when true;
// likewise B is stored k×n (ldb ≥ n) or n×k (ldb ≥ k). When beta is 0, C is
// overwritten and its old contents (even NaN) do not matter, as in BLAS. C
// must not overlap A or B.
//
// Large products are split across GOMAXPROCS threads by blocks of rows and
// columns of C, and the result does not depend on the split; except that
// matrix-vector shapes (m ≤ 4) with B not transposed split the sum over k,
// so their rounding depends on the number of threads.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm(runtime.GOMAXPROCS(0), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil, false)
}

// GemmSerial is Gemm on the calling goroutine only, for callers that already
// run many products in parallel (one per attention head, say).
func GemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm(1, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil, false)
}

// gemm is Gemm on up to workers threads; with pre (nil: none), B's blocks
// come packed already instead of being packed here. With transC, C is
// stored transposed (n×m, row stride ldc): only for the products swapTransB
// makes, whose A is read in place (directA) and beta is 0.
func gemm(workers int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, pre *PackedB, transC bool) {
	if m <= 0 || n <= 0 {
		return
	}
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, transC)
	if k <= 0 || alpha == 0 || m <= smallM || beta != 0 {
		scaleC(m, n, beta, c, ldc)
	}
	if k <= 0 || alpha == 0 {
		return
	}
	if m <= smallM {
		// Matrix-vector shapes are bound by reading B: split them as soon as
		// B is larger than a few L2-sized pieces.
		if n*k < parallelFlops/16 {
			workers = 1
		}
		gemmSmallM(transA, transB, m, n, k, alpha, a, lda, b, ldb, c, ldc, workers)
		return
	}
	if impl := active; pre == nil && n > smallM && n < impl.nr/2 && m >= 2*impl.mr {
		// A few columns of C would fill a fraction of every nr-wide tile:
		// compute Cᵀ = op(B)ᵀ·op(A)ᵀ, whose n rows fill mr-row tiles, and
		// write it back transposed, or add it (a convolution's weight
		// gradient with one input channel: 9 columns).
		t := GetBuf(n * m)
		defer PutBuf(t)
		gemm(workers, !transB, !transA, n, m, k, alpha, b, ldb, a, lda, 0, *t, m, nil, false)
		transposeInto(*t, m, n, m, c, ldc, beta != 0) // C was scaled above
		return
	}
	if impl := active; pre == nil && transB && !transA && alpha == 1 && beta == 0 && impl.swapTransB(m, n, k, ldb) {
		// C = A·Bᵀ as (B·Aᵀ)ᵀ: B (n×k, a layer's weight in its input
		// gradient) is then read in place as the left operand and only A
		// (m×k, the batch's output gradient) is packed, transposed, instead
		// of B; each mr×nr tile of B·Aᵀ is stored transposed, nr rows of
		// mr values of C.
		gemm(workers, false, true, n, m, k, 1, b, ldb, a, lda, 0, c, ldc, nil, true)
		return
	}
	if m*n*k < parallelFlops {
		workers = 1
	}
	impl := active
	kc := impl.depth(k) // as PackB's blocks
	direct := pre == nil && !transB && impl.directB(n, ldb)
	directA := pre == nil && !transA && alpha == 1 && impl.directA(lda, n)
	if transC && (!directA || beta != 0) {
		panic("kernel: gemm: a transposed C needs A in place and beta 0")
	}
	var bp *[]float32
	if pre == nil && !direct {
		bp = GetBuf(kc * roundUp(min(n, impl.nc), impl.nr))
		defer PutBuf(bp)
	}
	for jc := 0; jc < n; jc += impl.nc {
		nb := min(impl.nc, n-jc)
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			var block []float32
			switch {
			case direct:
				block = b[pc*ldb+jc:]
			case pre != nil:
				block = pre.block(jc, pc)
			default:
				block = *bp
				// Pack B in parallel too: for a transposed B it costs as
				// much as a fifth of the multiply.
				packBlock(block, impl, transB, b, ldb, pc, jc, kb, nb, workers)
			}
			partition(impl, m, nb, workers, func(r0, r1, c0, c1 int) {
				ap := GetBuf(impl.mc*kc + impl.mr*impl.nr)
				tile := (*ap)[impl.mc*kc:]
				for i0 := r0; i0 < r1; i0 += impl.mc {
					ic, mb := i0, min(impl.mc, r1-i0)
					// With beta 0, C was not cleared: the first k block overwrites it.
					add := pc > 0 || beta != 0
					var cb []float32
					if transC {
						cb = c[(jc+c0)*ldc+ic:]
					} else {
						cb = c[ic*ldc+jc+c0:]
					}
					if directA { // whole panels in place, the rest packed
						full := mb - mb%impl.mr
						packA(*ap, impl, transA, a, lda, ic+full, pc, mb-full, kb, alpha)
						bsrc := block[c0*kb:]
						if direct {
							bsrc = block[c0:]
						}
						macroKernelA(impl, a[ic*lda+pc:], lda, *ap, bsrc, ldb, direct, tile, mb, c1-c0, kb, cb, ldc, add, transC)
						continue
					}
					packA(*ap, impl, transA, a, lda, ic, pc, mb, kb, alpha)
					if direct {
						macroKernelB(impl, *ap, block[c0:], ldb, tile, mb, c1-c0, kb, cb, ldc, add)
					} else {
						macroKernel(impl, *ap, block[c0*kb:], tile, mb, c1-c0, kb, cb, ldc, add)
					}
				}
				PutBuf(ap)
			})
		}
	}
}

// directB reports whether an untransposed B of n columns with row stride
// ldb is multiplied in place, by impl.microB, rather than packed: packing
// costs a pass over B (a weight, streaming from memory) for every product,
// as much as a tenth of it when op(A) has 256 rows. It needs whole panels
// (n a multiple of nr), and rows of B that spread over the cache: rows
// 4·ldb bytes apart fall in 64 KB/gcd(4·ldb, 64 KB) sets of a 16-way 1 MB
// L2, only 16 of them for ldb = 3072, where reading in place measured 15-31%
// slower than packing; 64 for ldb = 768 or 2304, where it measured 0-4%
// faster with 1024 rows and 2-22% with 256 (cold B, 2 threads, Zen 5).
func (im *impl) directB(n, ldb int) bool {
	return im.microB != nil && n%im.nr == 0 && ldb%512 != 0
}

// directA reports whether an untransposed A with row stride lda, times n
// columns of B, is multiplied in place by impl.microA rather than packed
// (its whole mr-row panels; alpha must be 1). In place saves a pass over A
// for every block of B's columns but costs more per multiply (its loads
// come from twelve rows, not one panel), so it is used for products of at
// most 1024 columns: measured 2-9% faster there with 256 or 1024 rows, and
// 5-7% slower at 3072 columns with 1024 rows (cold operands, 2 threads).
// Rows with lda a multiple of 2048 would fall in too few sets of a 16-way
// L2 (see directB).
func (im *impl) directA(lda, n int) bool {
	return im.microA != nil && lda%2048 != 0 && n <= 1024
}

// swapTransB reports whether C = A·Bᵀ (m×n, depth k, B's row stride ldb)
// is computed as (B·Aᵀ)ᵀ, B read in place: when packing B (n·k) would cost
// more than packing A (m·k) and writing C transposed (m·n), and A has rows
// enough to fill B-wide panels.
func (im *impl) swapTransB(m, n, k, ldb int) bool {
	return im.directA(ldb, m) && m >= im.nr && m < n && 2*m < k
}

// GemmBatched runs batch independent GEMMs with the same shapes:
// C_i = alpha·op(A_i)·op(B_i) + beta·C_i, where A_i starts at a[i*strideA],
// and so on. A stride of 0 reuses one matrix for every batch entry (e.g. a
// weight shared by all sequences); C's stride must not be 0 unless batch is
// 1. Layouts are as in Gemm.
func GemmBatched(transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int, batch int) {
	if batch <= 0 {
		return
	}
	if batch > 1 && strideC == 0 {
		panic("kernel: GemmBatched with strideC 0 would race")
	}
	workers := runtime.GOMAXPROCS(0)
	if batch == 1 || workers == 1 || m*n*k >= parallelFlops || batch*m*n*k < parallelFlops {
		for i := 0; i < batch; i++ {
			Gemm(transA, transB, m, n, k, alpha, a[i*strideA:], lda, b[i*strideB:], ldb, beta, c[i*strideC:], ldc)
		}
		return
	}
	// Many small products: each worker takes whole matrices, each of which
	// runs serially inside Gemm.
	parallelFor(batch, workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			GemmSerial(transA, transB, m, n, k, alpha, a[i*strideA:], lda, b[i*strideB:], ldb, beta, c[i*strideC:], ldc)
		}
	})
}

// checkGemm panics, before any memory is touched, when a slice is too short
// for the shapes and leading dimensions: a programming error in the caller.
func checkGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, transC bool) {
	checkOp("A", transA, m, k, lda, len(a))
	checkOp("B", transB, k, n, ldb, len(b))
	checkOp("C", transC, m, n, ldc, len(c))
}

// checkOp is checkMatrix for an operand op(X) of rows×cols, stored
// transposed (cols×rows) when trans.
func checkOp(name string, trans bool, rows, cols, ld, size int) {
	if trans {
		rows, cols = cols, rows
	}
	checkMatrix(name, rows, cols, ld, size)
}

// checkMatrix panics unless a rows×cols matrix with leading dimension ld
// fits in size elements.
func checkMatrix(name string, rows, cols, ld, size int) {
	need := 0
	if rows > 0 && cols > 0 {
		need = (rows-1)*ld + cols
	}
	if ld < cols || size < need {
		panic(fmt.Sprintf("kernel: Gemm: %s (%d×%d, ld %d) does not fit in %d elements", name, rows, cols, ld, size))
	}
}

// transposeInto writes the transpose of t (rows×cols, row stride ldt)
// into c (cols×rows, row stride ldc), or adds it there when add is set:
// c[q*ldc+r] = t[r*ldt+q].
func transposeInto(t []float32, ldt, rows, cols int, c []float32, ldc int, add bool) {
	for r := 0; r < rows; r++ {
		for q, v := range t[r*ldt : r*ldt+cols] {
			if add {
				v += c[q*ldc+r]
			}
			c[q*ldc+r] = v
		}
	}
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

// gemmSmallM handles m ≤ smallM: each row of alpha·op(A) is gathered into a
// contiguous vector, then C's rows are built from dot products with B's
// rows (B transposed), split over columns across workers, or from rows of
// B, four at a time (B not transposed), split over the rows of B: each
// worker then reads one contiguous part of B, and adds into its own copy of
// C, summed at the end.
func gemmSmallM(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, workers int) {
	ab := GetBuf(m*k + 4*max(workers, 1)) // the rows, then each chunk's dot4 results
	defer PutBuf(ab)
	rows := (*ab)[:m*k]
	for i := 0; i < m; i++ {
		row := rows[i*k : (i+1)*k]
		for p := range row {
			if transA {
				row[p] = alpha * a[p*lda+i]
			} else {
				row[p] = alpha * a[i*lda+p]
			}
		}
	}
	if !transB {
		chunks := 1
		if workers > 1 {
			chunks = min(workers, k/16)
		}
		if chunks <= 1 {
			rowsTimesB(m, n, 0, k, rows, k, b, ldb, c, ldc)
			return
		}
		sb := GetBuf((chunks - 1) * m * n)
		defer PutBuf(sb)
		partial := *sb
		clear(partial)
		parallelFor(chunks, chunks, func(lo, hi int) {
			for t := lo; t < hi; t++ {
				p0, p1 := k*t/chunks, k*(t+1)/chunks
				if t == 0 {
					rowsTimesB(m, n, p0, p1, rows, k, b, ldb, c, ldc)
				} else {
					rowsTimesB(m, n, p0, p1, rows, k, b, ldb, partial[(t-1)*m*n:], n)
				}
			}
		})
		for t := 1; t < chunks; t++ {
			for i := 0; i < m; i++ {
				Add(partial[((t-1)*m+i)*n:((t-1)*m+i+1)*n], c[i*ldc:i*ldc+n])
			}
		}
		return
	}
	chunks := 1
	if workers > 1 {
		chunks = min(workers, (n+63)/64)
	}
	outs := (*ab)[m*k:]
	if chunks == 1 { // no closure to allocate: attention calls this per head
		rowsDotB(m, k, 0, n, rows, b, ldb, c, ldc, (*[4]float32)(outs))
		return
	}
	blocks := (n + 63) / 64 // chunks of whole 64-column blocks
	parallelFor(chunks, chunks, func(lo, hi int) {
		j0, j1 := min(n, 64*(blocks*lo/chunks)), min(n, 64*(blocks*hi/chunks))
		rowsDotB(m, k, j0, j1, rows, b, ldb, c, ldc, (*[4]float32)(outs[4*lo:]))
	})
}

// rowsDotB adds the dot products of rows (m rows of length k) with rows
// j0 … j1-1 of B (stored n×k) to columns j0 … j1-1 of C's m rows; out is
// scratch for four dot products (not a local: the assembly's pointer would
// move it to the heap on every call).
func rowsDotB(m, k, j0, j1 int, rows, b []float32, ldb int, c []float32, ldc int, out *[4]float32) {
	im := active
	for i := 0; i < m; i++ {
		row, crow := rows[i*k:(i+1)*k], c[i*ldc:]
		j := j0
		if im.dot4 != nil && k >= 8 && m > 1 {
			// Four rows of B at a time share the loads of row. For one row
			// of A, B's rows go one at a time: one sequential stream, which
			// a core reads faster than four (see rowsTimesB).
			k8 := k &^ 7
			for ; j+4 <= j1; j += 4 {
				_ = b[(j+3)*ldb+k-1]
				im.dot4(k8, &row[0], &b[j*ldb], ldb, out)
				for q, s := range out {
					for p := k8; p < k; p++ {
						s += row[p] * b[(j+q)*ldb+p]
					}
					crow[j+q] += s
				}
			}
		}
		for ; j < j1; j++ {
			crow[j] += im.dot(row, b[j*ldb:j*ldb+k])
		}
	}
}

// rowsTimesB adds rows[i][p0:p1]·B[p0:p1, :] to row i of C for i < m: B's
// rows are read in order, four at a time when m > 1, each group in one
// pass over C's rows. rows holds m rows of length k.
func rowsTimesB(m, n, p0, p1 int, rows []float32, k int, b []float32, ldb int, c []float32, ldc int) {
	p := p0
	// One row of x reads B one row at a time: a single sequential stream,
	// which one core reads faster than four interleaved ones (GPT-2 small's
	// decoding from float32 weights, 55-59 -> 60-65 tokens/s); C's row stays
	// in L1 either way.
	if im := active; im.axpy4 != nil && n >= 8 && m > 1 {
		n8 := n &^ 7
		for ; p+4 <= p1; p += 4 {
			_ = b[(p+3)*ldb+n-1]
			for i := 0; i < m; i++ {
				x, crow := rows[i*k+p:i*k+p+4], c[i*ldc:i*ldc+n]
				im.axpy4(n8, &x[0], &b[p*ldb], ldb, &crow[0])
				for j := n8; j < n; j++ {
					q := p*ldb + j
					crow[j] += x[0]*b[q] + x[1]*b[q+ldb] + x[2]*b[q+2*ldb] + x[3]*b[q+3*ldb]
				}
			}
		}
	}
	for ; p < p1; p++ {
		brow := b[p*ldb : p*ldb+n]
		for i := 0; i < m; i++ {
			active.axpy(rows[i*k+p], brow, c[i*ldc:i*ldc+n])
		}
	}
}

// partition splits an m×n block of C into one rectangle per worker, of
// whole micro-tiles and as equal as they can be: by rows when there are
// enough (each worker then streams the whole packed B), else by columns. It
// runs task(r0, r1, c0, c1) for each rectangle [r0, r1) × [c0, c1) and
// returns when all are done.
func partition(impl *impl, m, n, workers int, task func(r0, r1, c0, c1 int)) {
	rowPanels, colPanels := (m+impl.mr-1)/impl.mr, (n+impl.nr-1)/impl.nr
	byRows := rowPanels >= 2*workers || rowPanels >= colPanels
	parts := min(workers, max(rowPanels, 1))
	if !byRows {
		parts = min(workers, max(colPanels, 1))
	}
	if parts <= 1 {
		task(0, m, 0, n)
		return
	}
	parallelFor(parts, parts, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			if byRows {
				r0, r1 := min(m, impl.mr*(rowPanels*t/parts)), min(m, impl.mr*(rowPanels*(t+1)/parts))
				task(r0, r1, 0, n)
			} else {
				c0, c1 := min(n, impl.nr*(colPanels*t/parts)), min(n, impl.nr*(colPanels*(t+1)/parts))
				task(0, m, c0, c1)
			}
		}
	})
}

// macroKernel adds (or, when add is false, stores) the product of a packed
// mb×kb block of A and a packed kb×nb block of B into C, one mr×nr tile at a
// time. Edge tiles go through the scratch tile (mr·nr floats) so the
// micro-kernel always writes a full tile.
func macroKernel(impl *impl, ap, bp, tile []float32, mb, nb, kb int, c []float32, ldc int, add bool) {
	mr, nr := impl.mr, impl.nr
	for j := 0; j < nb; j += nr {
		bpanel := bp[j*kb : (j+nr)*kb]
		cols := min(nr, nb-j)
		for i := 0; i < mb; i += mr {
			apanel := ap[i*kb : (i+mr)*kb]
			rows := min(mr, mb-i)
			if rows == mr && cols == nr {
				impl.micro(kb, apanel, bpanel, c[i*ldc+j:], ldc, add)
				continue
			}
			micro, kr := impl.micro, mr // the smallest kernel that covers the rows
			for _, e := range impl.edges {
				if e.rows >= rows {
					micro, kr = e.micro, e.rows
					break
				}
			}
			if rows == kr && cols == nr {
				micro(kb, apanel, bpanel, c[i*ldc+j:], ldc, add)
				continue
			}
			micro(kb, apanel, bpanel, tile, nr, false)
			storeTile(tile, nr, rows, cols, c[i*ldc+j:], ldc, add)
		}
	}
}

// storeTile adds (or, when add is false, copies) the first rows×cols of a
// tile with row stride nr into C.
func storeTile(tile []float32, nr, rows, cols int, c []float32, ldc int, add bool) {
	for r := 0; r < rows; r++ {
		dst := c[r*ldc : r*ldc+cols]
		if add {
			Add(tile[r*nr:r*nr+cols], dst)
		} else {
			copy(dst, tile[r*nr:r*nr+cols])
		}
	}
}

// macroKernelB is macroKernel for a B read in place by impl.microB: nb
// (a multiple of nr) columns of b, row stride ldb.
func macroKernelB(impl *impl, ap, b []float32, ldb int, tile []float32, mb, nb, kb int, c []float32, ldc int, add bool) {
	mr, nr := impl.mr, impl.nr
	for j := 0; j < nb; j += nr {
		bpanel := b[j:]
		for i := 0; i < mb; i += mr {
			apanel := ap[i*kb : (i+mr)*kb]
			rows := min(mr, mb-i)
			micro, kr := impl.microB, mr // the smallest kernel that covers the rows
			for _, e := range impl.edges {
				if e.rows >= rows {
					micro, kr = e.microB, e.rows
					break
				}
			}
			if rows == kr {
				micro(kb, apanel, bpanel, ldb, c[i*ldc+j:], ldc, add)
				continue
			}
			micro(kb, apanel, bpanel, ldb, tile, nr, false)
			storeTile(tile, nr, rows, nr, c[i*ldc+j:], ldc, add)
		}
	}
}

// macroKernelA is macroKernel with A's whole mr-row panels read in place
// by impl.microA (impl.microAB when direct): mb rows of a, row stride lda,
// the last mb%mr of them packed in rest (a panel kb×mr) instead. B is packed
// panels, or when direct a row-major B read in place, row stride ldb. Each
// B panel is used by every row before the next: it may be streaming from
// memory.
func macroKernelA(impl *impl, a []float32, lda int, rest, b []float32, ldb int, direct bool, tile []float32, mb, nb, kb int, c []float32, ldc int, add, transC bool) {
	mr, nr := impl.mr, impl.nr
	full := mb - mb%mr
	for j := 0; j < nb; j += nr {
		bpanel := b[j*kb:]
		if direct {
			bpanel = b[j:]
		}
		cols := min(nr, nb-j)
		for i := 0; i < full; i += mr {
			dst, ld, into := tile, nr, false
			if cols == nr && !transC {
				dst, ld, into = c[i*ldc+j:], ldc, add
			}
			if direct {
				impl.microAB(kb, a[i*lda:], lda, bpanel, ldb, dst, ld, into)
			} else {
				impl.microA(kb, a[i*lda:], lda, bpanel, dst, ld, into)
			}
			switch {
			case transC:
				storeTileT(impl, tile, mr, cols, c[j*ldc+i:], ldc, add)
			case cols != nr:
				storeTile(tile, nr, mr, cols, c[i*ldc+j:], ldc, add)
			}
		}
		if full == mb {
			continue
		}
		rows, kr := mb-full, mr // the smallest kernel that covers the rows
		micro, microB := impl.micro, impl.microB
		for _, e := range impl.edges {
			if e.rows >= rows {
				micro, microB, kr = e.micro, e.microB, e.rows
				break
			}
		}
		viaTile := rows != kr || cols != nr || transC
		dst, ld, into := tile, nr, false
		if !viaTile {
			dst, ld, into = c[full*ldc+j:], ldc, add
		}
		if direct {
			microB(kb, rest, bpanel, ldb, dst, ld, into)
		} else {
			micro(kb, rest, bpanel, dst, ld, into)
		}
		switch {
		case transC:
			storeTileT(impl, tile, rows, cols, c[j*ldc+full:], ldc, add)
		case viaTile:
			storeTile(tile, nr, rows, cols, c[full*ldc+j:], ldc, add)
		}
	}
}

// storeTileT adds (or, when add is false, copies) the transpose of the
// first rows×cols of a tile with row stride nr into C: C[q][r] = tile[r][q].
func storeTileT(im *impl, tile []float32, rows, cols int, c []float32, ldc int, add bool) {
	nr := im.nr
	_ = c[(cols-1)*ldc+rows-1]
	if rows == 12 && cols%8 == 0 && im.packBT12 != nil && im.addBT12 != nil {
		_ = tile[11*nr+cols-1]
		if add {
			im.addBT12(cols, &tile[0], nr, &c[0], ldc)
		} else {
			im.packBT12(cols, &tile[0], nr, &c[0], ldc, 1)
		}
		return
	}
	transposeInto(tile, nr, rows, cols, c, ldc, add)
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }
