package kernel

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Q8 is a matrix of Rows rows of Cols values, Cols a multiple of 32, in
// blocks of 32 as GGML's Q8_0: value (r, 32b+i) is
// Qs[r*Cols+32b+i]·D[r*Cols/32+b], with every |Qs| ≤ 127.
type Q8 struct {
	Rows, Cols int
	Qs         []int8
	D          []float32
}

// QuantizeQ8 stores the rows × cols values of x (row-major, cols a multiple
// of 32) in q, as GGML's Q8_0 rounds them: per block the scale
// d = max|x|/127, kept as the nearest half (as GGML stores it), and each
// value x·(1/d) rounded half away from zero. q's slices are reused when
// large enough.
func QuantizeQ8(q *Q8, x []float32, rows, cols int) {
	if cols%32 != 0 || len(x) < rows*cols {
		panic(fmt.Sprintf("kernel: QuantizeQ8 of %d values as %d×%d", len(x), rows, cols))
	}
	q.Rows, q.Cols = rows, cols
	if cap(q.Qs) < rows*cols {
		q.Qs, q.D = make([]int8, rows*cols), make([]float32, rows*cols/32)
	}
	q.Qs, q.D = q.Qs[:rows*cols], q.D[:rows*cols/32]
	for b := range q.D {
		blk := x[32*b : 32*b+32]
		var amax float32
		for _, v := range blk {
			amax = max(amax, abs32(v))
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		q.D[b] = HalfToFloat(FloatToHalf(d)) // stored as a half, as GGML stores it; the int8s use d itself, as GGML's do
		for i, v := range blk {
			q.Qs[32*b+i] = int8(math.Round(float64(v * id)))
		}
	}
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

// GemvQ8 sets y (m × w.Rows, row stride ldy) to x (m × w.Cols) times the
// transpose of w, or adds that product into y when add: y[i][r] =
// Σ_c x[i][c]·w[r][c]. Each row of x is quantized to Q8_0 first and the
// int8 products are summed per block, as GGML's q8_0 product does, so a
// row's result does not depend on the other rows. See gemvRows for how
// the work is split.
func GemvQ8(x []float32, m int, w *Q8, y []float32, ldy int, add bool) {
	xq := q8Pool.Get().(*Q8) // the quantized rows, reused: a product per layer per token
	defer q8Pool.Put(xq)
	QuantizeQ8(xq, x, m, w.Cols)
	blocks := w.Cols / 32
	gemvRows(w.Rows, m, y, ldy, add, func(i, r int, out []float32) {
		dotQ8Rows(xq.Qs[i*w.Cols:(i+1)*w.Cols], xq.D[i*blocks:(i+1)*blocks], w, r, r+len(out), out)
	})
}

var q8Pool = sync.Pool{New: func() any { return new(Q8) }}

// gemvRows computes y (m × rows, row stride ldy), or adds it into y when
// add, with dots(i, r, out), which sets out[j] to row i of the left
// operand times row r+j of the matrix, for up to four rows at once. The
// matrix's rows are split across the worker pool, and each group of four
// is used for every row of the left operand while it is in cache.
func gemvRows(rows, m int, y []float32, ldy int, add bool, dots func(i, r int, out []float32)) {
	workers := min(runtime.GOMAXPROCS(0), max(1, rows*m/64))
	parallelFor(workers, workers, func(lo, hi int) {
		r0, r1 := rows*lo/workers&^3, rows*hi/workers&^3
		if hi == workers {
			r1 = rows
		}
		var four [4]float32
		for r := r0; r < r1; r += 4 {
			n := min(4, r1-r)
			for i := range m {
				dots(i, r, four[:n])
				yi := y[i*ldy+r : i*ldy+r+n]
				for j, v := range four[:n] {
					if add {
						yi[j] += v
					} else {
						yi[j] = v
					}
				}
			}
		}
	})
}

// dotQ8Rows sets y[r-r0] for r in [r0, r1): the dot products of one
// quantized row with rows of w, four at a time where the CPU has a kernel
// for it.
func dotQ8Rows(xs []int8, xd []float32, w *Q8, r0, r1 int, y []float32) {
	blocks := w.Cols / 32
	r := r0
	if dot := active.dotQ8x4; dot != nil && blocks > 0 {
		for ; r+4 <= r1; r += 4 {
			_ = w.Qs[(r+3)*w.Cols+w.Cols-1]
			_ = w.D[(r+3)*blocks+blocks-1]
			dot(blocks, &xs[0], &xd[0], &w.Qs[r*w.Cols], w.Cols, &w.D[r*blocks], blocks, (*[4]float32)(y[r-r0:r-r0+4]))
		}
	}
	for ; r < r1; r++ {
		y[r-r0] = dotQ8Go(xs, xd, w.Qs[r*w.Cols:(r+1)*w.Cols], w.D[r*blocks:(r+1)*blocks])
	}
}

// dotQ8Go is one quantized dot product in Go.
func dotQ8Go(xs []int8, xd []float32, ws []int8, wd []float32) float32 {
	var sum float32
	for b := range wd {
		var isum int32
		for i := 32 * b; i < 32*b+32; i++ {
			isum += int32(xs[i]) * int32(ws[i])
		}
		sum += xd[b] * wd[b] * float32(isum)
	}
	return sum
}
