package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/metrics"
	"github.com/moxing/moxing/models/mlp"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/train"
	"github.com/spf13/pflag"
)

// trainOptions are moxing train's settings; config.json in the run folder
// holds them, and --resume reads them back.
type trainOptions struct {
	Data        string         `json:"data" flag:"data" help:"CSV file to train on (gzip is detected)"`
	CSV         data.CSVFormat `json:"csv"`
	Target      string         `json:"target" flag:"target" help:"target column, by name or index (negative from the end; default: the last column)"`
	Task        string         `json:"task" flag:"task" help:"classification or regression (default: inferred from the target)"`
	Categorical string         `json:"categorical" flag:"categorical" help:"comma-separated columns to one-hot encode even if numeric"`
	Impute      string         `json:"impute" flag:"impute" help:"\"mean\" fills missing cells (training mean, or most frequent category); default: missing cells are errors"`
	Hidden      string         `json:"hidden" flag:"hidden" def:"64" help:"hidden layer widths, comma-separated (\"\" for a linear model)"`
	Activation  string         `json:"activation" flag:"activation" def:"relu" help:"hidden activation: relu, tanh, sigmoid or gelu"`
	Dropout     float64        `json:"dropout" flag:"dropout" help:"dropout probability after each hidden layer" range:"[0,1)"`
	Optimizer   string         `json:"optimizer" flag:"optimizer" def:"adam" help:"adam, adamw or sgd"`
	LR          float64        `json:"lr" flag:"lr" def:"1e-3" help:"learning rate" range:"(0,)"`
	Momentum    float64        `json:"momentum" flag:"momentum" def:"0.9" help:"SGD momentum" range:"[0,1)"`
	WeightDecay float64        `json:"weight_decay" flag:"weight-decay" help:"weight decay (L2 for adam and sgd, decoupled for adamw)" range:"[0,)"`
	BatchSize   int            `json:"batch_size" flag:"batch-size" def:"32" help:"rows per optimizer step" range:"(0,)"`
	Epochs      int            `json:"epochs" flag:"epochs" def:"200" help:"maximum epochs" range:"(0,)"`
	Patience    int            `json:"patience" flag:"patience" def:"20" help:"stop after this many epochs without improvement (0: never)" range:"[0,)"`
	MinDelta    float64        `json:"min_delta" flag:"min-delta" help:"smallest improvement of the monitored metric that counts" range:"[0,)"`
	Monitor     string         `json:"monitor" flag:"monitor" def:"val_loss" help:"validation metric for early stopping and the best checkpoint: val_loss, val_accuracy, val_f1, val_auc, val_r2, …"`
	Clip        float64        `json:"clip" flag:"clip" help:"clip the gradient norm to this (0: no clipping)" range:"[0,)"`
	Val         float64        `json:"val" flag:"val" def:"0.15" help:"fraction of rows for validation" range:"(0,1)"`
	Test        float64        `json:"test" flag:"test" def:"0.15" help:"fraction of rows held out for the final test" range:"[0,1)"`
	Seed        uint64         `json:"seed" flag:"seed" def:"1" help:"random seed (split, initialisation, shuffling, dropout)"`
	DataHash    string         `json:"data_sha256,omitempty"` // the data's fingerprint, checked on resume
	JSON        bool           `json:"-" flag:"json" help:"print the result (epochs, best score, test metrics, checkpoint) as JSON"`
	// --arch cnn
	Arch      string `json:"model" flag:"arch" def:"mlp" help:"mlp (tabular), cnn (images), or lstm, gru or rnn (text classification)"`
	Conv      string `json:"conv,omitempty" flag:"conv" def:"32,64" help:"cnn: output channels of each convolution block (conv, ReLU, 2×2 max pool)"`
	Kernel    int    `json:"kernel,omitempty" flag:"kernel" def:"3" help:"cnn: convolution kernel size (odd)" range:"(0,)"`
	BatchNorm bool   `json:"batch_norm,omitempty" flag:"batch-norm" help:"cnn: batch normalisation after each convolution"`
	Shift     int    `json:"shift,omitempty" flag:"shift" help:"cnn: augment training images by random shifts of up to this many pixels" range:"[0,)"`
	Image     string `json:"image,omitempty" flag:"image" help:"cnn with a CSV: image size HxW or CxHxW of the pixel columns"`
	Limit     int    `json:"limit,omitempty" flag:"limit" help:"cnn with MNIST or IDX files: train on only the first N training images (0: all), for a quick run" range:"[0,)"`
	// --arch lstm|gru|rnn (text classification)
	TextField     string `json:"text_field,omitempty" flag:"text-field" def:"text" help:"lstm/gru/rnn: the field of --data holding the text"`
	LabelField    string `json:"label_field,omitempty" flag:"label-field" help:"lstm/gru/rnn: the field holding the label (default \"label\", or \"class\")"`
	ValData       string `json:"val_data,omitempty" flag:"val-data" help:"lstm/gru/rnn: a labelled text file for validation (default: --val of --data)"`
	TokenizerFrom string `json:"tokenizer_from,omitempty" flag:"tokenizer-from" help:"lstm/gru/rnn: use the tokenizer of this GPT checkpoint (default: a BPE learned from --data)"`
	Vocab         int    `json:"vocab,omitempty" flag:"vocab" def:"2000" help:"lstm/gru/rnn: BPE vocabulary size learned from --data" range:"(0,)"`
	Window        int    `json:"window,omitempty" flag:"window" def:"256" help:"lstm/gru/rnn: texts are cut to this many tokens" range:"(0,)"`
	Embd          int    `json:"embd,omitempty" flag:"embd" def:"64" help:"lstm/gru/rnn: embedding width" range:"(0,)"`
	Layers        int    `json:"layers,omitempty" flag:"layers" def:"1" help:"lstm/gru/rnn: recurrent layers" range:"(0,)"`
	Bidirectional bool   `json:"bidirectional,omitempty" flag:"bidirectional" help:"lstm/gru/rnn: read the texts both ways"`
}

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
	var o trainOptions
	var rflags runFlags
	bindFlags(fs, &o)
	registerCSV(fs, &o.CSV)
	rflags.register(fs, "<data name>", "--epochs")
	return func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
		rf, err := rflags.folder(fs, &o, "epochs")
		if err != nil {
			return err
		}
		if err := checkFlags(&o); err != nil {
			return err
		}
		if err := rf.checkData(mnistDir(o.Data), &o.DataHash); err != nil {
			return err
		}
		rf.absPaths(&o.Data, &o.ValData, &o.TokenizerFrom)
		if o.Data == "" {
			return usagef("--data is required (a CSV file); see --help")
		}
		switch o.Arch {
		case "cnn":
			if rf.resume == "" {
				defaultFlags(fs, cnnDefaults(o.Image == ""))
			}
			return trainCNN(ctx, o, rf, stdout, stderr)
		case "lstm", "gru", "rnn":
			if rf.resume == "" {
				defaultFlags(fs, textRNNDefaults)
			}
			return trainTextRNN(ctx, o, rf, stdout, stderr)
		case "mlp", "":
			return trainMLP(ctx, o, rf, stdout, stderr)
		}
		return usagef("--arch %q: want mlp, cnn, lstm, gru or rnn", o.Arch)
	}
}

// trainMLP is moxing train on a table: read, decide the schema, split, fit
// the preprocessing on the training rows only, encode, train, test.
func trainMLP(ctx context.Context, o trainOptions, rf runFolder, stdout, stderr io.Writer) error {
	table, err := readTable(o.Data, o.CSV)
	if err != nil {
		return err
	}
	sopt := data.SchemaOptions{Target: o.Target, Task: data.Task(o.Task), Impute: o.Impute}
	if o.Categorical != "" {
		sopt.Categorical = strings.Split(o.Categorical, ",")
	}
	sets, err := data.SplitTable(table, sopt, o.Val, o.Test, rand.New(rand.NewPCG(o.Seed, 1)))
	if err != nil {
		return err
	}
	schema := sets.Schema
	for _, d := range schema.Dropped {
		fmt.Fprintf(stderr, "note: column %q is constant in the training split; ignored\n", d)
	}
	hidden, err := parseInts(o.Hidden)
	if err != nil {
		return usagef("--hidden %q: %v", o.Hidden, err)
	}
	cfg := mlp.Config{Inputs: schema.Inputs(), Hidden: hidden, Outputs: schema.Outputs(), Activation: o.Activation, Dropout: float32(o.Dropout)}
	model, err := mlp.New(cfg, rand.New(rand.NewPCG(o.Seed, 2)))
	if err != nil {
		return usageError{err.Error()}
	}
	opt, err := newOptimizer(o, nn.Params(model))
	if err != nil {
		return err
	}
	run, resume, err := rf.open(dataStem(o.Data), o)
	if err != nil {
		return err
	}
	defer run.Close()
	if !resume {
		if err := run.WriteJSON("split.json", sets.Rows); err != nil {
			return err
		}
	}
	r := supervisedRun{
		model: model, opt: opt, classes: schema.Classes, card: load.TabularCard(model, schema, o.CSV), run: run, resume: resume,
		head:     train.Head{Task: schema.Task, Classes: len(schema.Classes), Mean: schema.TargetMean, Std: schema.TargetStd},
		trainSet: sets.Train, valSet: sets.Val, testSet: sets.Test,
	}
	fmt.Fprintf(stderr, "%s: %d rows (%d train, %d validation, %d test), %d inputs, %s", o.Data, len(table.Rows),
		r.trainSet.Len(), r.valSet.Len(), r.testSet.Len(), schema.Inputs(), schema.Task)
	if schema.Task == data.Classification {
		fmt.Fprintf(stderr, " of %d classes", len(schema.Classes))
	}
	fmt.Fprintf(stderr, "; model %d parameters; run folder %s\n", nn.NumParams(nn.Params(model)), run.Dir)
	return fitAndReport(ctx, o, r, stdout, stderr)
}

// supervisedRun is a model ready to train, with its data and run folder.
type supervisedRun struct {
	model                     nn.Layer
	opt                       optim.Optimizer
	head                      train.Head
	classes                   []string // class names (classification)
	card                      *checkpoint.Card
	augment                   func(x *tensor.Tensor, rng *rand.Rand) *tensor.Tensor
	run                       *train.Run
	resume                    bool // continue from the run's last.safetensors
	trainSet, valSet, testSet *data.Dataset
	summary                   map[string]any // the result, for --json
}

// fitAndReport trains r with train.Supervised (early stopping, best and last
// checkpoints in the run folder), then reports the test split and writes
// test_metrics.json.
func fitAndReport(ctx context.Context, o trainOptions, r supervisedRun, stdout, stderr io.Writer) (err error) {
	if o.JSON {
		out := stdout
		defer func() {
			if err == nil {
				err = printJSON(out, r.summary)
			}
		}()
		stdout = io.Discard
	}
	cfg := train.Config{Epochs: o.Epochs, BatchSize: o.BatchSize, Monitor: o.Monitor, Patience: o.Patience,
		MinDelta: o.MinDelta, ClipNorm: o.Clip, Seed: o.Seed, Meta: r.card.Metadata(checkpoint.MetaCard), Augment: r.augment}
	res, err := fitSupervised(ctx, &train.Supervised{Model: r.model, Opt: r.opt, Head: r.head, Config: cfg, Run: r.run},
		r.resume, r.trainSet, r.valSet, "moxing train", stdout, stderr)
	r.summary = map[string]any{"epochs": res.Epochs, "best_epoch": res.BestEpoch, "stopped": res.Stopped, "monitor": cfg.Monitor,
		"best": res.Best, "run": r.run.Dir, "checkpoint": r.run.Path("best.safetensors")}
	if err != nil || r.testSet.Len() == 0 {
		return err
	}
	rep, err := r.head.Evaluate(r.model, r.testSet)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "test (%d rows): %s\n", r.testSet.Len(), metrics.Format(rep.Metrics))
	if rep.Confusion != nil {
		fmt.Fprint(stdout, rep.Confusion.Format(r.classes))
	}
	out := map[string]any{"rows": r.testSet.Len(), "metrics": rep.Metrics, "best_epoch": res.BestEpoch, "classes": r.classes}
	if rep.Confusion != nil {
		out["confusion"] = rep.Confusion.Counts
	}
	if err := r.run.WriteJSON("test_metrics.json", out); err != nil {
		return err
	}
	r.summary["test"] = out
	fmt.Fprintf(stdout, "best checkpoint: %s\n", r.run.Path("best.safetensors"))
	return nil
}

// fitSupervised runs a supervised loop with a progress display and prints
// how it ended, or the command that resumes an interrupted run (cmd, e.g.
// "moxing train").
func fitSupervised(ctx context.Context, loop *train.Supervised, resume bool, trainSet, valSet *data.Dataset, cmd string, stdout, stderr io.Writer) (train.Result, error) {
	if resume {
		if err := loop.Resume(); err != nil {
			return train.Result{}, err
		}
	}
	prog := newProgress(stderr, loop.Config.Epochs, (trainSet.Len()+loop.Config.BatchSize-1)/max(loop.Config.BatchSize, 1), loop.Config.Patience)
	loop.Observer = prog
	start := time.Now()
	res, err := loop.Fit(ctx, trainSet, valSet)
	prog.finish()
	if errors.Is(err, context.Canceled) {
		return res, fmt.Errorf("interrupted after %d epochs; saved %s; continue with: %s --resume %s",
			res.Epochs, loop.Run.Path("last.safetensors"), cmd, loop.Run.Dir)
	}
	if err != nil {
		return res, err
	}
	fmt.Fprintf(stdout, "trained %d epochs in %.1fs (%s); best epoch %d, %s %.4f\n",
		res.Epochs, time.Since(start).Seconds(), res.Stopped, res.BestEpoch, loop.Config.Monitor, res.Best)
	return res, nil
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

func newOptimizer(o trainOptions, params []nn.Param) (optim.Optimizer, error) {
	if o.LR <= 0 {
		return nil, usagef("--lr %g: want a positive learning rate", o.LR)
	}
	switch o.Optimizer {
	case "adam":
		return optim.NewAdam(params, optim.AdamConfig{LR: float32(o.LR), WeightDecay: float32(o.WeightDecay)}), nil
	case "adamw":
		return optim.NewAdamW(params, optim.AdamConfig{LR: float32(o.LR), WeightDecay: float32(o.WeightDecay)}), nil
	case "sgd":
		return optim.NewSGD(params, optim.SGDConfig{LR: float32(o.LR), Momentum: float32(o.Momentum), WeightDecay: float32(o.WeightDecay)}), nil
	}
	return nil, usagef("--optimizer %q: want adam, adamw or sgd", o.Optimizer)
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}
