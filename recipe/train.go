package recipe

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/dist"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/train"
)

// TrainOptions are the settings of Train (moxing train): an MLP on a CSV
// table, a ConvNet on images, or a recurrent text classifier. config.json
// in the run folder holds them.
type TrainOptions struct {
	Data        string         `json:"data" flag:"data" help:"data to train on: a CSV file (gzip is detected), mnist or images for cnn, a labelled text file (CSV, JSONL, JSON) for lstm, gru, rnn and bow"`
	CSV         data.CSVFormat `json:"csv"`
	Target      string         `json:"target" flag:"target" help:"target column, by name or index (negative from the end; default: the last column)"`
	Task        string         `json:"task" flag:"task" help:"classification or regression (default: inferred from the target)"`
	Categorical string         `json:"categorical" flag:"categorical" help:"comma-separated columns to one-hot encode even if numeric"`
	Impute      string         `json:"impute" flag:"impute" help:"\"mean\" fills missing cells (training mean, or most frequent category); default: missing cells are errors"`
	Hidden      string         `json:"hidden" flag:"hidden" def:"64" help:"hidden layer widths, comma-separated (\"\" for a linear model)"`
	Activation  string         `json:"activation" flag:"activation" def:"relu" help:"hidden activation: relu, tanh, sigmoid or gelu"`
	Dropout     float64        `json:"dropout" flag:"dropout" help:"dropout probability after each hidden layer" range:"[0,1)"`
	Optimizer   string         `json:"optimizer" flag:"optimizer" def:"adam" help:"adam, adamw, sgd, or lbfgs (L-BFGS with a line search, for full batches: --batch-size at least the training rows, --lr 1)"`
	LR          float64        `json:"lr" flag:"lr" def:"1e-3" help:"learning rate" range:"(0,)"`
	Momentum    float64        `json:"momentum" flag:"momentum" def:"0.9" help:"SGD momentum" range:"[0,1)"`
	WeightDecay float64        `json:"weight_decay" flag:"weight-decay" help:"weight decay (L2 for adam and sgd, decoupled for adamw)" range:"[0,)"`
	BatchSize   int            `json:"batch_size" flag:"batch-size" def:"32" help:"rows per optimizer step (per process under mpirun)" range:"(0,)"`
	Epochs      int            `json:"epochs" flag:"epochs" def:"200" help:"maximum epochs" range:"(0,)"`
	Patience    int            `json:"patience" flag:"patience" def:"20" help:"stop after this many epochs without improvement (0: never)" range:"[0,)"`
	MinDelta    float64        `json:"min_delta" flag:"min-delta" help:"smallest improvement of the monitored metric that counts" range:"[0,)"`
	Monitor     string         `json:"monitor" flag:"monitor" def:"val_loss" help:"validation metric for early stopping and the best checkpoint: val_loss, val_accuracy, val_f1, val_auc, val_r2, …"`
	Clip        float64        `json:"clip" flag:"clip" help:"clip the gradient norm to this (0: no clipping)" range:"[0,)"`
	Val         float64        `json:"val" flag:"val" def:"0.15" help:"fraction of rows for validation" range:"(0,1)"`
	Test        float64        `json:"test" flag:"test" def:"0.15" help:"fraction of rows held out for the final test" range:"[0,1)"`
	Seed        uint64         `json:"seed" flag:"seed" def:"1" help:"random seed (split, initialisation, shuffling, dropout)"`
	DataHash    string         `json:"data_sha256,omitempty"` // the data's fingerprint, recorded by Train and checked on resume
	// MNIST is the folder of MNIST's IDX files that Data "mnist" names
	// (cmd/moxing: $MOXING_DATA/mnist); config.json keeps "mnist".
	MNIST string `json:"-"`
	// --arch cnn
	Arch      string `json:"model" flag:"arch" def:"mlp" help:"mlp (tabular), cnn (images), or lstm, gru, rnn or bow (text classification)"`
	Conv      string `json:"conv,omitempty" flag:"conv" def:"32,64" help:"cnn: output channels of each convolution block (conv, ReLU, 2×2 max pool)"`
	Kernel    int    `json:"kernel,omitempty" flag:"kernel" def:"3" help:"cnn: convolution kernel size (odd)" range:"(0,)"`
	BatchNorm bool   `json:"batch_norm,omitempty" flag:"batch-norm" help:"cnn: batch normalisation after each convolution"`
	Shift     int    `json:"shift,omitempty" flag:"shift" help:"cnn: augment training images by random shifts of up to this many pixels" range:"[0,)"`
	Image     string `json:"image,omitempty" flag:"image" help:"cnn with a CSV: image size HxW or CxHxW of the pixel columns"`
	Limit     int    `json:"limit,omitempty" flag:"limit" help:"cnn with MNIST or IDX files: train on only the first N training images (0: all), for a quick run" range:"[0,)"`
	// --arch lstm|gru|rnn (text classification)
	TextField     string `json:"text_field,omitempty" flag:"text-field" def:"text" help:"lstm/gru/rnn/bow: the field of --data holding the text"`
	LabelField    string `json:"label_field,omitempty" flag:"label-field" help:"lstm/gru/rnn/bow: the field holding the label (default \"label\", or \"class\")"`
	ValData       string `json:"val_data,omitempty" flag:"val-data" help:"lstm/gru/rnn/bow: a labelled text file for validation (default: --val of --data)"`
	TokenizerFrom string `json:"tokenizer_from,omitempty" flag:"tokenizer-from" help:"lstm/gru/rnn: use the tokenizer of this GPT checkpoint (default: a BPE learned from --data)"`
	Vocab         int    `json:"vocab,omitempty" flag:"vocab" def:"2000" help:"lstm/gru/rnn: BPE vocabulary size learned from --data" range:"(0,)"`
	Window        int    `json:"window,omitempty" flag:"window" def:"256" help:"lstm/gru/rnn: texts are cut to this many tokens" range:"(0,)"`
	Embd          int    `json:"embd,omitempty" flag:"embd" def:"64" help:"lstm/gru/rnn: embedding width" range:"(0,)"`
	Layers        int    `json:"layers,omitempty" flag:"layers" def:"1" help:"lstm/gru/rnn: recurrent layers" range:"(0,)"`
	Bidirectional bool   `json:"bidirectional,omitempty" flag:"bidirectional" help:"lstm/gru/rnn: read the texts both ways"`
	// --arch bow (text classification; --text-field, --label-field and --val-data as above)
	WordNgrams string `json:"word_ngrams,omitempty" flag:"word-ngrams" def:"1,2" help:"bow: word n-grams MIN,MAX (\"\": none)"`
	CharNgrams string `json:"char_ngrams,omitempty" flag:"char-ngrams" help:"bow: character n-grams within words MIN,MAX, such as 2,5 (\"\": none)"`
	HashBits   int    `json:"hash_bits,omitempty" flag:"hash-bits" help:"bow: hash n-grams into 2^N features instead of a vocabulary (0: a vocabulary)" range:"[0,24]"`
	MinDF      int    `json:"min_df,omitempty" flag:"min-df" def:"1" help:"bow: keep n-grams in at least this many training texts" range:"[1,)"`
	RawTF      bool   `json:"raw_tf,omitempty" flag:"raw-tf" help:"bow: term frequency as counts (default: 1 + ln count)"`
	Dim        int    `json:"dim,omitempty" flag:"dim" help:"bow: width of fastText-style averaged n-gram embeddings (0: a linear model on TF-IDF)" range:"[0,4096]"`
	// World and GlobalBatch record a run's processes and rows per step
	// over all of them (BatchSize each); a resumed run keeps its global
	// batch, on any number of processes that divides it.
	World       int `json:"world_size,omitempty"`
	GlobalBatch int `json:"global_batch,omitempty"`
}

// TrainResult is how a supervised run ended. Its JSON is what moxing train
// --json prints (the fields in the order of their keys).
type TrainResult struct {
	Best       float64     `json:"best"`       // the monitored metric at BestEpoch
	BestEpoch  int         `json:"best_epoch"` // the epoch whose weights best.safetensors holds
	Checkpoint string      `json:"checkpoint"` // the run's best.safetensors
	Epochs     int         `json:"epochs"`     // epochs trained in all, resumed ones included
	Monitor    string      `json:"monitor"`    // the validation metric that chose the best epoch
	Run        string      `json:"run"`        // the run folder
	Stopped    string      `json:"stopped"`    // "epochs", "early stopping" or "interrupted"
	Test       *TestReport `json:"test,omitempty"`
	Seconds    float64     `json:"-"` // how long this Fit took
}

// TestReport is the best epoch's metrics on the held-out test split, as
// the run folder's test_metrics.json holds them.
type TestReport struct {
	BestEpoch int                `json:"best_epoch"`
	Classes   []string           `json:"classes"`             // class names (classification)
	Confusion [][]int            `json:"confusion,omitempty"` // metrics.Confusion's Counts (classification)
	Metrics   map[string]float64 `json:"metrics"`
	Rows      int                `json:"rows"`
}

// Train trains the model o.Arch names in the run folder f: an MLP on the
// CSV table o.Data (split into train, validation and test, the
// preprocessing fitted on the training rows only; split.json keeps the
// split), a ConvNet on images ("cnn": MNIST, a folder of IDX files or a
// CSV of pixel rows), or a recurrent text classifier ("lstm", "gru",
// "rnn") on a labelled text file. It keeps the best epoch's weights,
// evaluates them on the test split (test_metrics.json) and returns the
// result. When ctx is cancelled the run is saved to resume and the error
// wraps ctx's, with the result so far (nil when training had not begun).
func Train(ctx context.Context, o TrainOptions, f Folder, obs train.Observer, log io.Writer) (*TrainResult, error) {
	if err := Check(&o); err != nil {
		return nil, err
	}
	obs, log = f.quiet(obs, log)
	perProcess, err := f.jobBatch(o.BatchSize, &o.World, &o.GlobalBatch)
	if err != nil {
		return nil, err
	}
	f.start(dataStem(o.Data), &o.Data, &o.ValData, &o.TokenizerFrom)
	if err := f.checkData(o.dataPath(), &o.DataHash); err != nil {
		return nil, err
	}
	if o.Data == "" {
		return nil, optionf("--data is required (a CSV file, images, or labelled texts); see --help")
	}
	var s *supervised
	switch o.Arch {
	case "cnn":
		s, err = imagesRecipe(o)
	case "lstm", "gru", "rnn":
		s, err = textRNNRecipe(ctx, o, log)
	case "bow":
		s, err = bowRecipe(o, log)
	case "mlp", "":
		s, err = tabularRecipe(o, log)
	default:
		return nil, optionf("--arch %q: want mlp, cnn, lstm, gru, rnn or bow", o.Arch)
	}
	if err != nil {
		return nil, err
	}
	run, err := f.open(o)
	if err != nil {
		return nil, err
	}
	defer run.Close()
	if s.split != nil && !f.Resume && run != nil {
		if err := run.WriteJSON("split.json", s.split); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(log, "%s; run folder %s\n", s.about, f.Dir)
	ranks := dist.Or(f.Comm).Size()
	cfg := train.Config{Epochs: o.Epochs, BatchSize: perProcess * ranks, Monitor: o.Monitor, Patience: o.Patience,
		MinDelta: o.MinDelta, ClipNorm: o.Clip, Seed: o.Seed, Meta: s.card.Metadata(checkpoint.MetaCard), Augment: s.augment}
	loop := &train.Supervised{Model: s.model, Opt: s.opt, Head: s.head, Config: cfg, Run: run, Observer: obs, Comm: f.Comm}
	res, err := fit(ctx, loop, f.Resume, s.trainSet, s.valSet, f.Dir)
	if err != nil || s.testSet.Len() == 0 || run == nil { // rank 0 tests
		return res, err
	}
	rep, err := s.head.Evaluate(s.model, s.testSet)
	if err != nil {
		return res, err
	}
	res.Test = &TestReport{Rows: s.testSet.Len(), Metrics: rep.Metrics, BestEpoch: res.BestEpoch, Classes: s.classes}
	if rep.Confusion != nil {
		res.Test.Confusion = rep.Confusion.Counts
	}
	return res, run.WriteJSON("test_metrics.json", res.Test)
}

// supervised is a model ready to train with its data: what Train's
// recipes build before the run folder exists.
type supervised struct {
	model                     nn.Layer
	opt                       optim.Optimizer
	head                      train.Head
	classes                   []string // class names (classification)
	card                      *checkpoint.Card
	augment                   func(x *tensor.Tensor, rng *rand.Rand) *tensor.Tensor
	trainSet, valSet, testSet *data.Dataset
	split                     any    // a new run's split.json: the table's rows of each split (nil: none)
	about                     string // the data and the model, for the log
}

// fit runs loop (resumed from its run's last.safetensors when resume) and
// says how it ended.
func fit(ctx context.Context, loop *train.Supervised, resume bool, trainSet, valSet *data.Dataset, dir string) (*TrainResult, error) {
	if resume && loop.Run != nil { // rank 0 resumes, and Fit gives the others its state
		if err := loop.Resume(); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	res, err := loop.Fit(ctx, trainSet, valSet)
	return &TrainResult{Epochs: res.Epochs, BestEpoch: res.BestEpoch, Stopped: res.Stopped, Monitor: loop.Config.Monitor, Best: res.Best,
		Run: dir, Checkpoint: filepath.Join(dir, "best.safetensors"), Seconds: time.Since(start).Seconds()}, err
}

// newOptimizer is the optimizer o.Optimizer names, over params.
func newOptimizer(o TrainOptions, params []nn.Param) (optim.Optimizer, error) {
	if o.LR <= 0 {
		return nil, optionf("--lr %g: want a positive learning rate", o.LR)
	}
	switch o.Optimizer {
	case "adam":
		return optim.NewAdam(params, optim.AdamConfig{LR: float32(o.LR), WeightDecay: float32(o.WeightDecay)}), nil
	case "adamw":
		return optim.NewAdamW(params, optim.AdamConfig{LR: float32(o.LR), WeightDecay: float32(o.WeightDecay)}), nil
	case "sgd":
		return optim.NewSGD(params, optim.SGDConfig{LR: float32(o.LR), Momentum: float32(o.Momentum), WeightDecay: float32(o.WeightDecay)}), nil
	case "lbfgs":
		if o.Clip > 0 || o.World > 1 {
			return nil, optionf("--optimizer lbfgs runs on one process without --clip")
		}
		return optim.NewLBFGS(params, optim.LBFGSConfig{LR: float32(o.LR), WeightDecay: float32(o.WeightDecay)}), nil
	}
	return nil, optionf("--optimizer %q: want adam, adamw, sgd or lbfgs", o.Optimizer)
}
