package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/models/cnn"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/train"
)

// imageSets are labelled images split three ways.
type imageSets struct {
	train, val, test *data.Dataset
	classes          []string
	source           string // how the split was made, for the log line
}

// cnnDefaults are the flag values --model cnn uses where the command line
// sets none (the MLP's defaults suit tables, not images); idx is true for
// MNIST-style IDX data, whose validation share is 5000 of 60000 images.
func cnnDefaults(idx bool) map[string]string {
	d := map[string]string{"hidden": "128", "dropout": "0.25", "epochs": "15", "patience": "3", "batch-size": "64", "monitor": "val_accuracy"}
	if idx {
		d["val"] = strconv.FormatFloat(5000.0/60000, 'g', -1, 64)
	}
	return d
}

// trainCNN is moxing train --model cnn.
func trainCNN(ctx context.Context, o trainOptions, runDir string, run *train.Run, stdout, stderr io.Writer) error {
	sets, err := loadImageSets(o)
	if err != nil {
		return err
	}
	norm := data.FitImageNorm(sets.train.X)
	for _, d := range []*data.Dataset{sets.train, sets.val, sets.test} {
		if err := norm.Apply(d.X); err != nil {
			return err
		}
	}
	conv, err := parseInts(o.Conv)
	if err != nil {
		return usagef("--conv %q: %v", o.Conv, err)
	}
	hidden, err := parseInts(o.Hidden)
	if err != nil {
		return usagef("--hidden %q: %v", o.Hidden, err)
	}
	x := sets.train.X
	cfg := cnn.Config{Channels: x.Dim(1), Height: x.Dim(2), Width: x.Dim(3), Conv: conv, Kernel: o.Kernel, BatchNorm: o.BatchNorm,
		Hidden: hidden, Outputs: len(sets.classes), Dropout: float32(o.Dropout)}
	if cfg.Outputs == 2 {
		cfg.Outputs = 1
	}
	model, err := cnn.New(cfg, rand.New(rand.NewPCG(o.Seed, 2)))
	if err != nil {
		return usageError{err.Error()}
	}
	opt, err := newOptimizer(o, nn.Params(model))
	if err != nil {
		return err
	}
	resume := run != nil
	if run == nil {
		if run, err = newRun(runDir, dataStem(o.Data), o); err != nil {
			return err
		}
	}
	var augment func(*tensor.Tensor, *rand.Rand) *tensor.Tensor
	if o.Shift > 0 {
		fill := norm.Background()
		augment = func(x *tensor.Tensor, rng *rand.Rand) *tensor.Tensor { return data.RandomShift(x, o.Shift, fill, rng) }
	}
	fmt.Fprintf(stderr, "%s: %d×%d images with %d channel(s), %d classes; %d train, %d validation, %d test (%s); model %d parameters; run folder %s\n",
		o.Data, cfg.Height, cfg.Width, cfg.Channels, len(sets.classes), sets.train.Len(), sets.val.Len(), sets.test.Len(), sets.source,
		nn.NumParams(nn.Params(model)), run.Dir)
	return fitAndReport(ctx, o, supervisedRun{
		model: model, opt: opt, head: train.Head{Task: data.Classification, Classes: len(sets.classes)}, classes: sets.classes,
		card:    load.ImagesCard(&load.Images{Model: model, Norm: norm, Classes: sets.classes}),
		augment: augment, run: run, resume: resume, trainSet: sets.train, valSet: sets.val, testSet: sets.test,
	}, stdout, stderr)
}

// mnistDir resolves --data mnist to where scripts/fetch-data.sh puts it.
func mnistDir(name string) string {
	if name != "mnist" {
		return name
	}
	root := os.Getenv("MOXING_DATA")
	if root == "" {
		home, _ := os.UserHomeDir()
		root = filepath.Join(home, ".cache", "moxing", "data")
	}
	return filepath.Join(root, "mnist")
}

// loadImageSets reads --data: MNIST or a folder of MNIST-named IDX files
// (test: the t10k files; validation: o.Val of the training images,
// stratified), or a CSV of pixel rows (--image; split as a table).
func loadImageSets(o trainOptions) (*imageSets, error) {
	split := rand.New(rand.NewPCG(o.Seed, 1))
	if o.Image == "" {
		dir := mnistDir(o.Data)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			if o.Data == "mnist" {
				return nil, fmt.Errorf("MNIST is not installed in %s: run scripts/fetch-data.sh", dir)
			}
			return nil, usagef("--data %s: want mnist, a folder of MNIST IDX files, or a CSV with --image HxW", o.Data)
		}
		trainAll, test, err := data.MNIST(dir)
		if err != nil {
			return nil, err
		}
		if o.Limit < 0 {
			return nil, usagef("--limit %d: want 0 (all) or a number of images", o.Limit)
		}
		if o.Limit > 0 && o.Limit < trainAll.Len() {
			first := make([]int, o.Limit)
			for i := range first {
				first[i] = i
			}
			trainAll = trainAll.Subset(first)
		}
		classes, err := indexClasses(trainAll.Labels, test.Labels)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		tr, val, _, err := data.Split(trainAll.Len(), trainAll.Labels, o.Val, 0, split)
		if err != nil {
			return nil, err
		}
		return &imageSets{train: trainAll.Subset(tr), val: trainAll.Subset(val), test: test, classes: classes,
			source: "validation from the training file, test file as test"}, nil
	}
	shape, err := parseImageSize(o.Image)
	if err != nil {
		return nil, err
	}
	all, classes, err := readImageCSV(o, shape)
	if err != nil {
		return nil, err
	}
	tr, val, test, err := data.Split(all.Len(), all.Labels, o.Val, o.Test, split)
	if err != nil {
		return nil, err
	}
	if len(val) == 0 || len(tr) == 0 {
		return nil, usagef("%s: %d rows leave no training or validation images", o.Data, all.Len())
	}
	return &imageSets{train: all.Subset(tr), val: all.Subset(val), test: all.Subset(test), classes: classes,
		source: "stratified split of the rows"}, nil
}

// indexClasses names the classes of integer labels 0..max by their index.
func indexClasses(labels ...[]int) ([]string, error) {
	k := 0
	for _, ls := range labels {
		for _, l := range ls {
			k = max(k, l+1)
		}
	}
	if k < 2 || k > 1000 {
		return nil, fmt.Errorf("labels span %d classes, want 2 to 1000", k)
	}
	classes := make([]string, k)
	for i := range classes {
		classes[i] = strconv.Itoa(i)
	}
	return classes, nil
}

// parseImageSize parses "HxW" or "CxHxW" into (C, H, W).
func parseImageSize(s string) ([]int, error) {
	parts := strings.Split(s, "x")
	var dims []int
	for _, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return nil, usagef("--image %q: want HxW or CxHxW with positive sizes", s)
		}
		dims = append(dims, n)
	}
	switch len(dims) {
	case 2:
		return []int{1, dims[0], dims[1]}, nil
	case 3:
		return dims, nil
	}
	return nil, usagef("--image %q: want HxW or CxHxW", s)
}

// readImageCSV reads a CSV whose rows are a label (the --target column,
// default the last) and C·H·W pixel values in (C, H, W) order.
func readImageCSV(o trainOptions, shape []int) (*data.Dataset, []string, error) {
	table, err := readTable(o.Data, o.CSV)
	if err != nil {
		return nil, nil, err
	}
	schema, err := data.NewSchemaUnfitted(table, data.SchemaOptions{Target: o.Target, Task: data.Classification})
	if err != nil {
		return nil, nil, err
	}
	labels, err := schema.Labels(table)
	if err != nil {
		return nil, nil, err
	}
	target := slices.Index(table.Columns, schema.Target)
	pixels := shape[0] * shape[1] * shape[2]
	if len(table.Columns)-1 != pixels {
		return nil, nil, fmt.Errorf("%s: %d pixel columns besides the label %q, but --image %s needs %d",
			o.Data, len(table.Columns)-1, schema.Target, o.Image, pixels)
	}
	d := &data.Dataset{X: tensor.Zeros(len(table.Rows), shape[0], shape[1], shape[2]), Labels: labels, Lines: table.Lines}
	for i, row := range table.Rows {
		px := d.X.Data[i*pixels : (i+1)*pixels]
		k := 0
		for j, cell := range row {
			if j == target {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(cell), 32)
			if err != nil {
				return nil, nil, fmt.Errorf("%s:%d: column %q: pixel %q is not a number", o.Data, table.Lines[i], table.Columns[j], cell)
			}
			px[k] = float32(v)
			k++
		}
	}
	return d, schema.Classes, nil
}

// readImages reads the images to predict: one PNG/JPEG/GIF per path, or an
// IDX file of (N, H, W) bytes (scaled to [0, 1], as in training), each
// checked against the model's input size. It returns (N, C, H, W) images,
// standardised, and a name for each.
func readImages(m *load.Images, paths []string) (*tensor.Tensor, []string, error) {
	c := m.Model.Config
	var imgs []*tensor.Tensor
	var names []string
	for _, p := range paths {
		if isImageFile(p) {
			x, err := data.ReadImage(p)
			if err != nil {
				return nil, nil, err
			}
			if err := c.CheckInput(x.Shape()); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", p, err)
			}
			imgs, names = append(imgs, x), append(names, p)
			continue
		}
		d, err := data.LoadIDXImages(p, "")
		if err != nil {
			return nil, nil, err
		}
		if err := c.CheckInput(d.X.Shape()[1:]); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		imgs = append(imgs, d.X.Reshape(d.X.Numel()/(c.Height*c.Width), c.Height, c.Width))
		for i := 0; i < d.Len(); i++ {
			names = append(names, fmt.Sprintf("%s[%d]", p, i))
		}
	}
	x := tensor.Concat(0, imgs...).Reshape(-1, c.Channels, c.Height, c.Width)
	if err := m.Norm.Apply(x); err != nil {
		return nil, nil, err
	}
	return x, names, nil
}

func isImageFile(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".png", ".jpg", ".jpeg", ".gif":
		return true
	}
	return false
}

// predictImages is moxing predict with a ConvNet checkpoint: a CSV of
// image, prediction and one prob_<class> column per class.
func predictImages(m *load.Images, paths []string, out io.Writer) error {
	x, names, err := readImages(m, paths)
	if err != nil {
		return err
	}
	pred := imagesHead(m).Predict(m.Model, &data.Dataset{X: x})
	cw := csv.NewWriter(out)
	header := []string{"image", "prediction"}
	for _, k := range m.Classes {
		header = append(header, "prob_"+k)
	}
	cw.Write(header)
	k := len(m.Classes)
	for i, name := range names {
		rec := []string{name, m.Classes[pred.Classes[i]]}
		for _, p := range pred.Probs[i*k : (i+1)*k] {
			rec = append(rec, strconv.FormatFloat(p, 'f', 6, 64))
		}
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

// evalImages is moxing eval with a ConvNet checkpoint on MNIST's test
// files (--data mnist or a folder of MNIST-named IDX files) or on a CSV of
// label and pixel columns.
func evalImages(m *load.Images, path string, c data.CSVFormat, stdout io.Writer, asJSON bool) error {
	var d *data.Dataset
	cfg := m.Model.Config
	if st, err := os.Stat(mnistDir(path)); err == nil && st.IsDir() {
		if _, d, err = data.MNIST(mnistDir(path)); err != nil {
			return err
		}
		if err := cfg.CheckInput(d.X.Shape()[1:]); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	} else {
		o := trainOptions{Data: path, CSV: c, Image: fmt.Sprintf("%dx%dx%d", cfg.Channels, cfg.Height, cfg.Width)}
		var classes []string
		if d, classes, err = readImageCSV(o, []int{cfg.Channels, cfg.Height, cfg.Width}); err != nil {
			return err
		}
		// Labels are indices into the file's own sorted classes; map them
		// to the model's.
		for i, l := range d.Labels {
			k := slices.Index(m.Classes, classes[l])
			if k < 0 {
				return fmt.Errorf("%s:%d: label %q is not one of the model's classes %v", path, d.Lines[i], classes[l], m.Classes)
			}
			d.Labels[i] = k
		}
	}
	for _, l := range d.Labels {
		if l >= len(m.Classes) {
			return fmt.Errorf("%s: label %d, the model has %d classes", path, l, len(m.Classes))
		}
	}
	if err := m.Norm.Apply(d.X); err != nil {
		return err
	}
	rep, err := imagesHead(m).Evaluate(m.Model, d)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(stdout, map[string]any{"rows": d.Len(), "metrics": rep.Metrics, "confusion": rep.Confusion.Counts, "classes": m.Classes})
	}
	fmt.Fprintf(stdout, "%s: %d images\n%s\n", path, d.Len(), formatMetrics(rep.Metrics))
	fmt.Fprint(stdout, rep.Confusion.Format(m.Classes))
	return nil
}

// imagesHead is the training head of an image classifier.
func imagesHead(m *load.Images) train.Head {
	return train.Head{Task: data.Classification, Classes: len(m.Classes)}
}
