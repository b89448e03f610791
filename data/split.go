package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/moxing/moxing/tensor"
)

// Split shuffles the row indices 0..n-1 with rng and deals them into
// disjoint train, validation and test sets holding about 1-valFrac-testFrac,
// valFrac and testFrac of the rows. With labels (one class index per row) the
// split is stratified: each class is dealt separately, so every set keeps the
// class proportions.
func Split(n int, labels []int, valFrac, testFrac float64, rng *rand.Rand) (train, val, test []int, err error) {
	if valFrac < 0 || testFrac < 0 || valFrac+testFrac >= 1 {
		return nil, nil, nil, fmt.Errorf("data: split fractions validation %g and test %g must be ≥ 0 and leave rows to train on", valFrac, testFrac)
	}
	if labels != nil && len(labels) != n {
		return nil, nil, nil, fmt.Errorf("data: %d labels for %d rows", len(labels), n)
	}
	groups := map[int][]int{}
	var order []int // classes in first-seen order, for determinism
	for i := 0; i < n; i++ {
		k := 0
		if labels != nil {
			k = labels[i]
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	for _, k := range order {
		g := groups[k]
		rng.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
		nt := int(math.Round(testFrac * float64(len(g))))
		nv := int(math.Round(valFrac * float64(len(g))))
		test = append(test, g[:nt]...)
		val = append(val, g[nt:nt+nv]...)
		train = append(train, g[nt+nv:]...)
	}
	for _, s := range [][]int{train, val, test} {
		rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	}
	if len(train) == 0 {
		return nil, nil, nil, fmt.Errorf("data: %d rows leave none to train on", n)
	}
	return train, val, test, nil
}

// Batches returns the indices 0..n-1 shuffled with rng and cut into batches
// of size (the last may be smaller). A nil rng keeps the order.
func Batches(n, size int, rng *rand.Rand) [][]int {
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	if rng != nil {
		rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	}
	var out [][]int
	for lo := 0; lo < n; lo += size {
		out = append(out, perm[lo:min(lo+size, n)])
	}
	return out
}

// BatchesByLength is Batches for rows of different lengths (padded token
// sequences): it shuffles the rows, sorts each run of 50 batches' worth by
// length, cuts the runs into batches and shuffles the batches, so that a
// batch pads little (its cost is its longest row) while the order stays
// random. As Hugging Face's group_by_length.
func BatchesByLength(lengths []int, size int, rng *rand.Rand) [][]int {
	perm := rng.Perm(len(lengths))
	run := 50 * size
	var out [][]int
	for lo := 0; lo < len(perm); lo += run {
		chunk := perm[lo:min(lo+run, len(perm))]
		slices.SortStableFunc(chunk, func(a, b int) int { return lengths[a] - lengths[b] })
		for i := 0; i < len(chunk); i += size {
			out = append(out, chunk[i:min(i+size, len(chunk))])
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// Subset returns the rows idx of d (copies); a row is everything under one
// index of X's first axis (a feature vector, an image).
func (d *Dataset) Subset(idx []int) *Dataset {
	shape := d.X.Shape()
	w := d.X.Numel() / max(shape[0], 1)
	shape[0] = len(idx)
	s := &Dataset{X: tensor.Zeros(shape...), Lines: make([]int, len(idx))}
	for i, r := range idx {
		copy(s.X.Data[i*w:(i+1)*w], d.X.Data[r*w:(r+1)*w])
		s.Lines[i] = d.Lines[r]
		if d.Labels != nil {
			s.Labels = append(s.Labels, d.Labels[r])
		}
		if d.Targets != nil {
			s.Targets = append(s.Targets, d.Targets[r])
		}
		if d.Lengths != nil {
			s.Lengths = append(s.Lengths, d.Lengths[r])
		}
	}
	return s
}

// TableSplits is a table split three ways and encoded for training: the
// schema is fitted on the training rows only.
type TableSplits struct {
	Schema           *Schema
	Train, Val, Test *Dataset
	Rows             map[string][]int // the rows of "train", "val" and "test", 0-based
}

// SplitTable decides t's schema (opt), splits its rows (stratified for
// classification, drawn with rng: val and test of them for validation and
// test), fits the preprocessing on the training rows and encodes all three.
func SplitTable(t *Table, opt SchemaOptions, val, test float64, rng *rand.Rand) (*TableSplits, error) {
	schema, err := NewSchemaUnfitted(t, opt)
	if err != nil {
		return nil, err
	}
	labels, err := schema.Labels(t)
	if err != nil {
		return nil, err
	}
	tr, va, te, err := Split(len(t.Rows), labels, val, test, rng)
	if err != nil {
		return nil, err
	}
	if len(va) == 0 {
		return nil, fmt.Errorf("%s: a validation share of %g leaves no validation rows out of %d", t.Source, val, len(t.Rows))
	}
	if err := schema.Fit(t, tr); err != nil {
		return nil, err
	}
	all, err := schema.Encode(t, nil, true)
	if err != nil {
		return nil, err
	}
	return &TableSplits{Schema: schema, Train: all.Subset(tr), Val: all.Subset(va), Test: all.Subset(te),
		Rows: map[string][]int{"train": tr, "val": va, "test": te}}, nil
}
