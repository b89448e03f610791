package optim_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/tensor"
)

// logistic is an L2-regularised softmax regression on random data: its
// parameters and a closure for StepClosure.
func logistic(seed uint64) ([]nn.Param, func() float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	const n, f, classes = 64, 10, 3
	x := make([]float32, n*f)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	labels := make([]int, n)
	for i := range labels {
		labels[i] = rng.IntN(classes)
	}
	xt := tensor.New(x, n, f)
	w := tensor.New(make([]float32, classes*f), classes, f).RequireGrad()
	b := tensor.New(make([]float32, classes), classes).RequireGrad()
	params := []nn.Param{{Name: "w", Tensor: w}, {Name: "b", Tensor: b}}
	closure := func() float64 {
		for _, p := range params {
			p.ZeroGrad()
		}
		loss := nn.CrossEntropy(xt.Linear(w, b, true), labels, 0)
		loss.Backward()
		return float64(loss.Item())
	}
	return params, closure
}

// StepClosure reaches the regularised optimum: the objective never rises,
// and its gradient (the data's plus λ·p) vanishes.
func TestLBFGSStepClosureConverges(t *testing.T) {
	const wd = 0.01
	params, closure := logistic(1)
	opt := optim.NewLBFGS(params, optim.LBFGSConfig{LR: 1, WeightDecay: wd})
	objective := func(loss float64) float64 {
		var sq float64
		for _, p := range params {
			for _, v := range p.Data {
				sq += float64(v) * float64(v)
			}
		}
		return loss + 0.5*wd*sq
	}
	prev := math.Inf(1)
	for step := range 40 {
		loss, _ := opt.StepClosure(closure)
		f := objective(loss)
		if f > prev+1e-6 {
			t.Fatalf("step %d: objective rose from %g to %g", step, prev, f)
		}
		prev = f
	}
	closure()
	var gmax float64
	for _, p := range params {
		for i, g := range p.Grad.Data {
			gmax = max(gmax, math.Abs(float64(g)+wd*float64(p.Data[i])))
		}
	}
	if gmax > 1e-4 {
		t.Fatalf("after 40 steps the largest gradient is %g", gmax)
	}
}

// A run saved and restored midway takes the same steps as one that was
// not interrupted.
func TestLBFGSStateResumes(t *testing.T) {
	run := func(stop int) []float32 {
		params, closure := logistic(2)
		opt := optim.NewLBFGS(params, optim.LBFGSConfig{LR: 1, History: 4})
		for step := range 12 {
			if step == stop {
				weights := [][]float32{}
				for _, p := range params {
					weights = append(weights, append([]float32(nil), p.Data...))
				}
				st := map[string]*tensor.Tensor{}
				for k, v := range opt.State() {
					st[k] = tensor.New(append([]float32(nil), v.Data...), v.Shape()...)
				}
				params, closure = logistic(2)
				for i, p := range params {
					copy(p.Data, weights[i])
				}
				opt = optim.NewLBFGS(params, optim.LBFGSConfig{LR: 1, History: 4})
				if err := opt.LoadState(st); err != nil {
					t.Fatal(err)
				}
			}
			closure()
			opt.Step()
		}
		return params[0].Data
	}
	want, got := run(-1), run(7)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("w[%d] = %g after resuming, %g without", i, got[i], want[i])
		}
	}
	params, _ := logistic(2)
	opt := optim.NewLBFGS(params, optim.LBFGSConfig{LR: 1})
	if err := opt.LoadState(map[string]*tensor.Tensor{"old_stps.0": tensor.New(make([]float32, 3), 3)}); err == nil {
		t.Fatal("a state vector of the wrong size loaded")
	}
}
