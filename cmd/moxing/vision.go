package main

import (
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/recipe"
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

// textRNNDefaults are the flag values --arch lstm|gru|rnn uses where the
// command line sets none.
var textRNNDefaults = map[string]string{"hidden": "128", "epochs": "20", "patience": "5", "monitor": "val_accuracy", "dropout": "0.3", "val": "0.2"}

// mnistDir is where --data mnist lives: $MOXING_DATA/mnist, by default
// ~/.cache/moxing/data/mnist, where scripts/fetch-data.sh puts it.
func mnistDir() string {
	root := os.Getenv("MOXING_DATA")
	if root == "" {
		home, _ := os.UserHomeDir()
		root = filepath.Join(home, ".cache", "moxing", "data")
	}
	return filepath.Join(root, "mnist")
}

// resolveData is the file or folder --data names: mnistDir for "mnist".
func resolveData(name string) string {
	if name == "mnist" {
		return mnistDir()
	}
	return name
}

// predictImages is moxing predict with a ConvNet checkpoint: a CSV of
// image, prediction and one prob_<class> column per class.
func predictImages(m *load.Images, paths []string, out io.Writer, asJSON bool) error {
	pred, names, err := recipe.PredictImages(m, paths)
	if err != nil {
		return err
	}
	header := append([]string{"image", "prediction"}, probColumns(m.Classes)...)
	rows := make([][]string, len(names))
	for i, name := range names {
		rows[i] = append([]string{name, m.Classes[pred.Classes[i]]}, probCells(pred.Probs, i, len(m.Classes))...)
	}
	return writeTable(out, header, rows, asJSON)
}
