package train_test

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/models/mlp"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/train"
)

// blobs returns n rows of two noisy Gaussian classes in 2-D.
func blobs(n int, rng *rand.Rand) *data.Dataset {
	d := &data.Dataset{X: tensor.Zeros(n, 2)}
	for i := 0; i < n; i++ {
		k := i % 2
		d.X.Data[2*i] = float32(rng.NormFloat64() + 2*float64(k) - 1)
		d.X.Data[2*i+1] = float32(rng.NormFloat64())
		d.Labels = append(d.Labels, k)
		d.Lines = append(d.Lines, i+1)
	}
	return d
}

type recorder struct {
	batches int
	epochs  []train.Epoch
}

func (r *recorder) Batch(train.Batch)   { r.batches++ }
func (r *recorder) Epoch(e train.Epoch) { r.epochs = append(r.epochs, e) }

func TestSupervisedEarlyStoppingKeepsBest(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	trainSet, val := blobs(200, rng), blobs(60, rng)
	m, err := mlp.New(mlp.Config{Inputs: 2, Hidden: []int{16}, Outputs: 1}, rng)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	// A learning rate this high makes validation loss bounce, so patience triggers.
	loop := &train.Supervised{Model: m, Opt: optim.NewSGD(nn.Params(m), optim.SGDConfig{LR: 0.5}),
		Head: train.Head{Task: data.Classification, Classes: 2}, Observer: rec,
		Config: train.Config{Epochs: 200, BatchSize: 20, Monitor: "val_loss", Patience: 5, Seed: 3}}
	res, err := loop.Fit(context.Background(), trainSet, val)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stopped != "early stopping" || res.Epochs >= 200 || res.Epochs-res.BestEpoch != 5 {
		t.Fatalf("result %+v", res)
	}
	if rec.batches != res.Epochs*10 || len(rec.epochs) != res.Epochs {
		t.Fatalf("observer saw %d batches and %d epochs", rec.batches, len(rec.epochs))
	}
	best := math.Inf(1)
	for _, e := range rec.epochs {
		if e.Best != (e.Val["val_loss"] < best) {
			t.Fatalf("epoch %d marked best=%v with val_loss %v (best so far %v)", e.Epoch, e.Best, e.Val["val_loss"], best)
		}
		best = math.Min(best, e.Val["val_loss"])
	}
	// The model holds the best epoch's weights at the end.
	rep, err := loop.Head.Evaluate(m, val)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(rep.Loss-res.Best) > 1e-6 || res.Best != best {
		t.Fatalf("final val_loss %v, best epoch's %v (min seen %v)", rep.Loss, res.Best, best)
	}
	if rep.Metrics["accuracy"] < 0.7 { // the Bayes rate of these blobs is about 0.84
		t.Fatalf("accuracy %v on separable blobs", rep.Metrics["accuracy"])
	}
}

func TestSupervisedMonitorsMaximisedMetric(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	m, _ := mlp.New(mlp.Config{Inputs: 2, Outputs: 1}, rng)
	loop := &train.Supervised{Model: m, Opt: optim.NewAdam(nn.Params(m), optim.AdamConfig{LR: 0.05}),
		Head:   train.Head{Task: data.Classification, Classes: 2},
		Config: train.Config{Epochs: 5, BatchSize: 32, Monitor: "accuracy"}}
	res, err := loop.Fit(context.Background(), blobs(100, rng), blobs(40, rng))
	if err != nil {
		t.Fatal(err)
	}
	if res.Best < 0.5 || res.Best > 1 || res.BestEpoch < 1 {
		t.Fatalf("best accuracy %v at epoch %d", res.Best, res.BestEpoch)
	}
	bad := &train.Supervised{Model: m, Opt: optim.NewAdam(nn.Params(m), optim.AdamConfig{}),
		Head: train.Head{Task: data.Classification, Classes: 2}, Config: train.Config{Epochs: 1, BatchSize: 32, Monitor: "r2"}}
	if _, err := bad.Fit(context.Background(), blobs(10, rng), blobs(10, rng)); err == nil {
		t.Fatal("a regression metric accepted for classification")
	}
}

func TestRegressionHeadUnscales(t *testing.T) {
	h := train.Head{Task: data.Regression, Mean: 100, Std: 10}
	d := &data.Dataset{X: tensor.Zeros(2, 1), Targets: []float32{1, -1}, Lines: []int{1, 2}}
	// A model that outputs exactly the standardised targets.
	m := nn.NewSequential(&nn.Linear{Weight: tensor.Zeros(1, 1), Bias: tensor.New([]float32{0}, 1)})
	rep, err := h.Evaluate(m, d)
	if err != nil {
		t.Fatal(err)
	}
	// Predictions 100 vs targets 110 and 90: MSE 100 in target units, standardised loss 1.
	if rep.Pred.Values[0] != 100 || math.Abs(rep.Metrics["mse"]-100) > 1e-9 || math.Abs(rep.Loss-1) > 1e-6 {
		t.Fatalf("values %v mse %v loss %v", rep.Pred.Values, rep.Metrics["mse"], rep.Loss)
	}
}

// Predictions on padded texts come back in row order whether or not the
// dataset has Lengths (with them, chunks group texts of similar length).
func TestPredictPaddedTextsInRowOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	m, err := gpt.New(gpt.Config{VocabSize: 11, BlockSize: 12, NLayer: 1, NHead: 2, NEmbd: 8}, rng)
	if err != nil {
		t.Fatal(err)
	}
	cls, err := gpt.NewClassifier(m, 3, rng)
	if err != nil {
		t.Fatal(err)
	}
	const n = 300 // more than one chunk
	seqs, lengths := make([][]int, n), make([]int, n)
	for i := range seqs {
		lengths[i] = 1 + rng.IntN(12)
		for range lengths[i] {
			seqs[i] = append(seqs[i], rng.IntN(11))
		}
	}
	head := train.Head{Task: data.Classification, Classes: 3, PerClassLogits: true}
	padded := &data.Dataset{X: data.Pad(seqs), Lengths: lengths}
	sorted := head.Predict(cls, padded)
	for _, i := range []int{0, 1, 150, 255, 256, 299} {
		alone := head.Predict(cls, &data.Dataset{X: data.Pad(seqs[i : i+1])})
		for k := range 3 {
			if got, want := sorted.Probs[3*i+k], alone.Probs[k]; math.Abs(got-want) > 1e-5 {
				t.Fatalf("row %d (%d tokens) class %d: p = %v among length-sorted chunks, %v alone", i, lengths[i], k, got, want)
			}
		}
	}
}

// With an EMA optimizer the loop validates and keeps the averaged weights.
func TestSupervisedKeepsTheAverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	m, _ := mlp.New(mlp.Config{Inputs: 2, Hidden: []int{8}, Outputs: 1}, rng)
	opt := optim.NewEMA(optim.NewAdam(nn.Params(m), optim.AdamConfig{LR: 0.05}), 0.9)
	loop := &train.Supervised{Model: m, Opt: opt, Head: train.Head{Task: data.Classification, Classes: 2},
		Config: train.Config{Epochs: 1, BatchSize: 10, Monitor: "val_loss"}}
	if _, err := loop.Fit(context.Background(), blobs(100, rng), blobs(40, rng)); err != nil {
		t.Fatal(err)
	}
	var kept []float32
	for _, p := range nn.Params(m) {
		kept = append(kept, p.Data...)
	}
	opt.Swap() // puts the average in: it must be what the model already holds
	i := 0
	for _, p := range nn.Params(m) {
		for _, v := range p.Data {
			if v != kept[i] {
				t.Fatalf("%s: %v after Fit, the average is %v: the model does not hold the averaged weights", p.Name, kept[i], v)
			}
			i++
		}
	}
}

// A NaN input makes the loss NaN: the loop stops at that batch with an
// error, and keeps no checkpoint from it.
func TestSupervisedStopsOnNaN(t *testing.T) {
	if invariants {
		t.Skip("-tags invariants panics on the NaN this test feeds, by design")
	}
	rng := rand.New(rand.NewPCG(5, 5))
	m, _ := mlp.New(mlp.Config{Inputs: 2, Outputs: 1}, rng)
	d := blobs(40, rng)
	d.X.Data[7] = float32(math.NaN())
	dir := t.TempDir()
	loop := &train.Supervised{Model: m, Opt: optim.NewSGD(nn.Params(m), optim.SGDConfig{LR: 0.1}), Head: train.Head{Task: data.Classification, Classes: 2},
		Config: train.Config{Epochs: 3, BatchSize: 40, Monitor: "val_loss"}, Run: &train.Run{Dir: dir}}
	if _, err := loop.Fit(context.Background(), d, blobs(10, rng)); err == nil || !strings.Contains(err.Error(), "NaN at epoch 1, batch 1") {
		t.Fatalf("a NaN input: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "best.safetensors")); !os.IsNotExist(err) {
		t.Fatal("a diverged run wrote best.safetensors")
	}
}

// With L-BFGS on full batches, the loop's steps are StepClosure's: a
// logistic regression reaches its regularised optimum, where the
// training loss no longer changes; clipping is refused.
func TestSupervisedLBFGS(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	trainSet, val := blobs(200, rng), blobs(60, rng)
	m, err := mlp.New(mlp.Config{Inputs: 2, Outputs: 1}, rng)
	if err != nil {
		t.Fatal(err)
	}
	opt := optim.NewLBFGS(nn.Params(m), optim.LBFGSConfig{LR: 1, WeightDecay: 1e-3})
	loop := &train.Supervised{Model: m, Opt: opt, Head: train.Head{Task: data.Classification, Classes: 2},
		Config: train.Config{Epochs: 30, BatchSize: 200, Monitor: "val_loss", Seed: 1}}
	res, err := loop.Fit(context.Background(), trainSet, val)
	if err != nil {
		t.Fatal(err)
	}
	h := res.History
	if first, last := h[0].TrainLoss, h[len(h)-1].TrainLoss; last > first-0.1 || math.Abs(h[len(h)-2].TrainLoss-last) > 1e-6 {
		t.Fatalf("training losses %g … %g, %g: want a converged fall", first, h[len(h)-2].TrainLoss, last)
	}
	loop = &train.Supervised{Model: m, Opt: opt, Head: train.Head{Task: data.Classification, Classes: 2},
		Config: train.Config{Epochs: 1, BatchSize: 200, Monitor: "val_loss", ClipNorm: 1}}
	if _, err := loop.Fit(context.Background(), trainSet, val); err == nil || !strings.Contains(err.Error(), "L-BFGS") {
		t.Fatalf("L-BFGS with clipping: %v", err)
	}
}
