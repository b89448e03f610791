package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/moxing/moxing/metrics"
	"github.com/moxing/moxing/progress"
	"github.com/moxing/moxing/recipe"
	"github.com/spf13/pflag"
)

const trainExample = `  moxing train --data /usr/lib/python3/dist-packages/sklearn/datasets/data/breast_cancer.csv \
      --skip-rows 1 --hidden 32 --epochs 200 --patience 20 --run runs/cancer
  moxing train --resume runs/cancer --epochs 300     # continue a run
  moxing train --arch cnn --data mnist --run runs/mnist   # a ConvNet on MNIST (scripts/fetch-data.sh installs it)
  moxing train --arch cnn --data digits.csv.gz --image 8x8 --conv 16,32 --hidden 64
  moxing train --arch lstm --data train.jsonl --val-data val.jsonl --bidirectional --run runs/sentiment-lstm`

const trainSynopsis = "Trains an MLP on a CSV table: classification or regression, inferred from the target column.\n" +
	"Splits the rows (stratified for classification) into train/validation/test, standardises features on the\n" +
	"training split, trains with early stopping on a validation metric, keeps the best epoch, and reports the\n" +
	"test split. The run folder gets config.json, split.json, metrics.jsonl, best.safetensors, last.safetensors\n" +
	"and test_metrics.json.\n" +
	"With --arch cnn it trains a ConvNet image classifier instead, on MNIST (--data mnist), a folder of\n" +
	"IDX files named as MNIST's, or a CSV of pixel rows (--image HxW): the official test set (or a\n" +
	"split) is the test, and validation comes out of the training images.\n" +
	"With --arch lstm, gru or rnn it trains a recurrent text classifier from scratch on a labelled text file\n" +
	"(CSV/TSV/JSONL/JSON, as moxing finetune reads); moxing classify and eval use its checkpoint."

func trainCommand(fs *pflag.FlagSet) runner {
	var o recipe.TrainOptions
	var rflags runFlags
	var asJSON bool
	bindFlags(fs, &o)
	registerCSV(fs, &o.CSV)
	fs.BoolVar(&asJSON, "json", false, "print the result (epochs, best score, test metrics, checkpoint) as JSON")
	rflags.register(fs, "<data name>", "--epochs")
	return func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
		f, stdout, err := rflags.folder(fs, stdout, &o, "epochs")
		if err != nil {
			return err
		}
		o.MNIST = mnistDir()
		if !f.Resume {
			switch o.Arch {
			case "cnn":
				defaultFlags(fs, cnnDefaults(o.Image == ""))
			case "lstm", "gru", "rnn":
				defaultFlags(fs, textRNNDefaults)
			}
		}
		prog := progress.New(stderr, o.Patience)
		res, err := recipe.Train(ctx, o, f, prog, stderr)
		prog.Finish()
		if err != nil {
			return trainStopped(res, err, "moxing train")
		}
		if asJSON {
			return printJSON(stdout, res)
		}
		printTrained(stdout, res)
		if t := res.Test; t != nil {
			fmt.Fprintf(stdout, "test (%d rows): %s\n", t.Rows, metrics.Format(t.Metrics))
			if t.Confusion != nil {
				fmt.Fprint(stdout, metrics.Confusion{Counts: t.Confusion}.Format(t.Classes))
			}
			fmt.Fprintf(stdout, "best checkpoint: %s\n", res.Checkpoint)
		}
		return nil
	}
}

// trainStopped is the error of a supervised recipe: for an interrupted
// run, the command (cmd, e.g. "moxing train") that continues it.
func trainStopped(res *recipe.TrainResult, err error, cmd string) error {
	if errors.Is(err, context.Canceled) && res != nil {
		return fmt.Errorf("interrupted after %d epochs; saved %s; continue with: %s --resume %s",
			res.Epochs, filepath.Join(res.Run, "last.safetensors"), cmd, res.Run)
	}
	return err
}

// printTrained says how a supervised run ended.
func printTrained(w io.Writer, res *recipe.TrainResult) {
	fmt.Fprintf(w, "trained %d epochs in %.1fs (%s); best epoch %d, %s %.4f\n",
		res.Epochs, res.Seconds, res.Stopped, res.BestEpoch, res.Monitor, res.Best)
}

// defaultFlags sets each flag of fs named in values that the command line
// did not set (so into the options the flags are bound to).
func defaultFlags(fs *pflag.FlagSet, values map[string]string) {
	set := map[string]bool{}
	fs.Visit(func(f *pflag.Flag) { set[f.Name] = true })
	for name, v := range values {
		if !set[name] {
			if err := fs.Set(name, v); err != nil {
				panic("moxing: default for --" + name + ": " + err.Error())
			}
		}
	}
}
