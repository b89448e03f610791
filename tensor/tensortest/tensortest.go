// Package tensortest checks tensor code in tests: gradients against central
// finite differences, and results against reference values.
package tensortest

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/moxing/moxing/tensor"
)

// Options tune GradCheck. The zero value means the defaults.
type Options struct {
	// Eps is the finite-difference step h (default 1e-2; inputs are float32,
	// so much smaller steps drown in rounding error).
	Eps float64
	// RTol and ATol bound |analytic - numeric| ≤ ATol + RTol·max(|analytic|, |numeric|)
	// (defaults 1e-2 and 1e-3).
	RTol, ATol float64
	// Seed picks the random weights w of the checked scalar L = Σ w ⊙ f(x).
	Seed uint64
}

func (o *Options) ensureDefaults() {
	if o.Eps == 0 {
		o.Eps = 1e-2
	}
	if o.RTol == 0 {
		o.RTol = 1e-2
	}
	if o.ATol == 0 {
		o.ATol = 1e-3
	}
}

// GradCheck compares the gradients that Backward computes for f at inputs
// with central finite differences (L(x+h) - L(x-h)) / 2h, evaluated in
// float64 over f's float32 outputs. The scalar is L = Σ w ⊙ f(inputs) with
// fixed random weights w, so every output element and its sign matter.
//
// Inputs that do not RequireGrad are held constant. f must compute its result
// from the inputs it is given and must be deterministic. GradCheck returns an
// error naming the input and element of the first disagreement. Inputs' Grad
// fields are overwritten.
func GradCheck(f func(xs ...*tensor.Tensor) *tensor.Tensor, inputs []*tensor.Tensor, opt Options) error {
	opt.ensureDefaults()
	rng := rand.New(rand.NewPCG(opt.Seed, 0x9e3779b97f4a7c15))
	for _, x := range inputs {
		x.ZeroGrad()
	}
	out := f(inputs...)
	w := tensor.Randn(rng, out.Shape()...)
	out.BackwardWith(w)

	loss := func() float64 {
		y := f(inputs...) // records a graph that is dropped unused
		var s float64
		for i, v := range y.Data {
			s += float64(v) * float64(w.Data[i])
		}
		return s
	}
	for k, x := range inputs {
		if !x.RequiresGrad() {
			continue
		}
		if x.Grad == nil {
			return fmt.Errorf("input %d: no gradient reached it", k)
		}
		for i := range x.Data {
			orig := x.Data[i]
			x.Data[i] = orig + float32(opt.Eps)
			hi := float64(x.Data[i]) - float64(orig)
			lp := loss()
			x.Data[i] = orig - float32(opt.Eps)
			lo := float64(orig) - float64(x.Data[i])
			lm := loss()
			x.Data[i] = orig
			numeric := (lp - lm) / (hi + lo)
			analytic := float64(x.Grad.Data[i])
			if math.Abs(analytic-numeric) > opt.ATol+opt.RTol*math.Max(math.Abs(analytic), math.Abs(numeric)) ||
				math.IsNaN(analytic) {
				return fmt.Errorf("input %d (shape %v) element %d: analytic gradient %.6g, finite difference %.6g",
					k, x.Shape(), i, analytic, numeric)
			}
		}
	}
	return nil
}

// AllClose reports whether got and want have the same shape and every
// element satisfies |got - want| ≤ atol + rtol·|want|, as numpy.allclose. The
// error names the worst element.
func AllClose(got, want *tensor.Tensor, rtol, atol float64) error {
	if gs, ws := got.Shape(), want.Shape(); fmt.Sprint(gs) != fmt.Sprint(ws) {
		return fmt.Errorf("shape %v, want %v", gs, ws)
	}
	worst, worstExcess := -1, 0.0
	for i, g := range got.Data {
		w := float64(want.Data[i])
		diff := math.Abs(float64(g) - w)
		excess := diff - (atol + rtol*math.Abs(w))
		if math.IsNaN(float64(g)) != math.IsNaN(w) {
			excess = math.Inf(1)
		}
		if excess > worstExcess {
			worst, worstExcess = i, excess
		}
	}
	if worst >= 0 {
		return fmt.Errorf("element %d: got %.7g, want %.7g (|diff| %.3g > atol %g + rtol %g·|want|)",
			worst, got.Data[worst], want.Data[worst], math.Abs(float64(got.Data[worst]-want.Data[worst])), atol, rtol)
	}
	return nil
}
