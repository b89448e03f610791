package recipe

import (
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/models/cnn"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/train"
)

// imagesRecipe is Train --arch cnn: the images split and standardised on
// the training split, and the ConvNet.
func imagesRecipe(o TrainOptions) (*supervised, error) {
	sets, err := imageSets(o)
	if err != nil {
		return nil, err
	}
	norm := data.FitImageNorm(sets.Train.X)
	for _, d := range []*data.Dataset{sets.Train, sets.Val, sets.Test} {
		if err := norm.Apply(d.X); err != nil {
			return nil, err
		}
	}
	conv, err := parseInts(o.Conv)
	if err != nil {
		return nil, optionf("--conv %q: %v", o.Conv, err)
	}
	hidden, err := parseInts(o.Hidden)
	if err != nil {
		return nil, optionf("--hidden %q: %v", o.Hidden, err)
	}
	x := sets.Train.X
	cfg := cnn.Config{Channels: x.Dim(1), Height: x.Dim(2), Width: x.Dim(3), Conv: conv, Kernel: o.Kernel, BatchNorm: o.BatchNorm,
		Hidden: hidden, Outputs: len(sets.Classes), Dropout: float32(o.Dropout)}
	if cfg.Outputs == 2 {
		cfg.Outputs = 1
	}
	model, err := cnn.New(cfg, rand.New(rand.NewPCG(o.Seed, 2)))
	if err != nil {
		return nil, &OptionError{err.Error()}
	}
	opt, err := newOptimizer(o, nn.Params(model))
	if err != nil {
		return nil, err
	}
	var augment func(*tensor.Tensor, *rand.Rand) *tensor.Tensor
	if o.Shift > 0 {
		fill := norm.Background()
		augment = func(x *tensor.Tensor, rng *rand.Rand) *tensor.Tensor { return data.RandomShift(x, o.Shift, fill, rng) }
	}
	im := &load.Images{Model: model, Norm: norm, Classes: sets.Classes}
	return &supervised{
		model: model, opt: opt, head: imagesHead(im), classes: sets.Classes, card: load.ImagesCard(im), augment: augment,
		trainSet: sets.Train, valSet: sets.Val, testSet: sets.Test,
		about: fmt.Sprintf("%s: %d×%d images with %d channel(s), %d classes; %d train, %d validation, %d test (%s); model %d parameters",
			o.Data, cfg.Height, cfg.Width, cfg.Channels, len(sets.Classes), sets.Train.Len(), sets.Val.Len(), sets.Test.Len(), sets.Source,
			nn.NumParams(nn.Params(model))),
	}, nil
}

// dataPath is the file or folder o.Data names: o.MNIST for "mnist".
func (o TrainOptions) dataPath() string {
	if o.Data == "mnist" {
		return o.MNIST
	}
	return o.Data
}

// imageSets reads o.Data: MNIST or a folder of MNIST-named IDX files
// (test: the t10k files; validation: o.Val of the training images,
// stratified), or a CSV of pixel rows (o.Image; split as a table).
func imageSets(o TrainOptions) (*data.ImageSplits, error) {
	split := rand.New(rand.NewPCG(o.Seed, 1))
	if o.Image == "" {
		dir := o.dataPath()
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			if o.Data == "mnist" {
				return nil, fmt.Errorf("MNIST is not installed in %s: run scripts/fetch-data.sh", dir)
			}
			return nil, optionf("--data %s: want mnist, a folder of MNIST IDX files, or a CSV with --image HxW", o.Data)
		}
		if o.Limit < 0 {
			return nil, optionf("--limit %d: want 0 (all) or a number of images", o.Limit)
		}
		return data.SplitIDX(dir, o.Val, o.Limit, split)
	}
	shape, err := data.ParseImageSize(o.Image)
	if err != nil {
		return nil, optionf("--image: %v", err)
	}
	table, err := readTable(o.Data, o.CSV)
	if err != nil {
		return nil, err
	}
	return data.SplitImageTable(table, data.ImageTableOptions{Target: o.Target, Shape: shape}, o.Val, o.Test, split)
}

// imagesHead is the training head of an image classifier.
func imagesHead(m *load.Images) train.Head {
	return train.Head{Task: data.Classification, Classes: len(m.Classes)}
}

// PredictImages classifies the image files at paths (PNG, JPEG, GIF or
// IDX) with m, and returns the predictions with a name for each image.
func PredictImages(m *load.Images, paths []string) (train.Predictions, []string, error) {
	c := m.Model.Config
	x, names, err := data.ReadImagesOfShape(paths, [3]int{c.Channels, c.Height, c.Width})
	if err != nil {
		return train.Predictions{}, nil, err
	}
	p, err := PredictImageBatch(m, x)
	return p, names, err
}

// PredictImageBatch classifies images x (N, C, H, W) of m's shape, scaled
// to [0, 1] as data.ReadImage reads them; it normalises x in place.
func PredictImageBatch(m *load.Images, x *tensor.Tensor) (train.Predictions, error) {
	if err := m.Norm.Apply(x); err != nil {
		return train.Predictions{}, err
	}
	return imagesHead(m).Predict(m.Model, &data.Dataset{X: x}), nil
}

// EvaluateImages is m's report on labelled images: MNIST's test files when
// dir is a folder (of MNIST-named IDX files), else the CSV file of label
// and pixel columns at path, read as c says. path names the data in errors
// (dir is where it resolves: "mnist" to its folder).
func EvaluateImages(m *load.Images, path, dir string, c data.CSVFormat) (*Evaluation, error) {
	d, err := testImages(m, path, dir, c)
	if err != nil {
		return nil, err
	}
	for _, l := range d.Labels {
		if l >= len(m.Classes) {
			return nil, fmt.Errorf("%s: label %d, the model has %d classes", path, l, len(m.Classes))
		}
	}
	if err := m.Norm.Apply(d.X); err != nil {
		return nil, err
	}
	rep, err := imagesHead(m).Evaluate(m.Model, d)
	return &Evaluation{Report: rep, Rows: d.Len(), Classes: m.Classes}, err
}

// testImages reads EvaluateImages's data, checked against m's input.
func testImages(m *load.Images, path, dir string, c data.CSVFormat) (*data.Dataset, error) {
	cfg := m.Model.Config
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		_, d, err := data.MNIST(dir)
		if err != nil {
			return nil, err
		}
		if err := cfg.CheckInput(d.X.Shape()[1:]); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return d, nil
	}
	table, err := readTable(path, c)
	if err != nil {
		return nil, err
	}
	d, classes, err := data.ImagesFromTable(table, data.ImageTableOptions{Shape: [3]int{cfg.Channels, cfg.Height, cfg.Width}})
	if err != nil {
		return nil, err
	}
	return d, data.RelabelImages(d, classes, m.Classes, path)
}
