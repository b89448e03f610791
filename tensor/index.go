package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/moxing/moxing/internal/kernel"
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
//
// It takes one value from rng. Elements are drawn in fixed pieces of
// dropPiece, piece i from its own PCG stream (that value, i), so the pieces
// run in parallel and the mask is the same on any number of threads.
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
	x, y, seed := a.Data, out.Data, rng.Uint64()
	var mask []float32 // bit i%32 of word i/32: element i kept; the words' bits stored as float32s
	if out.requiresGrad {
		mask = scratchDirty(out, (len(x)+31)/32) // in the arena with the result
	}
	pieces := (len(x) + dropPiece - 1) / dropPiece
	drop := func(lo, hi int) {
		for pc := lo; pc < hi; pc++ {
			i0, i1 := pc*dropPiece, min(len(x), (pc+1)*dropPiece)
			var words []float32
			if len(mask) > 0 {
				words = mask[i0/32 : (i1+31)/32]
			}
			dropoutPiece(rand.NewPCG(seed, uint64(pc)), p, scale, x[i0:i1], y[i0:i1], words)
		}
	}
	kernel.Parallel(pieces, drop) // a single piece runs on this goroutine
	return out.record(func() {
		ga := gradOf(a)
		if ga == nil {
			return
		}
		g := out.Grad.Data[:len(ga)]
		back := func(lo, hi int) {
			for i := lo * dropPiece; i < min(len(ga), hi*dropPiece); i++ {
				if math.Float32bits(mask[i/32])>>(i%32)&1 != 0 {
					ga[i] += g[i] * scale
				}
			}
		}
		kernel.Parallel(pieces, back)
	})
}

// dropPiece is how many elements Dropout draws from one PCG stream: a
// multiple of 32 (the mask's words), large enough that a piece is worth a
// hand-off to another thread.
const dropPiece = 1 << 14

// dropoutPiece sets y to x's kept elements times scale and 0 elsewhere,
// drawing two 24-bit uniforms u from each of src's values and keeping an
// element when u/2²⁴ ≥ p; when words is not empty, it writes the kept bits
// there (x's element i is bit i%32 of word i/32).
func dropoutPiece(src *rand.PCG, p, scale float32, x, y, words []float32) {
	least := uint32(math.Ceil(float64(p) * (1 << 24))) // u/2²⁴ ≥ p ⟺ u ≥ ⌈p·2²⁴⌉ for an integer u
	var word uint32
	var draw uint64
	for i, v := range x {
		if i%2 == 0 {
			draw = src.Uint64()
		}
		u := uint32(draw>>40) & (1<<24 - 1) // bits 63..40, then 39..16
		draw <<= 24
		y[i] = 0
		if u >= least {
			y[i] = v * scale
			word |= 1 << (i % 32)
		}
		if len(words) > 0 && (i%32 == 31 || i == len(x)-1) {
			words[i/32], word = math.Float32frombits(word), 0
		}
	}
}
