package recipe_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/recipe"
	"github.com/moxing/moxing/train"
)

// writeCSV writes a table of two features and a label that a linear model
// separates: "hi" when x + y > 1.
func writeCSV(t *testing.T, path string, rows int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	var b strings.Builder
	b.WriteString("x,y,label\n")
	for range rows {
		x, y := rng.Float64(), rng.Float64()
		label := "lo"
		if x+y > 1 {
			label = "hi"
		}
		fmt.Fprintf(&b, "%.3f,%.3f,%s\n", x, y, label)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// counter is an Observer that counts what it is told.
type counter struct{ batches, epochs int }

func (c *counter) Batch(train.Batch) { c.batches++ }
func (c *counter) Epoch(train.Epoch) { c.epochs++ }

// TestTrainTabular runs the tabular recipe end to end: train, the run
// folder, resume to extend, then evaluation and prediction of its
// checkpoint on the same table.
func TestTrainTabular(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "xy.csv")
	writeCSV(t, csv, 100)
	var o recipe.TrainOptions
	recipe.Defaults(&o)
	o.Data, o.Epochs, o.Hidden, o.LR = csv, 4, "8", 0.05
	f := recipe.Folder{Dir: filepath.Join(dir, "run")}
	var obs counter
	var log bytes.Buffer
	res, err := recipe.Train(context.Background(), o, f, &obs, &log)
	if err != nil {
		t.Fatal(err)
	}
	if res.Epochs != 4 || res.Stopped != "epochs" || obs.epochs != 4 || obs.batches == 0 || res.Monitor != "val_loss" {
		t.Errorf("result %+v, observer %+v", res, obs)
	}
	if !strings.Contains(log.String(), "100 rows (68 train, 16 validation, 16 test), 2 inputs, classification of 2 classes") {
		t.Errorf("log: %q", log.String())
	}
	for _, name := range []string{"config.json", "split.json", "metrics.jsonl", "best.safetensors", "last.safetensors", "test_metrics.json"} {
		if _, err := os.Stat(filepath.Join(f.Dir, name)); err != nil {
			t.Error(err)
		}
	}
	test := res.Test
	if test == nil || test.Rows != 16 || test.Confusion == nil || test.Metrics["accuracy"] < 0.6 || strings.Join(test.Classes, ",") != "hi,lo" {
		t.Fatalf("test report %+v", test)
	}

	// Resuming reads config.json back; a larger Epochs extends the run.
	var back recipe.TrainOptions
	if err := train.ReadSettings(f.Dir, &back); err != nil {
		t.Fatal(err)
	}
	if back.Data != csv || back.DataHash == "" || back.Hidden != "8" {
		t.Errorf("config.json holds %+v", back)
	}
	back.Epochs = 6
	if res, err = recipe.Train(context.Background(), back, recipe.Folder{Dir: f.Dir, Resume: true}, nil, nil); err != nil || res.Epochs != 6 {
		t.Fatalf("resumed: %+v, %v", res, err)
	}

	m, err := load.Open(f.Dir)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := recipe.EvaluateTabular(m, csv, m.Tabular.CSV, "test", nil)
	if err != nil || ev.Rows != 16 || ev.Metrics["accuracy"] != res.Test.Metrics["accuracy"] {
		t.Errorf("EvaluateTabular on the test split: %+v, %v; the run's test: %+v", ev, err, res.Test)
	}
	table, pred, err := recipe.PredictTabular(m.Tabular, csv, m.Tabular.CSV)
	if err != nil || len(table.Rows) != 100 || len(pred.Classes) != 100 || len(pred.Probs) != 200 {
		t.Errorf("PredictTabular: %d rows, %d predictions, %v", len(table.Rows), len(pred.Classes), err)
	}
}

// TestOptionErrors: a mistake in the options is an *OptionError, and a
// failed start leaves no run folder behind.
func TestOptionErrors(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "xy.csv")
	writeCSV(t, csv, 20)
	for _, tc := range []struct {
		name string
		edit func(*recipe.TrainOptions)
		want string
	}{
		{"no data", func(o *recipe.TrainOptions) { o.Data = "" }, "--data is required"},
		{"range", func(o *recipe.TrainOptions) { o.Val = 1 }, "--val 1: want a value in (0,1)"},
		{"nan", func(o *recipe.TrainOptions) { o.Dropout = math.NaN() }, "--dropout NaN: want a finite number"},
		{"arch", func(o *recipe.TrainOptions) { o.Arch = "transformer" }, `--arch "transformer": want mlp, cnn, lstm, gru, rnn or bow`},
		{"hidden", func(o *recipe.TrainOptions) { o.Hidden = "8,x" }, `--hidden "8,x": "x" is not an integer`},
		{"optimizer", func(o *recipe.TrainOptions) { o.Optimizer = "newton" }, `--optimizer "newton": want adam, adamw, sgd or lbfgs`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o recipe.TrainOptions
			recipe.Defaults(&o)
			o.Data = csv
			tc.edit(&o)
			run := filepath.Join(dir, tc.name)
			_, err := recipe.Train(context.Background(), o, recipe.Folder{Dir: run}, nil, nil)
			var oe *recipe.OptionError
			if !errors.As(err, &oe) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an OptionError with %q", err, tc.want)
			}
			if _, err := os.Stat(run); !os.IsNotExist(err) {
				t.Errorf("a failed start left %s behind", run)
			}
		})
	}
}

// TestLanguageModel prepares a corpus, pretrains a tiny GPT on it, scores
// text with it, and fine-tunes it with LoRA on the same token files.
func TestLanguageModel(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus.txt")
	text := strings.Repeat("the cat sat on the mat. the dog sat on the log.\n", 60)
	if err := os.WriteFile(corpus, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	prepared := filepath.Join(dir, "prepared")
	pr, err := recipe.Prepare(context.Background(), recipe.PrepareOptions{Input: corpus, Ext: ".txt", Format: "text",
		Tokenizer: "char", Vocab: 1, Val: 0.1, Out: prepared}, nil)
	if err != nil || pr.TrainTokens+pr.ValTokens != len(text) || pr.Files != 1 {
		t.Fatalf("Prepare: %+v, %v", pr, err)
	}

	var o recipe.PretrainOptions
	recipe.Defaults(&o)
	o.Data, o.Steps, o.Seq, o.Layers, o.Embd, o.Heads, o.Batch = prepared, 6, 16, 1, 16, 2, 4
	run := filepath.Join(dir, "pretrain")
	res, err := recipe.Pretrain(context.Background(), o, recipe.Folder{Dir: run}, nil, nil)
	if err != nil || res.Steps != 6 || res.Checkpoint != filepath.Join(run, "best.safetensors") || res.BestLoss <= 0 {
		t.Fatalf("Pretrain: %+v, %v", res, err)
	}
	m, err := load.Open(run)
	if err != nil {
		t.Fatal(err)
	}
	lm, err := m.LanguageModel()
	if err != nil {
		t.Fatal(err)
	}
	mean, n, err := recipe.ScoreText(lm, text[:200], "text", nil, nil)
	if err != nil || n == 0 || mean <= 0 {
		t.Errorf("ScoreText: %g over %d tokens, %v", mean, n, err)
	}

	var fo recipe.FineTuneOptions
	recipe.Defaults(&fo)
	fo.Task, fo.Init, fo.Data, fo.Steps, fo.Batch, fo.LoRARank = "lm", run, prepared, 3, 4, 2
	ft, err := recipe.FineTune(context.Background(), fo, recipe.Folder{Dir: filepath.Join(dir, "finetune")}, nil, nil)
	if err != nil || ft.LM == nil || ft.LM.Steps != 3 || ft.Classifier != nil {
		t.Fatalf("FineTune: %+v, %v", ft, err)
	}
	if _, err := os.Stat(filepath.Join(ft.Adapter, "adapter_config.json")); err != nil {
		t.Errorf("the LoRA run's adapter folder: %v", err)
	}
}

// TestDefaultsAndCheck: Defaults gives the def tags; Check holds the range
// tags.
func TestDefaultsAndCheck(t *testing.T) {
	var o recipe.TrainOptions
	recipe.Defaults(&o)
	if o.Epochs != 200 || o.LR != 1e-3 || o.Seed != 1 || o.Hidden != "64" || o.Arch != "mlp" || o.BatchNorm || o.Dropout != 0 {
		t.Errorf("defaults: %+v", o)
	}
	if err := recipe.Check(&o); err != nil {
		t.Errorf("the defaults fail their own check: %v", err)
	}
	var p recipe.PretrainOptions
	recipe.Defaults(&p)
	for _, tc := range []struct {
		edit func()
		want string
	}{
		{func() { p.Warmup = -1 }, ""}, // -1: steps/20, the default
		{func() { p.Warmup = -2 }, "--warmup -2: want a value in [-1,)"},
		{func() { p.Warmup, p.Steps = 0, 0 }, "--steps 0: want a value in (0,)"},
	} {
		tc.edit()
		if err := recipe.Check(&p); (err == nil) != (tc.want == "") || err != nil && err.Error() != tc.want {
			t.Errorf("%+v: %v, want %q", p, err, tc.want)
		}
	}
}
