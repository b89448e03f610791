package tensortest_test

import (
	"math"
	"strings"
	"testing"

	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/tensor/tensortest"
)

func TestGradCheckAcceptsCorrectGradients(t *testing.T) {
	x := tensor.New([]float32{0.3, -1.2, 2}, 3).RequireGrad()
	y := tensor.New([]float32{1.5, 0.7, -0.4}, 3).RequireGrad()
	f := func(in ...*tensor.Tensor) *tensor.Tensor { return in[0].Mul(in[1]).Exp().Sum(false) }
	if err := tensortest.GradCheck(f, []*tensor.Tensor{x, y}, tensortest.Options{}); err != nil {
		t.Fatal(err)
	}
}

// A gradient cut by Detach is wrong by construction: GradCheck must notice.
func TestGradCheckCatchesWrongGradients(t *testing.T) {
	x := tensor.New([]float32{0.5, 1, 2}, 3).RequireGrad()
	f := func(in ...*tensor.Tensor) *tensor.Tensor { return in[0].Detach().Mul(in[0]) } // true d/dx x² = 2x, analytic x
	err := tensortest.GradCheck(f, []*tensor.Tensor{x}, tensortest.Options{})
	if err == nil || !strings.Contains(err.Error(), "input 0") {
		t.Fatalf("err = %v, want a mismatch on input 0", err)
	}
}

func TestAllClose(t *testing.T) {
	a := tensor.New([]float32{1, 2, 3}, 3)
	if err := tensortest.AllClose(a, tensor.New([]float32{1, 2.0001, 3}, 3), 1e-4, 0); err != nil {
		t.Fatalf("within tolerance: %v", err)
	}
	err := tensortest.AllClose(a, tensor.New([]float32{1, 2.01, 3}, 3), 1e-4, 0)
	if err == nil || !strings.Contains(err.Error(), "element 1") {
		t.Fatalf("err = %v, want element 1 named", err)
	}
	if err := tensortest.AllClose(a, tensor.New([]float32{1, 2, 3}, 1, 3), 1, 1); err == nil {
		t.Fatal("shape mismatch accepted")
	}
	nan := float32(math.NaN())
	if err := tensortest.AllClose(tensor.New([]float32{nan}, 1), tensor.New([]float32{1}, 1), 1, 1); err == nil {
		t.Fatal("NaN accepted")
	}
}
