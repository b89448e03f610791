package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
)

const evalExample = `  moxing eval --model runs/cancer/best.safetensors \
      --data /usr/lib/python3/dist-packages/sklearn/datasets/data/breast_cancer.csv`

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var md modelData
	var asJSON bool
	fs := newFlags("eval", "Evaluates a checkpoint written by moxing train on every row of a labelled CSV file:\n"+
		"loss and accuracy, precision, recall, F1, ROC AUC, log-loss and the confusion matrix for classification;\n"+
		"MSE, RMSE, MAE and R² for regression. The CSV is read as in training unless --sep/--header/--skip-rows say otherwise.",
		evalExample, stderr)
	md.register(fs, "labelled CSV file")
	fs.BoolVar(&asJSON, "json", false, "print the metrics as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	m, _, d, err := md.load(fs, true)
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
	fmt.Fprintf(stdout, "%s: %d rows\n%s\n", md.data, d.Len(), formatMetrics(rep.Metrics))
	if rep.Confusion != nil {
		fmt.Fprint(stdout, rep.Confusion.Format(m.schema.Classes))
	}
	return nil
}
