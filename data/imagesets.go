package data

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moxing/moxing/tensor"
)

// ImageSplits are labelled images split three ways for training.
type ImageSplits struct {
	Train, Val, Test *Dataset
	Classes          []string // class names by label
	Source           string   // how the split was made, for a log line
}

// SplitIDX splits MNIST-named IDX files in dir (see MNIST): the test
// files are the test set and val of the training images, stratified and
// drawn with rng, the validation set. limit > 0 keeps only the first limit
// training images, for a quick run.
func SplitIDX(dir string, val float64, limit int, rng *rand.Rand) (*ImageSplits, error) {
	if limit < 0 {
		return nil, fmt.Errorf("limit %d: want 0 (all) or a number of images", limit)
	}
	all, test, err := MNIST(dir)
	if err != nil {
		return nil, err
	}
	if limit > 0 && limit < all.Len() {
		first := make([]int, limit)
		for i := range first {
			first[i] = i
		}
		all = all.Subset(first)
	}
	classes, err := IndexClasses(all.Labels, test.Labels)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	tr, va, _, err := Split(all.Len(), all.Labels, val, 0, rng)
	if err != nil {
		return nil, err
	}
	return &ImageSplits{Train: all.Subset(tr), Val: all.Subset(va), Test: test, Classes: classes,
		Source: "validation from the training file, test file as test"}, nil
}

// SplitImageTable reads labelled images from a table (see
// ImagesFromTable) and splits its rows, stratified and drawn with rng:
// val and test of them for validation and test.
func SplitImageTable(t *Table, opt ImageTableOptions, val, test float64, rng *rand.Rand) (*ImageSplits, error) {
	all, classes, err := ImagesFromTable(t, opt)
	if err != nil {
		return nil, err
	}
	tr, va, te, err := Split(all.Len(), all.Labels, val, test, rng)
	if err != nil {
		return nil, err
	}
	if len(va) == 0 || len(tr) == 0 {
		return nil, fmt.Errorf("%s: %d rows leave no training or validation images", t.Source, all.Len())
	}
	return &ImageSplits{Train: all.Subset(tr), Val: all.Subset(va), Test: all.Subset(te), Classes: classes,
		Source: "stratified split of the rows"}, nil
}

// RelabelImages maps the labels of d, indices into classes (a file's own
// sorted labels), to indices into want (a model's classes). A label the
// model does not know is an error naming the file's line.
func RelabelImages(d *Dataset, classes, want []string, name string) error {
	for i, l := range d.Labels {
		k := slices.Index(want, classes[l])
		if k < 0 {
			return fmt.Errorf("%s line %d: label %q is not one of the model's classes %v", name, d.Lines[i], classes[l], want)
		}
		d.Labels[i] = k
	}
	return nil
}

// IsImageFile reports whether path names a PNG, JPEG or GIF file by its
// extension.
func IsImageFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png", ".jpg", ".jpeg", ".gif":
		return true
	}
	return false
}

// ReadImagesOfShape reads images to classify: one PNG, JPEG or GIF per
// path (see ReadImage), or IDX files of (N, H, W) bytes (scaled to [0, 1]),
// each checked to be of shape (C, H, W). It returns the images (N, C, H, W)
// and a name for each: the path, or path[i] for the images of an IDX file.
func ReadImagesOfShape(paths []string, shape [3]int) (*tensor.Tensor, []string, error) {
	c, h, w := shape[0], shape[1], shape[2]
	check := func(p string, s []int) error {
		if len(s) != 3 || s[0] != c || s[1] != h || s[2] != w {
			return fmt.Errorf("%s: image of shape %v (channels, height, width); the model takes %d×%d images with %d channel(s)", p, s, h, w, c)
		}
		return nil
	}
	var imgs []*tensor.Tensor
	var names []string
	for _, p := range paths {
		if IsImageFile(p) {
			x, err := ReadImage(p)
			if err != nil {
				return nil, nil, err
			}
			if err := check(p, x.Shape()); err != nil {
				return nil, nil, err
			}
			imgs, names = append(imgs, x), append(names, p)
			continue
		}
		d, err := LoadIDXImages(p, "")
		if err != nil {
			return nil, nil, err
		}
		if d.Len() == 0 {
			return nil, nil, fmt.Errorf("%s holds no images", p)
		}
		if err := check(p, d.X.Shape()[1:]); err != nil {
			return nil, nil, err
		}
		imgs = append(imgs, d.X.Reshape(d.X.Numel()/(h*w), h, w))
		for i := 0; i < d.Len(); i++ {
			names = append(names, fmt.Sprintf("%s[%d]", p, i))
		}
	}
	if len(imgs) == 0 {
		return nil, nil, fmt.Errorf("no images given")
	}
	return tensor.Concat(0, imgs...).Reshape(-1, c, h, w), names, nil
}
