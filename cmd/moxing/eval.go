package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
)

const evalExample = `  moxing eval --model runs/cancer/best.safetensors \
      --data /usr/lib/python3/dist-packages/sklearn/datasets/data/breast_cancer.csv`

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var modelPath, dataPath string
	var asJSON bool
	var c csvFlags
	fs := newFlags("eval", "Evaluates a checkpoint written by moxing train on every row of a labelled CSV file:\n"+
		"loss and accuracy, precision, recall, F1, ROC AUC, log-loss and the confusion matrix for classification;\n"+
		"MSE, RMSE, MAE and R² for regression. The CSV is read as in training unless --sep/--header/--skip-rows say otherwise.",
		evalExample, stderr)
	fs.StringVar(&modelPath, "model", "", "checkpoint (best.safetensors of a run)")
	fs.StringVar(&dataPath, "data", "", "labelled CSV file")
	fs.BoolVar(&asJSON, "json", false, "print the metrics as JSON")
	c.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if modelPath == "" || dataPath == "" {
		return usagef("--model and --data are required; see --help")
	}
	m, err := loadTabular(modelPath)
	if err != nil {
		return err
	}
	table, err := readTable(dataPath, csvOr(fs, c, m.csv))
	if err != nil {
		return err
	}
	d, err := m.schema.Encode(table, nil, true)
	if err != nil {
		return err
	}
	rep, err := m.head.Evaluate(m.model, d)
	if err != nil {
		return err
	}
	if asJSON {
		out := map[string]any{"rows": d.Len(), "metrics": rep.Metrics}
		if rep.Confusion != nil {
			out["confusion"], out["classes"] = rep.Confusion.Counts, m.schema.Classes
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(stdout, "%s: %d rows\n%s\n", dataPath, d.Len(), formatMetrics(rep.Metrics))
	if rep.Confusion != nil {
		fmt.Fprint(stdout, rep.Confusion.Format(m.schema.Classes))
	}
	return nil
}

// csvOr returns the CSV flags given on the command line where set, and the
// training run's where not.
func csvOr(fs *flag.FlagSet, given, trained csvFlags) csvFlags {
	out := trained
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "sep":
			out.Sep = given.Sep
		case "header":
			out.Header = given.Header
		case "skip-rows":
			out.SkipRows = given.SkipRows
		}
	})
	return out
}
