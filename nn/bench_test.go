package nn_test

import (
	"math/rand/v2"
	"testing"

	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
)

// BenchmarkMLPBlockStep times one training step (forward, backward) of a
// GPT-2 small MLP block on B·T = 256 rows: LayerNorm, Linear 768→3072, GELU,
// Linear 3072→768, residual. Compare kernels with -tags purego.
func BenchmarkMLPBlockStep(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	ln := nn.NewLayerNorm(768)
	fc, proj := nn.NewLinear(768, 3072, true, rng), nn.NewLinear(3072, 768, true, rng)
	x := tensor.Randn(rng, 256, 768)
	b.Logf("kernels: %s", tensor.Kernels())
	for b.Loop() {
		h := proj.Forward(fc.Forward(ln.Forward(x)).GELU())
		loss := x.Add(h).Mul(x.Add(h)).Mean(false)
		loss.Backward()
	}
}

// BenchmarkDigitsMLPStep times one training step of the digits MLP of
// bench/tabular.json: batch 32, 61 → 128 → 10, cross-entropy.
func BenchmarkDigitsMLPStep(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	m := nn.NewMLP([]int{61, 128, 10}, nn.ReLU{}, 0, rng)
	x := tensor.Randn(rng, 32, 61)
	y := make([]int, 32)
	for i := range y {
		y[i] = i % 10
	}
	for b.Loop() {
		nn.CrossEntropy(m.Forward(x), y, 0).Backward()
	}
}

// BenchmarkConv2dStep times the forward and backward passes of the MNIST
// ConvNet's second convolution (batch 64, 32→64 channels, 3×3, padding 1,
// 14×14 images): im2col + GEMM, on an arena as the training loops run.
func BenchmarkConv2dStep(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	c := nn.NewConv2d(32, 64, 3, 3, tensor.Conv2dOpts{Padding: [2]int{1, 1}}, true, rng)
	arena := tensor.NewArena()
	nn.UseArena(c, arena)
	x := tensor.Randn(rng, 64, 32, 14, 14).RequireGrad()
	for b.Loop() {
		c.Forward(x).Sum(false).Backward()
		arena.Reset()
	}
}

// BenchmarkLSTMStep times a training step of a 2-layer LSTM (batch 32,
// 64 steps, 256 units) over given inputs, on an arena.
func BenchmarkLSTMStep(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	r := nn.NewRNN(nn.KindLSTM, 64, 256, 2, false, 0, rng)
	arena := tensor.NewArena()
	nn.UseArena(r, arena)
	x := tensor.Randn(rng, 32, 64, 64)
	for b.Loop() {
		r.Forward(x).Sum(false).Backward()
		arena.Reset()
	}
}
