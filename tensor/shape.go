package tensor

import (
	"fmt"
	"slices"
)

// Reshape returns a view of a with a new shape of the same size; one
// dimension may be -1 and is then inferred. The result shares a's Data (no
// copy). d/da is the gradient reshaped back.
func (a *Tensor) Reshape(shape ...int) *Tensor {
	shape = append([]int(nil), shape...)
	infer, known := -1, 1
	for i, d := range shape {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			panic(fmt.Sprintf("tensor: Reshape %v to %v: bad dimension %d", a.shape, shape, d))
		default:
			known *= d
		}
	}
	if infer >= 0 && known > 0 {
		shape[infer] = len(a.Data) / known
	}
	if numel(shape) != len(a.Data) {
		panic(fmt.Sprintf("tensor: Reshape %v (%d elements) to %v", a.shape, len(a.Data), shape))
	}
	out := newOut("Reshape", []int{0}, a) // no storage of its own
	out.Data, out.shape = a.Data, shape
	return out.record(func() {
		if handGrad(out, a) {
			return
		}
		ga, fresh := gradFresh(a)
		g := out.Grad.Data
		chunks(len(g), func(lo, hi int) { writeOrAdd(ga[lo:hi], g[lo:hi], fresh) })
	})
}

// Unsqueeze returns a view of a with a new axis of size 1 inserted at
// position axis (0 ≤ axis ≤ NDim; negative counts from the end of the result).
func (a *Tensor) Unsqueeze(axis int) *Tensor {
	if axis < 0 {
		axis += a.NDim() + 1
	}
	if axis < 0 || axis > a.NDim() {
		panic(fmt.Sprintf("tensor: Unsqueeze: axis %d out of range for shape %v", axis, a.shape))
	}
	return a.Reshape(slices.Insert(a.Shape(), axis, 1)...)
}

// Permute returns a with its axes reordered: result axis i is a's axis
// perm[i]. The data is copied into the new order. The gradient is permuted
// back.
func (a *Tensor) Permute(perm ...int) *Tensor {
	if len(perm) != a.NDim() {
		panic(fmt.Sprintf("tensor: Permute %v of shape %v: need one entry per axis", perm, a.shape))
	}
	seen := make([]bool, len(perm))
	shape := make([]int, len(perm))
	own := stridesOf(a.shape)
	st := make([]int, len(perm))
	for i, p := range perm {
		p = a.axis("Permute", p)
		if seen[p] {
			panic(fmt.Sprintf("tensor: Permute %v of shape %v: axis %d repeated", perm, a.shape, p))
		}
		seen[p] = true
		shape[i], st[i] = a.shape[p], own[p]
	}
	out := newOutDirty("Permute", shape, a)
	walk(shape, [][]int{st}, func(o int, off, step []int, n int) {
		src, s := off[0], step[0]
		for j := range out.Data[o : o+n] {
			out.Data[o+j] = a.Data[src+j*s]
		}
	})
	return out.record(func() {
		ga, g := gradOf(a), out.Grad.Data
		walk(shape, [][]int{st}, func(o int, off, step []int, n int) {
			src, s := off[0], step[0]
			for j, v := range g[o : o+n] {
				ga[src+j*s] += v
			}
		})
	})
}

// Transpose returns a with axes i and j swapped (a copy; see Permute).
func (a *Tensor) Transpose(i, j int) *Tensor {
	perm := make([]int, a.NDim())
	for k := range perm {
		perm[k] = k
	}
	i, j = a.axis("Transpose", i), a.axis("Transpose", j)
	perm[i], perm[j] = j, i
	return a.Permute(perm...)
}

// span views a's shape as (outer, shape[axis], inner) around axis.
func (a *Tensor) span(axis int) (outer, inner int) {
	return numel(a.shape[:axis]), numel(a.shape[axis+1:])
}

// Slice returns the elements of a with index in [start, end) along axis, as a
// copy. The gradient is scattered back into that range.
func (a *Tensor) Slice(axis, start, end int) *Tensor {
	axis = a.axis("Slice", axis)
	d := a.shape[axis]
	if start < 0 || end > d || start > end {
		panic(fmt.Sprintf("tensor: Slice [%d:%d] of axis %d out of range for shape %v", start, end, axis, a.shape))
	}
	shape := a.Shape()
	shape[axis] = end - start
	out := newOutDirty("Slice", shape, a)
	outer, inner := a.span(axis)
	w := (end - start) * inner
	for i := 0; i < outer; i++ {
		copy(out.Data[i*w:(i+1)*w], a.Data[(i*d+start)*inner:])
	}
	return out.record(func() {
		ga, g := gradOf(a), out.Grad.Data
		for i := 0; i < outer; i++ {
			dst := ga[(i*d+start)*inner : (i*d+start)*inner+w]
			for j, v := range g[i*w : (i+1)*w] {
				dst[j] += v
			}
		}
	})
}

// Concat joins tensors along axis; all other axes must match. Each input's
// gradient is its slice of the result's gradient.
func Concat(axis int, ts ...*Tensor) *Tensor {
	if len(ts) == 0 {
		panic("tensor: Concat of no tensors")
	}
	first := ts[0]
	axis = first.axis("Concat", axis)
	shape := first.Shape()
	shape[axis] = 0
	for _, t := range ts {
		ok := t.NDim() == first.NDim()
		for i := 0; ok && i < t.NDim(); i++ {
			ok = i == axis || t.shape[i] == first.shape[i]
		}
		if !ok {
			panic(fmt.Sprintf("tensor: Concat along axis %d: shapes %v and %v differ off that axis", axis, first.shape, t.shape))
		}
		shape[axis] += t.shape[axis]
	}
	out := newOutDirty("Concat", shape, ts...)
	outer, inner := first.span(axis)
	rowOut := shape[axis] * inner
	at := 0 // offset of the current input inside an output row
	for _, t := range ts {
		w := t.shape[axis] * inner
		for i := 0; i < outer; i++ {
			copy(out.Data[i*rowOut+at:i*rowOut+at+w], t.Data[i*w:(i+1)*w])
		}
		at += w
	}
	return out.record(func() {
		g := out.Grad.Data
		at := 0
		for _, t := range ts {
			w := t.shape[axis] * inner
			if gt := gradOf(t); gt != nil {
				for i := 0; i < outer; i++ {
					src := g[i*rowOut+at : i*rowOut+at+w]
					for j, v := range src {
						gt[i*w+j] += v
					}
				}
			}
			at += w
		}
	})
}

// Stack joins same-shaped tensors along a new axis at position axis,
// composed as Unsqueeze then Concat.
func Stack(axis int, ts ...*Tensor) *Tensor {
	us := make([]*Tensor, len(ts))
	for i, t := range ts {
		if !sameShape(t.shape, ts[0].shape) {
			panic(fmt.Sprintf("tensor: Stack: shapes %v and %v differ", ts[0].shape, t.shape))
		}
		us[i] = t.Unsqueeze(axis)
	}
	return Concat(axis, us...)
}
