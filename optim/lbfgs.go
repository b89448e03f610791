package optim

import (
	"fmt"
	"math"

	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
)

// LBFGSConfig configures LBFGS.
type LBFGSConfig struct {
	LR          float32 // step size: 1 is a quasi-Newton step
	History     int     // (s, y) pairs kept; 0 means 10, PyTorch's default
	WeightDecay float32 // λ: the objective gains ½·λ·‖p‖², its gradient λ·p
}

// LBFGS is limited-memory BFGS over all parameters as one vector x, for
// full-batch training of smooth (ideally convex) objectives such as
// logistic regression, where it reaches the exact optimum in tens of steps
// that a first-order method needs thousands for. With g the gradient plus
// λ·x, the direction d = -H·g comes from the last History pairs
// s = x_{k+1} - x_k, y = g_{k+1} - g_k by the two-loop recursion, with
// H₀ = (sᵀy / yᵀy)·I from the newest pair (Nocedal and Wright, algorithm
// 7.4); a pair with sᵀy ≤ 1e-10 is skipped, as PyTorch's LBFGS does.
//
// Step takes one step x += LR·t·d with t = min(1, 1/‖g‖₁) on the first
// and 1 afterwards: torch.optim.LBFGS without a line search, one iteration
// a call, from the gradients the caller computed. StepClosure searches
// along d instead, re-evaluating the objective, and is what a full-batch
// training loop should call. Parameters without a gradient are taken as
// having a zero one.
type LBFGS struct {
	cfg          LBFGSConfig
	params       []nn.Param
	n            int
	s, y         [][]float32 // the pairs, oldest first
	prevS, prevG []float32   // Step's last step (t·d, as PyTorch's s) and the gradient it started from, for the next pair; nil before the first
}

// NewLBFGS returns an L-BFGS optimizer over params.
func NewLBFGS(params []nn.Param, cfg LBFGSConfig) *LBFGS {
	if cfg.History <= 0 {
		cfg.History = 10
	}
	n := 0
	for _, p := range params {
		n += p.Numel()
	}
	return &LBFGS{cfg: cfg, params: params, n: n}
}

// flat copies the parameters (or, when grads, their gradients plus λ·p)
// into one vector.
func (o *LBFGS) flat(grads bool) []float32 {
	v := make([]float32, 0, o.n)
	for _, p := range o.params {
		switch {
		case !grads:
			v = append(v, p.Data...)
		case p.Grad == nil:
			for _, w := range p.Data {
				v = append(v, o.cfg.WeightDecay*w)
			}
		default:
			for i, g := range p.Grad.Data {
				v = append(v, g+o.cfg.WeightDecay*p.Data[i])
			}
		}
	}
	return v
}

// set writes x into the parameters.
func (o *LBFGS) set(x []float32) {
	for _, p := range o.params {
		copy(p.Data, x[:p.Numel()])
		x = x[p.Numel():]
	}
}

// push adds the pair (s, y) when its curvature sᵀy is positive enough,
// dropping the oldest beyond History.
func (o *LBFGS) push(s, y []float32) {
	if dot(s, y) <= 1e-10 {
		return
	}
	if len(o.s) == o.cfg.History {
		o.s, o.y = o.s[1:], o.y[1:]
	}
	o.s, o.y = append(o.s, s), append(o.y, y)
}

// direction returns -H·g by the two-loop recursion.
func (o *LBFGS) direction(g []float32) []float32 {
	q := make([]float64, len(g))
	for i, v := range g {
		q[i] = float64(v)
	}
	k := len(o.s)
	alpha := make([]float64, k)
	for i := k - 1; i >= 0; i-- {
		rho := 1 / dot(o.y[i], o.s[i])
		alpha[i] = rho * dot64(o.s[i], q)
		axpy64(-alpha[i], o.y[i], q)
	}
	if k > 0 {
		gamma := dot(o.s[k-1], o.y[k-1]) / dot(o.y[k-1], o.y[k-1])
		for i := range q {
			q[i] *= gamma
		}
	}
	for i := 0; i < k; i++ {
		rho := 1 / dot(o.y[i], o.s[i])
		beta := rho * dot64(o.y[i], q)
		axpy64(alpha[i]-beta, o.s[i], q)
	}
	d := make([]float32, len(q))
	for i, v := range q {
		d[i] = float32(-v)
	}
	return d
}

// firstScale is the first step's scale, min(1, 1/‖g‖₁), as PyTorch's.
func firstScale(g []float32) float64 {
	var l1 float64
	for _, v := range g {
		l1 += math.Abs(float64(v))
	}
	return min(1, 1/l1)
}

// Step takes one L-BFGS step from the current gradients (see LBFGS).
func (o *LBFGS) Step() {
	x, g := o.flat(false), o.flat(true)
	t := float64(o.cfg.LR)
	if o.prevS == nil {
		t *= firstScale(g)
	} else {
		y := make([]float32, o.n)
		for i := range y {
			y[i] = g[i] - o.prevG[i]
		}
		o.push(o.prevS, y)
	}
	d := o.direction(g)
	for i := range d {
		d[i] *= float32(t) // the step
		x[i] += d[i]
	}
	o.prevS, o.prevG = d, g
	o.set(x)
}

// StepClosure takes one L-BFGS step with a backtracking line search:
// closure must zero the gradients, evaluate the objective at the current
// parameters (deterministically: no dropout, no fresh batch), compute its
// gradients and return its value, without λ's term. It is called once at
// the start, then for each trial point t = LR, LR/2, … (the first step
// scaled as Step's) until the objective, with λ's term, falls by at least
// 1e-4·t·gᵀd (Armijo's condition), at most 30 times; the last trial is
// kept either way. On return the parameters are the accepted point and
// their gradients the closure's there. It returns the objective (without
// λ's term) at the accepted point, and at the start.
func (o *LBFGS) StepClosure(closure func() float64) (loss, start float64) {
	start = closure()
	x, g := o.flat(false), o.flat(true)
	f0 := start + o.penalty(x)
	d := o.direction(g)
	slope := dot(g, d)
	if slope >= 0 { // not a descent direction (the pairs are stale): start again from the gradient
		o.s, o.y = nil, nil
		d = o.direction(g)
		slope = dot(g, d)
	}
	if slope == 0 {
		return start, start
	}
	t := float64(o.cfg.LR)
	if len(o.s) == 0 {
		t *= firstScale(g)
	}
	next := make([]float32, o.n)
	for try := 0; ; try++ {
		for i := range next {
			next[i] = x[i] + float32(t)*d[i]
		}
		o.set(next)
		loss = closure()
		if f := loss + o.penalty(next); f <= f0+1e-4*t*slope || try == 29 {
			break
		}
		t /= 2
	}
	g1 := o.flat(true)
	s, y := make([]float32, o.n), make([]float32, o.n)
	for i := range s {
		s[i], y[i] = next[i]-x[i], g1[i]-g[i]
	}
	o.push(s, y)
	o.prevS, o.prevG = nil, nil
	return loss, start
}

// penalty is ½·λ·‖x‖².
func (o *LBFGS) penalty(x []float32) float64 {
	if o.cfg.WeightDecay == 0 {
		return 0
	}
	return 0.5 * float64(o.cfg.WeightDecay) * dot(x, x)
}

// ZeroGrad zeroes every parameter's gradient in place.
func (o *LBFGS) ZeroGrad() { zeroGrad(o.params) }

// SetLR sets the step size.
func (o *LBFGS) SetLR(lr float32) { o.cfg.LR = lr }

// LR returns the step size.
func (o *LBFGS) LR() float32 { return o.cfg.LR }

// Params returns the optimised parameters.
func (o *LBFGS) Params() []nn.Param { return o.params }

// State returns the pairs as "old_stps.<i>" (s) and "old_dirs.<i>" (y),
// PyTorch's names, oldest first, and Step's last step and the gradient it
// started from as "prev_step" and "prev_flat_grad" when there are some:
// flat vectors over all parameters in order.
func (o *LBFGS) State() map[string]*tensor.Tensor {
	st := map[string]*tensor.Tensor{}
	for i := range o.s {
		st[fmt.Sprintf("old_stps.%d", i)] = tensor.New(o.s[i], o.n)
		st[fmt.Sprintf("old_dirs.%d", i)] = tensor.New(o.y[i], o.n)
	}
	if o.prevS != nil {
		st["prev_step"] = tensor.New(o.prevS, o.n)
		st["prev_flat_grad"] = tensor.New(o.prevG, o.n)
	}
	return st
}

// LoadState restores state saved by State; a vector of the wrong size, or
// a pair or point missing its other half, is an error.
func (o *LBFGS) LoadState(st map[string]*tensor.Tensor) error {
	vec := func(name string) ([]float32, bool, error) {
		t, ok := st[name]
		if !ok {
			return nil, false, nil
		}
		if t.Numel() != o.n {
			return nil, false, fmt.Errorf("optim: L-BFGS state %q has %d values, want %d", name, t.Numel(), o.n)
		}
		return append([]float32(nil), t.Data...), true, nil
	}
	o.s, o.y, o.prevS, o.prevG = nil, nil, nil, nil
	for i := 0; i < o.cfg.History; i++ {
		s, okS, err := vec(fmt.Sprintf("old_stps.%d", i))
		if err != nil {
			return err
		}
		y, okY, err := vec(fmt.Sprintf("old_dirs.%d", i))
		if err != nil {
			return err
		}
		if okS != okY {
			return fmt.Errorf("optim: L-BFGS state: pair %d has one half", i)
		}
		if !okS {
			break
		}
		o.s, o.y = append(o.s, s), append(o.y, y)
	}
	step, okX, err := vec("prev_step")
	if err != nil {
		return err
	}
	g, okG, err := vec("prev_flat_grad")
	if err != nil {
		return err
	}
	if okX != okG {
		return fmt.Errorf("optim: L-BFGS state: prev_step and prev_flat_grad go together")
	}
	o.prevS, o.prevG = step, g
	return nil
}

func dot(a, b []float32) float64 {
	var s float64
	for i, v := range a {
		s += float64(v) * float64(b[i])
	}
	return s
}

func dot64(a []float32, b []float64) float64 {
	var s float64
	for i, v := range a {
		s += float64(v) * b[i]
	}
	return s
}

func axpy64(alpha float64, x []float32, y []float64) {
	for i, v := range x {
		y[i] += alpha * float64(v)
	}
}
