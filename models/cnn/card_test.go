package cnn

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/tensor"
)

func TestNumParams(t *testing.T) {
	bn := MNIST()
	bn.BatchNorm = true
	for _, cfg := range []Config{MNIST(), bn, {Channels: 3, Height: 9, Width: 7, Conv: []int{4}, Kernel: 5, Outputs: 1}} {
		m, err := New(cfg, rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := m.Config.NumParams(), nn.NumParams(nn.Params(m)); got != float64(want) {
			t.Errorf("%+v: NumParams %v, the model has %d", cfg, got, want)
		}
	}
}

// The same seed trains the same ConvNet, to the bit, on any number of
// threads: the convolutions' weight gradients are summed in a fixed order.
func TestTrainingIndependentOfThreads(t *testing.T) {
	trainOn := func(threads int) []float32 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
		rng := rand.New(rand.NewPCG(7, 7))
		cfg := Config{Channels: 1, Height: 12, Width: 12, Conv: []int{8, 16}, Kernel: 3, BatchNorm: true, Hidden: []int{16}, Outputs: 3}
		m, err := New(cfg, rng)
		if err != nil {
			t.Fatal(err)
		}
		opt := optim.NewSGD(nn.Params(m), optim.SGDConfig{LR: 0.1, Momentum: 0.9})
		nn.Train(m, rng)
		for range 3 {
			x := tensor.Randn(rng, 20, 1, 12, 12)
			labels := make([]int, 20)
			for i := range labels {
				labels[i] = rng.IntN(3)
			}
			loss := nn.CrossEntropy(m.Forward(x), labels, 0)
			opt.ZeroGrad()
			loss.Backward()
			opt.Step()
		}
		var w []float32
		for _, p := range nn.Params(m) {
			w = append(w, p.Data...)
		}
		return w
	}
	one := trainOn(1)
	for _, threads := range []int{2, 3, 4} {
		if got := trainOn(threads); !slices.Equal(got, one) {
			t.Errorf("%d threads train another model than one thread", threads)
		}
	}
}
