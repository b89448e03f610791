package tensor

import (
	"fmt"
	"math"
)

// reduceShapes resolves axes (all axes when none are given) and returns the
// kept shape (reduced axes set to 1), the final shape (reduced axes dropped
// unless keepDim), and how many input elements fold into each output.
func (a *Tensor) reduceShapes(op string, keepDim bool, axes []int) (kept, final []int, count int) {
	reduce := make([]bool, len(a.shape))
	if len(axes) == 0 {
		for i := range reduce {
			reduce[i] = true
		}
	}
	for _, ax := range axes {
		i := a.axis(op, ax)
		if reduce[i] {
			panic(fmt.Sprintf("tensor: %s: axis %d given twice for shape %v", op, ax, a.shape))
		}
		reduce[i] = true
	}
	count = 1
	for i, d := range a.shape {
		if reduce[i] {
			kept = append(kept, 1)
			count *= d
			if keepDim {
				final = append(final, 1)
			}
			continue
		}
		kept = append(kept, d)
		final = append(final, d)
	}
	if final == nil {
		final = []int{}
	}
	return kept, final, count
}

// Sum returns the sum of a over axes (all axes when none are given); reduced
// axes are kept with size 1 when keepDim is set, else dropped.
// d/da = 1, broadcast back over the reduced axes.
func (a *Tensor) Sum(keepDim bool, axes ...int) *Tensor {
	kept, final, _ := a.reduceShapes("Sum", keepDim, axes)
	out := newOut("Sum", final, a)
	st := [][]int{bcastStrides(kept, a.shape)}
	walk(a.shape, st, func(o int, off, step []int, n int) {
		d, s := off[0], step[0]
		if s == 0 {
			var acc float64
			for _, v := range a.Data[o : o+n] {
				acc += float64(v)
			}
			out.Data[d] += float32(acc)
			return
		}
		for k, v := range a.Data[o : o+n] {
			out.Data[d+k*s] += v
		}
	})
	return out.record(func() {
		ga, g := gradOf(a), out.Grad.Data
		walk(a.shape, st, func(o int, off, step []int, n int) {
			d, s := off[0], step[0]
			for k := range ga[o : o+n] {
				ga[o+k] += g[d+k*s]
			}
		})
	})
}

// Mean returns the mean of a over axes (all when none are given), composed as
// Sum / count.
func (a *Tensor) Mean(keepDim bool, axes ...int) *Tensor {
	_, _, count := a.reduceShapes("Mean", keepDim, axes)
	return a.Sum(keepDim, axes...).MulScalar(1 / float32(count))
}

// Var returns the variance of a over axes (all when none are given):
// Σ(a - mean)² / (count - correction). correction 1 is the unbiased
// estimator (PyTorch's default), 0 the population variance (layer norm).
// Composed from primitives.
func (a *Tensor) Var(keepDim bool, correction int, axes ...int) *Tensor {
	_, _, count := a.reduceShapes("Var", keepDim, axes)
	d := a.Sub(a.Mean(true, axes...))
	return d.Mul(d).Sum(keepDim, axes...).MulScalar(1 / float32(count-correction))
}

// Max returns the maximum of a over axes (all when none are given). The
// gradient flows to the elements equal to the maximum, split evenly between
// ties (as PyTorch's amax).
func (a *Tensor) Max(keepDim bool, axes ...int) *Tensor {
	kept, final, _ := a.reduceShapes("Max", keepDim, axes)
	out := newOut("Max", final, a)
	for i := range out.Data {
		out.Data[i] = float32(math.Inf(-1))
	}
	st := [][]int{bcastStrides(kept, a.shape)}
	walk(a.shape, st, func(o int, off, step []int, n int) {
		d, s := off[0], step[0]
		for k, v := range a.Data[o : o+n] {
			if v > out.Data[d+k*s] || v != v { // NaN wins, as in PyTorch
				out.Data[d+k*s] = v
			}
		}
	})
	return out.record(func() {
		ga, g := gradOf(a), out.Grad.Data
		ties := make([]float32, len(out.Data))
		walk(a.shape, st, func(o int, off, step []int, n int) {
			d, s := off[0], step[0]
			for k, v := range a.Data[o : o+n] {
				if v == out.Data[d+k*s] {
					ties[d+k*s]++
				}
			}
		})
		walk(a.shape, st, func(o int, off, step []int, n int) {
			d, s := off[0], step[0]
			for k, v := range a.Data[o : o+n] {
				if v == out.Data[d+k*s] {
					ga[o+k] += g[d+k*s] / ties[d+k*s]
				}
			}
		})
	})
}
