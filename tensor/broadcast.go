package tensor

import (
	"fmt"

	"github.com/moxing/moxing/internal/kernel"
)

// broadcastShape returns the NumPy broadcast of shapes a and b: shapes are
// aligned at their last axis, and each pair of sizes must be equal or one of
// them 1.
func broadcastShape(op string, a, b []int) []int {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			panic(fmt.Sprintf("tensor: %s: shapes %v and %v do not broadcast", op, a, b))
		}
	}
	return out
}

// bcastStrides returns the strides that read a tensor of shape shape as if it
// had the (broadcast) shape out: 0 on axes that shape lacks or has as 1.
func bcastStrides(shape, out []int) []int {
	s := make([]int, len(out))
	own := stridesOf(shape)
	off := len(out) - len(shape)
	for i := range shape {
		if shape[i] != 1 {
			s[off+i] = own[i]
		}
	}
	return s
}

// walk visits every element of an array of shape out, one innermost run at a
// time. Each operand k is read with strides st[k] (from bcastStrides or
// stridesOf). For each run, fn gets the output offset o, each operand's start
// offset off[k] and step step[k], and the run length n: element j of the run
// is out[o+j] with operand k at off[k] + j*step[k]. Adjacent axes that are
// contiguous in every operand are merged first, so same-shape operands give a
// single run.
func walk(out []int, st [][]int, fn func(o int, off, step []int, n int)) {
	k := len(st)
	// Merge axes i-1 and i where every operand (and the output) is contiguous across them.
	dims := append([]int(nil), out...)
	strides := make([][]int, k)
	for j := range st {
		strides[j] = append([]int(nil), st[j]...)
	}
	for i := len(dims) - 1; i > 0; i-- {
		ok := true
		for j := 0; j < k; j++ {
			if strides[j][i-1] != strides[j][i]*dims[i] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		dims[i-1] *= dims[i]
		dims = append(dims[:i], dims[i+1:]...)
		for j := 0; j < k; j++ {
			strides[j] = append(strides[j][:i-1], strides[j][i:]...)
		}
	}
	off := make([]int, k)
	step := make([]int, k)
	if len(dims) == 0 {
		fn(0, off, step, 1)
		return
	}
	r := len(dims)
	n := dims[r-1]
	for j := 0; j < k; j++ {
		step[j] = strides[j][r-1]
	}
	if n == 0 || numel(dims) == 0 {
		return
	}
	rows := numel(dims[:r-1])
	idx := make([]int, r-1)
	for row := 0; row < rows; row++ {
		fn(row*n, off, step, n)
		// Advance the multi-index over the outer axes, updating offsets.
		for ax := r - 2; ax >= 0; ax-- {
			idx[ax]++
			for j := 0; j < k; j++ {
				off[j] += strides[j][ax]
			}
			if idx[ax] < dims[ax] {
				break
			}
			for j := 0; j < k; j++ {
				off[j] -= strides[j][ax] * dims[ax]
			}
			idx[ax] = 0
		}
	}
}

// sumInto adds g, of the broadcast shape out, into dst of shape shape,
// summing over the broadcast axes: the gradient of a broadcast.
func sumInto(dst []float32, shape []int, g []float32, out []int) {
	walk(out, [][]int{bcastStrides(shape, out)}, func(o int, off, step []int, n int) {
		d, s := off[0], step[0]
		switch s {
		case 0:
			var acc float32
			for _, v := range g[o : o+n] {
				acc += v
			}
			dst[d] += acc
		case 1:
			kernel.Add(g[o:o+n], dst[d:d+n])
		default:
			for j, v := range g[o : o+n] {
				dst[d+j*s] += v
			}
		}
	})
}
