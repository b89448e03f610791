package data

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/moxing/moxing/tensor"
)

// ParseImageSize parses an image size, "HxW" (one channel) or "CxHxW",
// into (C, H, W). Every size must be a positive integer; the error quotes
// s.
func ParseImageSize(s string) ([3]int, error) {
	var dims []int
	for _, p := range strings.Split(s, "x") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return [3]int{}, fmt.Errorf("image size %q: want HxW or CxHxW with positive sizes", s)
		}
		dims = append(dims, n)
	}
	switch len(dims) {
	case 2:
		return [3]int{1, dims[0], dims[1]}, nil
	case 3:
		return [3]int(dims), nil
	}
	return [3]int{}, fmt.Errorf("image size %q: want HxW or CxHxW", s)
}

// IndexClasses names the classes of integer labels by their index: "0",
// "1", … up to the largest label in any of the lists. It is an error for a
// label to be negative, or for the labels to span fewer than 2 or more than
// 1000 classes.
func IndexClasses(labels ...[]int) ([]string, error) {
	k := 0
	for _, ls := range labels {
		for _, l := range ls {
			if l < 0 {
				return nil, fmt.Errorf("data: label %d is negative", l)
			}
			k = max(k, l+1)
		}
	}
	if k < 2 || k > 1000 {
		return nil, fmt.Errorf("data: labels span %d classes, want 2 to 1000", k)
	}
	classes := make([]string, k)
	for i := range classes {
		classes[i] = strconv.Itoa(i)
	}
	return classes, nil
}

// ImageTableOptions configure ImagesFromTable.
type ImageTableOptions struct {
	// Target is the label column, by name or index (see
	// SchemaOptions.Target); "" is the last column.
	Target string
	// Shape is each image's (C, H, W): the table holds C·H·W pixel
	// columns besides the label, in (C, H, W) order.
	Shape [3]int
}

// ImagesFromTable reads labelled images from a table whose rows are a label
// and the image's pixels: X is (N, C, H, W), Labels index classes, the
// labels in sorted order (numerically when they are numbers), and Lines are
// the rows' source lines. Pixels are taken as they are (no scaling).
// Errors name the table's source, and the line and column of a pixel that
// is not a finite number; a table with another number of pixel columns than
// Shape needs is an error.
func ImagesFromTable(t *Table, opt ImageTableOptions) (d *Dataset, classes []string, err error) {
	c, h, w := opt.Shape[0], opt.Shape[1], opt.Shape[2]
	if c < 1 || h < 1 || w < 1 {
		return nil, nil, fmt.Errorf("data: image shape %v: want positive sizes", opt.Shape)
	}
	schema, err := NewSchemaUnfitted(t, SchemaOptions{Target: opt.Target, Task: Classification})
	if err != nil {
		return nil, nil, err
	}
	labels, err := schema.Labels(t)
	if err != nil {
		return nil, nil, err
	}
	target := slices.Index(t.Columns, schema.Target)
	pixels := c * h * w
	if len(t.Columns)-1 != pixels {
		return nil, nil, fmt.Errorf("%s: %d pixel columns besides the label %q, but a %dx%dx%d image needs %d",
			t.Source, len(t.Columns)-1, schema.Target, c, h, w, pixels)
	}
	d = &Dataset{X: tensor.Zeros(len(t.Rows), c, h, w), Labels: labels, Lines: t.Lines}
	for i, row := range t.Rows {
		px := d.X.Data[i*pixels : (i+1)*pixels]
		k := 0
		for j, cell := range row {
			if j == target {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(cell), 32)
			if err != nil {
				return nil, nil, fmt.Errorf("%s line %d: column %q: pixel %q is not a number", t.Source, t.Lines[i], t.Columns[j], cell)
			}
			if !fitsFloat32(v) {
				return nil, nil, fmt.Errorf("%s line %d: column %q: pixel %q is not a finite number", t.Source, t.Lines[i], t.Columns[j], cell)
			}
			px[k] = float32(v)
			k++
		}
	}
	return d, schema.Classes, nil
}
