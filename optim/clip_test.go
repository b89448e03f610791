package optim_test

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/tensor"
)

// ClipGradNorm over gradients of several pieces: the norm of float64 sums,
// the same on one thread and two, and the gradients scaled to maxNorm.
func TestClipGradNormPieces(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	grads := func() []nn.Param {
		var ps []nn.Param
		for _, n := range []int{3, 200_000, 70_000} {
			g := make([]float32, n)
			for i := range g {
				g[i] = float32(rng.NormFloat64())
			}
			w := tensor.New(make([]float32, n), n)
			w.Grad = tensor.New(g, n)
			ps = append(ps, nn.Param{Name: "p", Tensor: w})
		}
		return ps
	}
	ps := grads()
	var sq float64
	for _, p := range ps {
		for _, g := range p.Grad.Data {
			sq += float64(g) * float64(g)
		}
	}
	want := math.Sqrt(sq)
	copies := [2][]float32{}
	for i, threads := range []int{1, 2} {
		saved := runtime.GOMAXPROCS(threads)
		q := make([]nn.Param, len(ps))
		for j, p := range ps {
			w := tensor.New(make([]float32, p.Numel()), p.Numel())
			w.Grad = tensor.New(append([]float32(nil), p.Grad.Data...), p.Numel())
			q[j] = nn.Param{Name: "p", Tensor: w}
		}
		norm := optim.ClipGradNorm(q, 1)
		runtime.GOMAXPROCS(saved)
		if math.Abs(norm-want) > 1e-6*want {
			t.Fatalf("%d threads: norm %g, want %g", threads, norm, want)
		}
		copies[i] = q[1].Grad.Data
		if got := float64(q[1].Grad.Data[7]); math.Abs(got-float64(ps[1].Grad.Data[7])/(want+1e-6)) > 1e-6 {
			t.Fatalf("%d threads: a gradient scaled to %g", threads, got)
		}
	}
	for i := range copies[0] {
		if copies[0][i] != copies[1][i] {
			t.Fatalf("gradient %d differs between one thread and two", i)
		}
	}
}
