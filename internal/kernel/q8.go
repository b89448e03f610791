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
	if cap(q.Qs) < rows*cols || cap(q.D) < rows*cols/32 {
		q.Qs, q.D = make([]int8, rows*cols), make([]float32, rows*cols/32)
	}
	q.Qs, q.D = q.Qs[:rows*cols], q.D[:rows*cols/32]
	for b := range q.D {
		q.D[b] = quantizeBlock(q.Qs[32*b:32*b+32], x[32*b:32*b+32])
	}
}

// quantizeBlock quantizes 32 values of x into qs and returns the scale (see
// QuantizeQ8).
func quantizeBlock(qs []int8, x []float32) float32 {
	qs, x = qs[:32], x[:32]
	var amax uint32 // max |x| by its bits: non-negative floats order as their bits do
	for _, v := range x {
		amax = max(amax, math.Float32bits(v)&^(1<<31))
	}
	d := math.Float32frombits(amax) / 127
	var id float32
	if d != 0 {
		id = 1 / d
	}
	for i, v := range x {
		r := float64(v * id) // rounded half away from zero, as math.Round: exact in float64
		qs[i] = int8(int32(r + math.Copysign(0.5, r)))
	}
	return HalfToFloat(FloatToHalf(d)) // stored as a half, as GGML stores it; the int8s use d itself, as GGML's do
}

// Q8Panels is a Q8 matrix laid out for the dot kernels, so that a product
// reads it as two sequential streams instead of eight interleaved ones
// (four rows' values and four rows' scales), which one core's prefetchers
// follow at under half the speed. Rows go in groups of four and columns
// in pairs of blocks (64 values), both padded with zeros; Qs holds, for
// each group and pair, the four rows' 64 values one after the other, and D,
// for each group and chunk of sixteen blocks, the four rows' sixteen
// scales one after the other (zeros past the last block).
type Q8Panels struct {
	Rows, Cols int
	Qs         []int8
	D          []float32
}

// pairs is the number of 64-value pairs of blocks in a padded row of n
// values; chunks the number of sixteen-block chunks.
func pairs(n int) int  { return (n + 63) / 64 }
func chunks(n int) int { return (n + 511) / 512 }

// PackQ8 lays q out as panels (see Q8Panels).
func PackQ8(q *Q8) *Q8Panels {
	groups, np, nc := (q.Rows+3)/4, pairs(q.Cols), chunks(q.Cols)
	p := &Q8Panels{Rows: q.Rows, Cols: q.Cols, Qs: make([]int8, groups*np*256), D: make([]float32, groups*nc*64)}
	blocks := q.Cols / 32
	for r := range q.Rows {
		g, j := r/4, r%4
		for b := range blocks {
			pair, half := b/2, b%2
			copy(p.Qs[(g*np+pair)*256+64*j+32*half:][:32], q.Qs[r*q.Cols+32*b:][:32])
			p.D[(g*nc+b/16)*64+16*j+b%16] = q.D[r*blocks+b]
		}
	}
	return p
}

// GemvQ8 sets y (m × w.Rows, row stride ldy) to x (m × w.Cols) times the
// transpose of w, or adds that product into y when add: y[i][r] =
// Σ_c x[i][c]·w[r][c]. Each row of x is quantized to Q8_0 first and the
// int8 products are summed per block, as GGML's q8_0 product does, so a
// row's result does not depend on the other rows. See gemvGroups for how
// the work is split.
func GemvQ8(x []float32, m int, w *Q8Panels, y []float32, ldy int, add bool) {
	if len(x) < m*w.Cols {
		panic(fmt.Sprintf("kernel: GemvQ8 of %d values as %d×%d", len(x), m, w.Cols))
	}
	xq := q8Pool.Get().(*Q8) // the quantized rows, reused: a product per layer per token
	defer q8Pool.Put(xq)
	np, nc := pairs(w.Cols), chunks(w.Cols)
	quantizeQ8Padded(xq, x, m, w.Cols, np*64, nc*16)
	dot := active.dotQ8x4
	if dot == nil {
		dot = dotQ8x4Go
	}
	gemvGroups(w.Rows, m, y, ldy, add, func(i, g, n int, out []float32) {
		dot(n, np, xq.Qs[i*np*64:], xq.D[i*nc*16:], w.Qs[g*np*256:], w.D[g*nc*64:], out)
	})
}

// gemvGroups computes y (m × rows, row stride ldy), or adds it into y when
// add, with dots(i, g, n, out), which sets out[4k+j] to row i of the left
// operand times row 4(g+k)+j of the matrix, for k < n groups of four rows.
// The groups are split across the worker pool; each worker takes q8Batch
// groups at a time through every row of x while they are in cache.
func gemvGroups(rows, m int, y []float32, ldy int, add bool, dots func(i, g, n int, out []float32)) {
	if m > 0 && len(y) < (m-1)*ldy+rows {
		panic(fmt.Sprintf("kernel: a product of %d×%d into %d values with stride %d", m, rows, len(y), ldy))
	}
	groups := (rows + 3) / 4
	workers := min(runtime.GOMAXPROCS(0), max(1, groups*m/16))
	parallelFor(workers, workers, func(lo, hi int) {
		out := make([]float32, 4*q8Batch)
		for g := groups * lo / workers; g < groups*hi/workers; g += q8Batch {
			n := min(q8Batch, groups*hi/workers-g)
			r0, r1 := 4*g, min(4*(g+n), rows)
			for i := range m {
				dots(i, g, n, out)
				yi := y[i*ldy+r0 : i*ldy+r1]
				if add {
					for j, v := range out[:len(yi)] {
						yi[j] += v
					}
				} else {
					copy(yi, out)
				}
			}
		}
	})
}

// q8Batch is how many groups of four rows gemvGroups multiplies at a
// time: 64 rows of 768 values are 48 KiB in Q8_0 (96 in halves), read once
// from memory for every row of x.
const q8Batch = 16

var q8Pool = sync.Pool{New: func() any { return new(Q8) }}

// quantizeQ8Padded quantizes the m rows of x (cols values each, a multiple
// of 32) as QuantizeQ8 does into rows of ld values and ldd scales, zeros
// past cols.
func quantizeQ8Padded(q *Q8, x []float32, m, cols, ld, ldd int) {
	if cap(q.Qs) < m*ld || cap(q.D) < m*ldd {
		q.Qs, q.D = make([]int8, m*ld), make([]float32, m*ldd)
	}
	q.Rows, q.Cols, q.Qs, q.D = m, ld, q.Qs[:m*ld], q.D[:m*ldd]
	clear(q.Qs)
	clear(q.D)
	for i := range m {
		for b := range cols / 32 {
			q.D[i*ldd+b] = quantizeBlock(q.Qs[i*ld+32*b:][:32], x[i*cols+32*b:][:32])
		}
	}
}

// dotQ8x4Go is the Q8_0 dot kernels' contract in Go: for each of groups
// groups of panels (ws, wds; see Q8Panels) and j < 4, out[4g+j] is the dot
// product of a quantized row (xs, xds: pairs pairs of blocks, its scales
// in chunks of sixteen) with row j of group g: Σ_b xds[b]·(row j's scale
// b)·Σ_{i<32} xs[32b+i]·(row j's value 32b+i).
func dotQ8x4Go(groups, pairs int, xs []int8, xds []float32, ws []int8, wds []float32, out []float32) {
	nc := (pairs + 7) / 8
	for g := range groups {
		dotQ8Group(pairs, xs, xds, ws[g*pairs*256:], wds[g*nc*64:], (*[4]float32)(out[4*g:]))
	}
}

func dotQ8Group(pairs int, xs []int8, xds []float32, ws []int8, wds []float32, out *[4]float32) {
	for j := range out {
		var sum float32
		for b := range 2 * pairs {
			var isum int32
			for i := range 32 {
				isum += int32(xs[32*b+i]) * int32(ws[b/2*256+64*j+32*(b%2)+i])
			}
			sum += xds[b] * wds[b/16*64+16*j+b%16] * float32(isum)
		}
		out[j] = sum
	}
}
