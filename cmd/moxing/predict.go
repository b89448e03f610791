package main

import (
	"context"
	"encoding/csv"
	"io"
	"strconv"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/internal/atomicfile"
	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/models/cnn"
	"github.com/moxing/moxing/models/mlp"
)

const predictExample = `  moxing predict --model runs/cancer/best.safetensors \
      --data new_patients.csv --out predictions.csv
  moxing predict --model runs/mnist/best.safetensors --data digit.png more.png
  moxing predict --model runs/mnist/best.safetensors --data t10k-images-idx3-ubyte.gz --out digits.csv`

func runPredict(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var md modelData
	var outPath string
	fs := newFlags("predict", "Predicts every row of a CSV file with a checkpoint written by moxing train, and writes a CSV:\n"+
		"the input columns, then \"prediction\" (the class label or value), then for classification one\n"+
		"\"prob_<class>\" column per class. The target column may be absent. The output file is written\n"+
		"atomically: it appears whole or not at all.\n"+
		"With a ConvNet checkpoint (moxing train --model cnn) it classifies images instead: PNG, JPEG or GIF\n"+
		"files (gray levels; light digits on a dark background, as MNIST) or IDX image files, writing\n"+
		"image,prediction,prob_<class>… rows.", predictExample, stderr)
	md.register(fs, "CSV file to predict")
	fs.StringVar(&outPath, "out", "", "output CSV file (default: standard output)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if md.model == "" {
		return usagef("--model is required; see --help")
	}
	m, err := load.Open(md.model, mlp.Kind, cnn.Kind)
	if err != nil {
		return err
	}
	if m.Images != nil {
		paths := fs.Args()
		if md.data != "" {
			paths = append([]string{md.data}, paths...)
		}
		if len(paths) == 0 {
			return usagef("give the images to predict: --data FILE (PNG, JPEG, GIF or IDX), more as arguments")
		}
		return writeOut(stdout, outPath, func(w io.Writer) error { return predictImages(m.Images, paths, w) })
	}
	if md.data == "" {
		return usagef("--data is required; see --help")
	}
	t := m.Tabular
	table, d, err := md.table(fs, t, false)
	if err != nil {
		return err
	}
	pred := tabularHead(t).Predict(t.Model, d)
	schema := t.Schema
	write := func(w io.Writer) error {
		cw := csv.NewWriter(w)
		header := append(append([]string(nil), table.Columns...), "prediction")
		if schema.Task == data.Classification {
			for _, k := range schema.Classes {
				header = append(header, "prob_"+k)
			}
		}
		cw.Write(header)
		k := len(schema.Classes)
		for i, row := range table.Rows {
			rec := append([]string(nil), row...)
			if schema.Task == data.Regression {
				rec = append(rec, strconv.FormatFloat(pred.Values[i], 'g', 7, 64))
			} else {
				rec = append(rec, schema.Classes[pred.Classes[i]])
				for _, p := range pred.Probs[i*k : (i+1)*k] {
					rec = append(rec, strconv.FormatFloat(p, 'f', 6, 64))
				}
			}
			cw.Write(rec)
		}
		cw.Flush()
		return cw.Error()
	}
	return writeOut(stdout, outPath, write)
}

// writeOut writes with write to the file path, atomically, or to stdout
// when path is "".
func writeOut(stdout io.Writer, path string, write func(io.Writer) error) error {
	if path == "" {
		return write(stdout)
	}
	return atomicfile.Write(path, write)
}
