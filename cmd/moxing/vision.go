package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/metrics"
	"github.com/moxing/moxing/models/cnn"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/train"
)

// cnnDefaults are the flag values --arch cnn uses where the command line
// sets none (the MLP's defaults suit tables, not images); idx is true for
// MNIST-style IDX data, whose validation share is 5000 of 60000 images.
func cnnDefaults(idx bool) map[string]string {
	d := map[string]string{"hidden": "128", "dropout": "0.25", "epochs": "15", "patience": "3", "batch-size": "64", "monitor": "val_accuracy"}
	if idx {
		d["val"] = strconv.FormatFloat(5000.0/60000, 'g', -1, 64)
	}
	return d
}

// trainCNN is moxing train --arch cnn.
func trainCNN(ctx context.Context, o trainOptions, rf runFolder, stdout, stderr io.Writer) error {
	sets, err := loadImageSets(o)
	if err != nil {
		return err
	}
	norm := data.FitImageNorm(sets.Train.X)
	for _, d := range []*data.Dataset{sets.Train, sets.Val, sets.Test} {
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
	x := sets.Train.X
	cfg := cnn.Config{Channels: x.Dim(1), Height: x.Dim(2), Width: x.Dim(3), Conv: conv, Kernel: o.Kernel, BatchNorm: o.BatchNorm,
		Hidden: hidden, Outputs: len(sets.Classes), Dropout: float32(o.Dropout)}
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
	run, resume, err := rf.open(dataStem(o.Data), o)
	if err != nil {
		return err
	}
	defer run.Close()
	var augment func(*tensor.Tensor, *rand.Rand) *tensor.Tensor
	if o.Shift > 0 {
		fill := norm.Background()
		augment = func(x *tensor.Tensor, rng *rand.Rand) *tensor.Tensor { return data.RandomShift(x, o.Shift, fill, rng) }
	}
	fmt.Fprintf(stderr, "%s: %d×%d images with %d channel(s), %d classes; %d train, %d validation, %d test (%s); model %d parameters; run folder %s\n",
		o.Data, cfg.Height, cfg.Width, cfg.Channels, len(sets.Classes), sets.Train.Len(), sets.Val.Len(), sets.Test.Len(), sets.Source,
		nn.NumParams(nn.Params(model)), run.Dir)
	return fitAndReport(ctx, o, supervisedRun{
		model: model, opt: opt, head: train.Head{Task: data.Classification, Classes: len(sets.Classes)}, classes: sets.Classes,
		card:    load.ImagesCard(&load.Images{Model: model, Norm: norm, Classes: sets.Classes}),
		augment: augment, run: run, resume: resume, trainSet: sets.Train, valSet: sets.Val, testSet: sets.Test,
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
func loadImageSets(o trainOptions) (*data.ImageSplits, error) {
	split := rand.New(rand.NewPCG(o.Seed, 1))
	if o.Image == "" {
		dir := mnistDir(o.Data)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			if o.Data == "mnist" {
				return nil, fmt.Errorf("MNIST is not installed in %s: run scripts/fetch-data.sh", dir)
			}
			return nil, usagef("--data %s: want mnist, a folder of MNIST IDX files, or a CSV with --image HxW", o.Data)
		}
		if o.Limit < 0 {
			return nil, usagef("--limit %d: want 0 (all) or a number of images", o.Limit)
		}
		return data.SplitIDX(dir, o.Val, o.Limit, split)
	}
	shape, err := data.ParseImageSize(o.Image)
	if err != nil {
		return nil, usagef("--image: %v", err)
	}
	table, err := readTable(o.Data, o.CSV)
	if err != nil {
		return nil, err
	}
	return data.SplitImageTable(table, data.ImageTableOptions{Target: o.Target, Shape: shape}, o.Val, o.Test, split)
}

// predictImages is moxing predict with a ConvNet checkpoint: a CSV of
// image, prediction and one prob_<class> column per class.
func predictImages(m *load.Images, paths []string, out io.Writer, asJSON bool) error {
	c := m.Model.Config
	x, names, err := data.ReadImagesOfShape(paths, [3]int{c.Channels, c.Height, c.Width})
	if err != nil {
		return err
	}
	if err := m.Norm.Apply(x); err != nil {
		return err
	}
	pred := imagesHead(m).Predict(m.Model, &data.Dataset{X: x})
	header := append([]string{"image", "prediction"}, probColumns(m.Classes)...)
	rows := make([][]string, len(names))
	for i, name := range names {
		rows[i] = append([]string{name, m.Classes[pred.Classes[i]]}, probCells(pred.Probs, i, len(m.Classes))...)
	}
	return writeTable(out, header, rows, asJSON)
}

// evalImages is moxing eval with a ConvNet checkpoint on MNIST's test
// files (--data mnist or a folder of MNIST-named IDX files) or on a CSV of
// label and pixel columns.
func evalImages(m *load.Images, path string, c data.CSVFormat, stdout io.Writer, asJSON bool) error {
	cfg := m.Model.Config
	var d *data.Dataset
	if st, err := os.Stat(mnistDir(path)); err == nil && st.IsDir() {
		if _, d, err = data.MNIST(mnistDir(path)); err != nil {
			return err
		}
		if err := cfg.CheckInput(d.X.Shape()[1:]); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	} else {
		table, err := readTable(path, c)
		if err != nil {
			return err
		}
		var classes []string
		if d, classes, err = data.ImagesFromTable(table, data.ImageTableOptions{Shape: [3]int{cfg.Channels, cfg.Height, cfg.Width}}); err != nil {
			return err
		}
		if err := data.RelabelImages(d, classes, m.Classes, path); err != nil {
			return err
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
	fmt.Fprintf(stdout, "%s: %d images\n%s\n", path, d.Len(), metrics.Format(rep.Metrics))
	fmt.Fprint(stdout, rep.Confusion.Format(m.Classes))
	return nil
}

// imagesHead is the training head of an image classifier.
func imagesHead(m *load.Images) train.Head {
	return train.Head{Task: data.Classification, Classes: len(m.Classes)}
}
