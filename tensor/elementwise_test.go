package tensor

import (
	"math/rand/v2"
	"testing"
)

// A same-shape Add (a residual connection) large enough to be split across
// threads: its values, the gradient of each operand (Σ (a+b)⊙w gives w),
// an operand added to itself (2w), and a gradient already there added to.
func TestAddSameShape(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	n := 3 << 16 // three of chunks' pieces
	randT := func() *Tensor {
		x := New(make([]float32, n), 3, n/3)
		for i := range x.Data {
			x.Data[i] = float32(rng.NormFloat64())
		}
		return x
	}
	a, b, w := randT().RequireGrad(), randT().RequireGrad(), randT()
	y := a.Add(b)
	for i, v := range y.Data {
		if v != a.Data[i]+b.Data[i] {
			t.Fatalf("y[%d] = %v, want %v", i, v, a.Data[i]+b.Data[i])
		}
	}
	y.Mul(w).Sum(false).Backward()
	for i, g := range w.Data {
		if a.Grad.Data[i] != g || b.Grad.Data[i] != g {
			t.Fatalf("grad[%d] = %v and %v, want %v", i, a.Grad.Data[i], b.Grad.Data[i], g)
		}
	}
	c := randT().RequireGrad()
	c.Add(c).Mul(w).Sum(false).Backward() // a fresh gradient written, then added to
	for i, g := range w.Data {
		if c.Grad.Data[i] != 2*g {
			t.Fatalf("c+c: grad[%d] = %v, want %v", i, c.Grad.Data[i], 2*g)
		}
	}
	a.Add(a).Mul(w).Sum(false).Backward() // adds 2w to a's gradient
	for i, g := range w.Data {
		if want := g + 2*g; a.Grad.Data[i] != want {
			t.Fatalf("after a+a: grad[%d] = %v, want %v", i, a.Grad.Data[i], want)
		}
	}
}
