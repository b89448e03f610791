package main

import (
	"context"
	"fmt"
	"io"

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
		wrote, err := plot.Run(runDir, outDir)
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(stdout, map[string][]string{"wrote": wrote})
		}
		for _, f := range wrote {
			fmt.Fprintln(stdout, "wrote", f)
		}
		return nil
	}
}
