package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/moxing/moxing/internal/atomicfile"
	"github.com/moxing/moxing/plot"
	"github.com/spf13/pflag"
)

const plotExample = `  moxing plot --run runs/cancer      # writes runs/cancer/curves.png and confusion.png`

const plotSynopsis = "Draws a run's learning curves (train and validation loss; validation metrics) from its\n" +
	"metrics.jsonl into curves.png, and, for classification, the test split's confusion matrix from\n" +
	"test_metrics.json into confusion.png."

func plotCommand(fs *pflag.FlagSet) runner {
	var runDir, outDir string
	var asJSON bool
	fs.StringVar(&runDir, "run", "", "run folder of moxing train, pretrain, finetune or demo")
	fs.BoolVar(&asJSON, "json", false, "print the files written as JSON")
	fs.StringVar(&outDir, "out", "", "folder for the PNG files, made if missing (default: the run folder)")
	return func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
		if runDir == "" {
			return usagef("--run is required; see --help")
		}
		if outDir == "" {
			outDir = runDir
		}
		epochs, err := readMetrics(filepath.Join(runDir, "metrics.jsonl"))
		if err != nil {
			return err
		}
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return err
		}
		curves := filepath.Join(outDir, "curves.png")
		if err := atomicfile.Write(curves, func(w io.Writer) error { return plot.Curves(w, epochs) }); err != nil {
			return err
		}
		wrote := []string{curves}
		report := func() error {
			if asJSON {
				return printJSON(stdout, map[string][]string{"wrote": wrote})
			}
			for _, f := range wrote {
				fmt.Fprintln(stdout, "wrote", f)
			}
			return nil
		}
		path := filepath.Join(runDir, "test_metrics.json")
		raw, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			return report()
		} else if err != nil {
			return err
		}
		var test struct {
			Confusion [][]int  `json:"confusion"`
			Classes   []string `json:"classes"`
		}
		if err := json.Unmarshal(raw, &test); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if test.Confusion == nil {
			return report()
		}
		cm := filepath.Join(outDir, "confusion.png")
		if err := atomicfile.Write(cm, func(w io.Writer) error { return plot.Confusion(w, test.Confusion, test.Classes) }); err != nil {
			return err
		}
		wrote = append(wrote, cm)
		return report()
	}
}

// readMetrics reads a run's metrics.jsonl file.
func readMetrics(path string) ([]map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return plot.ReadMetrics(f, path)
}
