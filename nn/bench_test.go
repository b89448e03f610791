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
