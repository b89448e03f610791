package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// IndexSelect returns the entries of a at positions idx along axis, in that
// order (repeats allowed): with axis 0 on a (V, C) table it is an embedding
// lookup giving (len(idx), C). The gradient is scatter-added back, so a row
// selected twice receives both gradients.
func (a *Tensor) IndexSelect(axis int, idx []int) *Tensor {
	axis = a.axis("IndexSelect", axis)
	d := a.shape[axis]
	for i, v := range idx {
		if v < 0 || v >= d {
			panic(fmt.Sprintf("tensor: IndexSelect: index %d (position %d) out of range [0, %d) for axis %d of shape %v", v, i, d, axis, a.shape))
		}
	}
	shape := a.Shape()
	shape[axis] = len(idx)
	out := newOut("IndexSelect", shape, a)
	outer, inner := a.span(axis)
	for o := 0; o < outer; o++ {
		for j, v := range idx {
			copy(out.Data[(o*len(idx)+j)*inner:(o*len(idx)+j+1)*inner], a.Data[(o*d+v)*inner:])
		}
	}
	return out.record(func() {
		ga, g := gradOf(a), out.Grad.Data
		for o := 0; o < outer; o++ {
			for j, v := range idx {
				dst := ga[(o*d+v)*inner : (o*d+v+1)*inner]
				for i, gv := range g[(o*len(idx)+j)*inner : (o*len(idx)+j+1)*inner] {
					dst[i] += gv
				}
			}
		}
	})
}

// Gather picks, along axis, one entry of a per index, as torch.gather:
// viewing a as (outer, D, inner) and idx as (outer, K, inner) in row-major
// order, out[o][k][i] = a[o][idx[o][k][i]][i]. The result has a's shape with
// axis resized to K = len(idx)/(outer·inner). With a (N, V) of log
// probabilities and one index per row along axis 1, it picks each row's
// target: (N, 1). The gradient is scatter-added back.
func (a *Tensor) Gather(axis int, idx []int) *Tensor {
	axis = a.axis("Gather", axis)
	d := a.shape[axis]
	outer, inner := a.span(axis)
	if outer*inner == 0 || len(idx)%(outer*inner) != 0 {
		panic(fmt.Sprintf("tensor: Gather: %d indices do not fit shape %v along axis %d", len(idx), a.shape, axis))
	}
	k := len(idx) / (outer * inner)
	for i, v := range idx {
		if v < 0 || v >= d {
			panic(fmt.Sprintf("tensor: Gather: index %d (position %d) out of range [0, %d) for axis %d of shape %v", v, i, d, axis, a.shape))
		}
	}
	shape := a.Shape()
	shape[axis] = k
	out := newOut("Gather", shape, a)
	src := func(p int) int { // flat index in a of output position p
		o, rest := p/(k*inner), p%(k*inner)
		return (o*d+idx[p])*inner + rest%inner
	}
	for p := range out.Data {
		out.Data[p] = a.Data[src(p)]
	}
	return out.record(func() {
		ga := gradOf(a)
		for p, g := range out.Grad.Data {
			ga[src(p)] += g
		}
	})
}

// Where returns a where cond is nonzero and b elsewhere, broadcasting all
// three. cond is a constant mask (it gets no gradient). d/da = cond,
// d/db = 1 - cond.
func Where(cond, a, b *Tensor) *Tensor {
	shape := broadcastShape("Where", broadcastShape("Where", cond.shape, a.shape), b.shape)
	out := newOut("Where", shape, a, b)
	st := [][]int{bcastStrides(cond.shape, shape), bcastStrides(a.shape, shape), bcastStrides(b.shape, shape)}
	walk(shape, st, func(o int, off, step []int, n int) {
		for j := 0; j < n; j++ {
			if cond.Data[off[0]+j*step[0]] != 0 {
				out.Data[o+j] = a.Data[off[1]+j*step[1]]
			} else {
				out.Data[o+j] = b.Data[off[2]+j*step[2]]
			}
		}
	})
	return out.record(func() {
		ga, gb, g := gradOf(a), gradOf(b), out.Grad.Data
		walk(shape, st, func(o int, off, step []int, n int) {
			for j := 0; j < n; j++ {
				switch on := cond.Data[off[0]+j*step[0]] != 0; {
				case on && ga != nil:
					ga[off[1]+j*step[1]] += g[o+j]
				case !on && gb != nil:
					gb[off[2]+j*step[2]] += g[o+j]
				}
			}
		})
	})
}

// MaskedFill returns a with value wherever mask (broadcast to a) is
// nonzero, e.g. -Inf above the diagonal for a causal mask. Composed from
// Where; the filled positions get no gradient.
func (a *Tensor) MaskedFill(mask *Tensor, value float32) *Tensor {
	if !sameShape(broadcastShape("MaskedFill", mask.shape, a.shape), a.shape) {
		panic(fmt.Sprintf("tensor: MaskedFill: mask shape %v does not broadcast to %v", mask.shape, a.shape))
	}
	return Where(mask, Scalar(value), a)
}

// Dropout zeroes each element of a with probability p and scales the rest by
// 1/(1-p), drawing from rng; the expected value is unchanged. The gradient
// is the same mask, which the op keeps as one bit an element (1/32 of the
// result's size, from the result's arena) rather than drawing it again.
func (a *Tensor) Dropout(p float32, rng *rand.Rand) *Tensor {
	if p < 0 || p >= 1 {
		if p == 1 {
			return a.MulScalar(0)
		}
		panic(fmt.Sprintf("tensor: Dropout probability %v outside [0, 1]", p))
	}
	if p == 0 {
		return a
	}
	scale := 1 / (1 - p)
	out := newOutDirty("Dropout", a.shape, a)
	x, y, src := a.Data, out.Data, rand.NewPCG(rng.Uint64(), 0)
	var mask []float32 // bit i%32 of word i/32: element i kept; the words' bits stored as float32s, in the arena with the result
	if out.requiresGrad {
		mask = scratchDirty(out, (len(x)+31)/32)
	}
	var word uint32
	for i, v := range x {
		y[i] = 0
		if keep(src, p) {
			y[i] = v * scale
			word |= 1 << (i % 32)
		}
		if mask != nil && (i%32 == 31 || i == len(x)-1) {
			mask[i/32], word = math.Float32frombits(word), 0
		}
	}
	return out.record(func() {
		if ga := gradOf(a); ga != nil {
			for i, v := range out.Grad.Data[:len(ga)] {
				if math.Float32bits(mask[i/32])>>(i%32)&1 != 0 {
					ga[i] += v * scale
				}
			}
		}
	})
}

// keep draws whether Dropout keeps an element: rand.Rand's Float32 over
// src, at least p, taken from the PCG directly (no interface call a value).
func keep(src *rand.PCG, p float32) bool {
	return float32(uint32(src.Uint64()>>32)<<8>>8)/(1<<24) >= p
}
