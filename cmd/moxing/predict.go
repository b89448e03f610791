package main

import (
	"context"
	"encoding/csv"
	"io"
	"strconv"
	"strings"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/internal/atomicfile"
	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/models/cnn"
	"github.com/moxing/moxing/models/mlp"
	"github.com/moxing/moxing/recipe"
	"github.com/spf13/pflag"
)

const predictExample = `  moxing predict --model runs/cancer/best.safetensors \
      --data new_patients.csv --out predictions.csv
  moxing predict --model runs/mnist/best.safetensors --data digit.png more.png
  moxing predict --model runs/mnist/best.safetensors --data t10k-images-idx3-ubyte.gz --out digits.csv`

const predictSynopsis = "Predicts every row of a CSV file with a checkpoint written by moxing train, and writes a CSV:\n" +
	"the input columns, then \"prediction\" (the class label or value), then for classification one\n" +
	"\"prob_<class>\" column per class. The target column may be absent. The output file is written\n" +
	"atomically: it appears whole or not at all.\n" +
	"With a ConvNet checkpoint (moxing train --arch cnn) it classifies images instead: PNG, JPEG or GIF\n" +
	"files (gray levels; light digits on a dark background, as MNIST) or IDX image files, writing\n" +
	"image,prediction,prob_<class>… rows."

func predictCommand(fs *pflag.FlagSet) runner {
	var md modelData
	var outPath string
	var asJSON bool
	md.register(fs, "CSV file to predict")
	fs.StringVar(&outPath, "out", "", "output CSV file (default: standard output)")
	fs.BoolVar(&asJSON, "json", false, "write the predictions as a JSON array of records instead of a CSV")
	return func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
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
			return writeOut(stdout, outPath, func(w io.Writer) error { return predictImages(m.Images, paths, w, asJSON) })
		}
		if md.data == "" {
			return usagef("--data is required; see --help")
		}
		t := m.Tabular
		table, pred, err := recipe.PredictTabular(t, md.data, md.csvFormat(fs, t))
		if err != nil {
			return err
		}
		schema := t.Schema
		header := append(append([]string(nil), table.Columns...), "prediction")
		if schema.Task == data.Classification {
			header = append(header, probColumns(schema.Classes)...)
		}
		rows := make([][]string, len(table.Rows))
		for i, row := range table.Rows {
			rec := append([]string(nil), row...)
			if schema.Task == data.Regression {
				rec = append(rec, strconv.FormatFloat(pred.Values[i], 'g', 7, 64))
			} else {
				rec = append(append(rec, schema.Classes[pred.Classes[i]]), probCells(pred.Probs, i, len(schema.Classes))...)
			}
			rows[i] = rec
		}
		write := func(w io.Writer) error { return writeTable(w, header, rows, asJSON) }
		return writeOut(stdout, outPath, write)
	}
}

// writeOut writes with write to the file path, atomically, or to stdout
// when path is "".
func writeOut(stdout io.Writer, path string, write func(io.Writer) error) error {
	if path == "" {
		return write(stdout)
	}
	return atomicfile.Write(path, write)
}

// probColumns are the prob_<class> column names of a prediction CSV.
func probColumns(classes []string) []string {
	cols := make([]string, len(classes))
	for i, k := range classes {
		cols[i] = "prob_" + k
	}
	return cols
}

// probCells are row i's k class probabilities of probs (N, k), formatted.
func probCells(probs []float64, i, k int) []string {
	cells := make([]string, k)
	for j, p := range probs[i*k : (i+1)*k] {
		cells[j] = strconv.FormatFloat(p, 'f', 6, 64)
	}
	return cells
}

// writeTable writes a header and rows as CSV or, asJSON, as an array of
// records keyed by the header (prob_ columns as numbers).
func writeTable(w io.Writer, header []string, rows [][]string, asJSON bool) error {
	if !asJSON {
		cw := csv.NewWriter(w)
		cw.Write(header)
		cw.WriteAll(rows)
		return cw.Error()
	}
	recs := make([]map[string]any, len(rows))
	for i, row := range rows {
		recs[i] = map[string]any{}
		for j, cell := range row {
			recs[i][header[j]] = cell
			if v, err := strconv.ParseFloat(cell, 64); err == nil && strings.HasPrefix(header[j], "prob_") {
				recs[i][header[j]] = v
			}
		}
	}
	return printJSON(w, recs)
}
