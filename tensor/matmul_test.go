package tensor_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/moxing/moxing/quant"
	"github.com/moxing/moxing/tensor"
)

// A Q8 weight gives the products of its quantized values, through Linear
// (both layouts) and MatMulT, to float32 rounding; and they are within the
// quantization's error of the float32 products.
func TestQ8Products(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	x := tensor.Randn(rng, 3, 64)
	w := tensor.Randn(rng, 64, 40) // (K, N)
	bias := tensor.Randn(rng, 40)
	exact := x.Linear(w, bias, false)
	q := w.Q8(false)
	got := x.Linear(q, bias, false)
	wt := w.Transpose(0, 1) // (N, K)
	gotT := x.Linear(wt.Q8(true), bias, true)
	gotM := x.MatMulT(wt.Q8(true), false, true)
	for i, v := range exact.Data {
		var size float64 // Σ|x||w|: each is rounded by at most half of its block's max/127
		for c := range 64 {
			size += math.Abs(float64(x.Data[(i/40)*64+c]) * float64(w.Data[c*40+i%40]))
		}
		if d := math.Abs(float64(got.Data[i] - v)); d > 3*size/127 {
			t.Fatalf("Q8 Linear %d: %g, float32 %g (Σ|x||w| = %g)", i, got.Data[i], v, size)
		}
		if got.Data[i] != gotT.Data[i] || math.Abs(float64(gotM.Data[i]+bias.Data[i%40]-got.Data[i])) > 1e-5 {
			t.Fatalf("Q8 %d: Linear %g, transposed %g, MatMulT %g", i, got.Data[i], gotT.Data[i], gotM.Data[i]+bias.Data[i%40])
		}
	}
}

// An F16 weight gives the products of its halves: those of float32
// weights holding the same values, to float32 rounding.
func TestF16Products(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	x := tensor.Randn(rng, 3, 40)
	w := tensor.Randn(rng, 24, 40) // (N, K), transposed as Linear's weight
	h := make([]uint16, len(w.Data))
	for i, v := range w.Data {
		h[i] = quant.ToF16(v)
		w.Data[i] = quant.FromF16(h[i])
	}
	want := x.Linear(w, nil, true)
	got := x.Linear(w.F16(true, h, false), nil, true)
	gotM := x.MatMulT(w.F16(true, h, false), false, true)
	for i, v := range want.Data {
		if math.Abs(float64(got.Data[i]-v)) > 1e-4 || got.Data[i] != gotM.Data[i] {
			t.Fatalf("F16 %d: Linear %g, MatMulT %g, float32 %g", i, got.Data[i], gotM.Data[i], v)
		}
	}
}
