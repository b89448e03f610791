package tensor_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/moxing/moxing/tensor"
)

// TestConv2dShapeErrors checks that configurations that cannot run are
// reported with what does not fit, before any op panics.
func TestConv2dShapeErrors(t *testing.T) {
	for _, c := range []struct {
		x, w []int
		o    tensor.Conv2dOpts
		want string
	}{
		{[]int{1, 3, 4, 4}, []int{8, 3, 5, 5}, tensor.Conv2dOpts{}, "empty output"},
		{[]int{1, 3, 4, 4}, []int{8, 3, 3, 3}, tensor.Conv2dOpts{Dilation: [2]int{2, 2}}, "empty output"},
		{[]int{1, 3, 4, 4}, []int{8, 2, 3, 3}, tensor.Conv2dOpts{}, "expects 2 input channels"},
		{[]int{1, 4, 4, 4}, []int{6, 2, 3, 3}, tensor.Conv2dOpts{Groups: 4}, "groups do not divide"},
		{[]int{3, 4, 4}, []int{6, 3, 3, 3}, tensor.Conv2dOpts{}, "(N, C, H, W)"},
		{[]int{1, 3, 4, 4}, []int{8, 3, 3, 3}, tensor.Conv2dOpts{Padding: [2]int{-1, 0}}, "padding"},
	} {
		_, err := tensor.Conv2dShape(c.x, c.w, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Conv2dShape(%v, %v, %+v) = %v, want an error containing %q", c.x, c.w, c.o, err, c.want)
		}
	}
	got, err := tensor.Conv2dShape([]int{2, 3, 28, 28}, []int{8, 3, 5, 5}, tensor.Conv2dOpts{Stride: [2]int{2, 2}, Padding: [2]int{2, 2}})
	if err != nil || len(got) != 4 || got[2] != 14 || got[3] != 14 || got[1] != 8 {
		t.Errorf("Conv2dShape = %v, %v; want [2 8 14 14]", got, err)
	}
	if _, err := tensor.Pool2dShape([]int{1, 1, 1, 1}, tensor.Pool2dOpts{Kernel: [2]int{2, 2}}); err == nil || !strings.Contains(err.Error(), "empty output") {
		t.Errorf("Pool2dShape of a 2×2 window over 1×1: %v", err)
	}
}

// TestReLULarge covers the multi-threaded path of ReLU against plain loops.
func TestReLULarge(t *testing.T) {
	x := tensor.Randn(rand.New(rand.NewPCG(1, 2)), 3, 100_003).RequireGrad()
	y := x.ReLU()
	g := tensor.Randn(rand.New(rand.NewPCG(3, 4)), 3, 100_003)
	y.BackwardWith(g)
	for i, v := range x.Data {
		want, grad := max(v, 0), float32(0)
		if v > 0 {
			grad = g.Data[i]
		}
		if y.Data[i] != want || x.Grad.Data[i] != grad {
			t.Fatalf("element %d: ReLU %v, gradient %v; want %v, %v", i, y.Data[i], x.Grad.Data[i], want, grad)
		}
	}
}
