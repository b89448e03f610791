package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/moxing/moxing/tensor"
)

// fans returns fan-in and fan-out of a weight shaped (Out, In, k...), as
// PyTorch computes them: In·Πk and Out·Πk.
func fans(t *tensor.Tensor) (in, out int) {
	s := t.Shape()
	if len(s) < 2 {
		panic(fmt.Sprintf("nn: fan-in and fan-out need a weight with at least 2 axes, got shape %v", s))
	}
	field := 1
	for _, d := range s[2:] {
		field *= d
	}
	return s[1] * field, s[0] * field
}

// Uniform fills t with draws from U[lo, hi).
func Uniform(t *tensor.Tensor, lo, hi float64, rng *rand.Rand) {
	for i := range t.Data {
		t.Data[i] = float32(lo + (hi-lo)*rng.Float64())
	}
}

// Normal fills t with draws from N(mean, std²).
func Normal(t *tensor.Tensor, mean, std float64, rng *rand.Rand) {
	for i := range t.Data {
		t.Data[i] = float32(mean + std*rng.NormFloat64())
	}
}

// Zeros fills t with 0.
func Zeros(t *tensor.Tensor) { clear(t.Data) }

// Fill fills t with v.
func Fill(t *tensor.Tensor, v float32) {
	for i := range t.Data {
		t.Data[i] = v
	}
}

// XavierUniform fills a weight (Out, In, ...) with Glorot's uniform
// initialisation: U(-b, b) with b = gain·√(6/(fanIn+fanOut)). Use gain 1 for
// linear and sigmoid layers, 5/3 for tanh.
func XavierUniform(t *tensor.Tensor, gain float64, rng *rand.Rand) {
	in, out := fans(t)
	b := gain * math.Sqrt(6/float64(in+out))
	Uniform(t, -b, b, rng)
}

// XavierNormal fills a weight with N(0, σ²), σ = gain·√(2/(fanIn+fanOut)).
func XavierNormal(t *tensor.Tensor, gain float64, rng *rand.Rand) {
	in, out := fans(t)
	Normal(t, 0, gain*math.Sqrt(2/float64(in+out)), rng)
}

// KaimingUniform fills a weight (Out, In, ...) with He's uniform
// initialisation for ReLU layers (fan-in mode): U(-b, b) with
// b = √2·√(3/fanIn), so activations keep their variance.
func KaimingUniform(t *tensor.Tensor, rng *rand.Rand) {
	in, _ := fans(t)
	b := math.Sqrt(2) * math.Sqrt(3/float64(in))
	Uniform(t, -b, b, rng)
}

// KaimingNormal fills a weight with N(0, σ²), σ = √2/√fanIn (He, fan-in mode,
// for ReLU layers).
func KaimingNormal(t *tensor.Tensor, rng *rand.Rand) {
	in, _ := fans(t)
	Normal(t, 0, math.Sqrt(2/float64(in)), rng)
}
