package tensor

import "fmt"

// EmbeddingBag sums (or, with mean, averages) rows of the table w (V, D)
// per bag, as torch.nn.functional.embedding_bag: bag b holds the ids
// ids[offsets[b]:offsets[b+1]] (the last bag runs to the end of ids), and
//
//	out[b] = Σ_{i in bag b} weights[i]·w[ids[i]]           (sum)
//	out[b] = (1/|bag b|)·Σ_{i in bag b} weights[i]·w[ids[i]] (mean)
//
// giving (len(offsets), D). weights (per id, as PyTorch's
// per_sample_weights) may be nil for all ones; an empty bag gives zeros.
// It is a sparse-by-dense product: a bag of n-gram ids with their TF-IDF
// values as weights times a (features, classes) table is a linear model's
// logits. The gradient flows to w only (scatter-added: rows of the same
// id sum); ids, offsets and weights are constants. offsets must start at
// 0 and not decrease; an id outside [0, V) panics.
func EmbeddingBag(w *Tensor, ids, offsets []int, weights []float32, mean bool) *Tensor {
	if w.NDim() != 2 {
		panic(fmt.Sprintf("tensor: EmbeddingBag of a table of shape %v: want (V, D)", w.shape))
	}
	v, d := w.shape[0], w.shape[1]
	if weights != nil && len(weights) != len(ids) {
		panic(fmt.Sprintf("tensor: EmbeddingBag with %d weights for %d ids", len(weights), len(ids)))
	}
	for b, o := range offsets {
		if b == 0 && o != 0 || b > 0 && o < offsets[b-1] || o > len(ids) {
			panic(fmt.Sprintf("tensor: EmbeddingBag offset %d of bag %d: want offsets from 0, not decreasing, at most %d", o, b, len(ids)))
		}
	}
	for i, id := range ids {
		if id < 0 || id >= v {
			panic(fmt.Sprintf("tensor: EmbeddingBag: id %d (position %d) out of range [0, %d)", id, i, v))
		}
	}
	// scale[i] is what row ids[i] is multiplied by in its bag.
	scale := make([]float32, len(ids))
	for b := range offsets {
		lo, hi := bagSpan(offsets, b, len(ids))
		for i := lo; i < hi; i++ {
			s := float32(1)
			if weights != nil {
				s = weights[i]
			}
			if mean {
				s /= float32(hi - lo)
			}
			scale[i] = s
		}
	}
	out := newOut("EmbeddingBag", []int{len(offsets), d}, w)
	for b := range offsets {
		lo, hi := bagSpan(offsets, b, len(ids))
		dst := out.Data[b*d : (b+1)*d]
		for i := lo; i < hi; i++ {
			s, row := scale[i], w.Data[ids[i]*d:(ids[i]+1)*d]
			for j, x := range row {
				dst[j] += s * x
			}
		}
	}
	return out.record(func() {
		gw := gradOf(w)
		for b := range offsets {
			lo, hi := bagSpan(offsets, b, len(ids))
			g := out.Grad.Data[b*d : (b+1)*d]
			for i := lo; i < hi; i++ {
				s, dst := scale[i], gw[ids[i]*d:(ids[i]+1)*d]
				for j, x := range g {
					dst[j] += s * x
				}
			}
		}
	})
}

// bagSpan is bag b's range of ids.
func bagSpan(offsets []int, b, n int) (lo, hi int) {
	lo, hi = offsets[b], n
	if b+1 < len(offsets) {
		hi = offsets[b+1]
	}
	return lo, hi
}
