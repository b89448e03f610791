package main

import (
	"context"
	"encoding/csv"
	"io"
	"strconv"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/internal/atomicfile"
)

const predictExample = `  moxing predict --model runs/cancer/best.safetensors \
      --data new_patients.csv --out predictions.csv`

func runPredict(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var md modelData
	var outPath string
	fs := newFlags("predict", "Predicts every row of a CSV file with a checkpoint written by moxing train, and writes a CSV:\n"+
		"the input columns, then \"prediction\" (the class label or value), then for classification one\n"+
		"\"prob_<class>\" column per class. The target column may be absent. The output file is written\n"+
		"atomically: it appears whole or not at all.", predictExample, stderr)
	md.register(fs, "CSV file to predict")
	fs.StringVar(&outPath, "out", "", "output CSV file (default: standard output)")
	if err := parse(fs, args); err != nil {
		return err
	}
	m, table, d, err := md.load(fs, false)
	if err != nil {
		return err
	}
	pred := m.head.Predict(m.model, d.X)
	write := func(w io.Writer) error {
		cw := csv.NewWriter(w)
		header := append(append([]string(nil), table.Columns...), "prediction")
		if m.schema.Task == data.Classification {
			for _, k := range m.schema.Classes {
				header = append(header, "prob_"+k)
			}
		}
		cw.Write(header)
		k := len(m.schema.Classes)
		for i, row := range table.Rows {
			rec := append([]string(nil), row...)
			if m.schema.Task == data.Regression {
				rec = append(rec, strconv.FormatFloat(pred.Values[i], 'g', 7, 64))
			} else {
				rec = append(rec, m.schema.Classes[pred.Classes[i]])
				for _, p := range pred.Probs[i*k : (i+1)*k] {
					rec = append(rec, strconv.FormatFloat(p, 'f', 6, 64))
				}
			}
			cw.Write(rec)
		}
		cw.Flush()
		return cw.Error()
	}
	if outPath == "" {
		return write(stdout)
	}
	return atomicfile.Write(outPath, write)
}
