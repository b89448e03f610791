//go:build invariants

package tensor_test

import (
	"testing"

	"github.com/moxing/moxing/tensor"
)

// Run with: go test -tags invariants ./tensor/
func TestInvariantsCatchNaN(t *testing.T) {
	x := tensor.New([]float32{1, -1}, 2)
	mustPanic(t, func() { x.Log() }, "Log", "NaN", "element 1")
	mustPanic(t, func() { x.Sqrt() }, "Sqrt", "NaN")
	// -Inf in a mask is allowed.
	x.MaskedFill(tensor.New([]float32{0, 1}, 2), float32(negInf))
	// A NaN that only appears in the backward pass is named too: d/dx √x at 0.
	z := tensor.New([]float32{0, 1}, 2).RequireGrad()
	y := z.Sqrt().Mul(tensor.New([]float32{0, 1}, 2))
	mustPanic(t, func() { y.Sum(false).Backward() }, "backward of Sqrt", "NaN")
}
