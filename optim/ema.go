package optim

import (
	"fmt"
	"math"

	"github.com/moxing/moxing/internal/kernel"
	"github.com/moxing/moxing/tensor"
)

// EMA wraps an optimizer and keeps an exponential moving average of the
// weights it trains (Polyak averaging; timm's ModelEma, Keras's use_ema).
// After step n, the average of each parameter is
//
//	avg_n = (1 − d)·Σᵢ dⁿ⁻ⁱ·wᵢ / (1 − dⁿ),   i = 1 … n,
//
// the iterates w₁ … wₙ weighted by dⁿ⁻ⁱ: a running sum s ← d·s + (1 − d)·w
// from zero, corrected for its start as Adam corrects its moments, so that
// early averages are not pulled toward the starting weights. It spans about
// 1/(1 − d) steps. The average is usually a better model than the last
// weights, less tied to the last batches: evaluate and keep it by calling
// Swap around the evaluation.
type EMA struct {
	Optimizer
	Decay float32
	sum   [][]float32 // s per parameter of Params()
	held  [][]float32 // the trained weights while the average is swapped in
	steps int
}

// NewEMA averages the parameters that inner optimizes, with decay in [0, 1).
func NewEMA(inner Optimizer, decay float32) *EMA {
	if decay < 0 || decay >= 1 {
		panic(fmt.Sprintf("optim: EMA decay %v outside [0, 1)", decay))
	}
	e := &EMA{Optimizer: inner, Decay: decay}
	for _, p := range inner.Params() {
		e.sum = append(e.sum, make([]float32, p.Numel()))
	}
	return e
}

// Step runs the inner optimizer's step, then moves the averages. It panics
// while the average is swapped in.
func (e *EMA) Step() {
	if e.held != nil {
		panic("optim: EMA.Step with the average swapped in: call Swap first")
	}
	e.Optimizer.Step()
	e.steps++
	d := e.Decay
	var ws [][]float32
	for _, p := range e.Params() {
		ws = append(ws, p.Data)
	}
	sums, weights := pieces(e.sum), pieces(ws) // the same cuts: e.sum[i] is as long as its parameter
	kernel.Parallel(len(sums), func(lo, hi int) {
		for k := lo; k < hi; k++ {
			s, w := sums[k], weights[k][:len(sums[k])]
			for j := range s {
				s[j] = d*s[j] + (1-d)*w[j]
			}
		}
	})
}

// Swap puts the averaged weights in place of the trained ones (to evaluate
// or save them), and at the next call puts the trained weights back,
// exactly. Before any step the average is the weights themselves.
func (e *EMA) Swap() {
	ps := e.Params()
	if e.held != nil {
		for i, p := range ps {
			copy(p.Data, e.held[i])
		}
		e.held = nil
		return
	}
	e.held = make([][]float32, len(ps))
	if e.steps == 0 {
		for i, p := range ps {
			e.held[i] = append([]float32(nil), p.Data...)
		}
		return
	}
	scale := float32(1 / (1 - math.Pow(float64(e.Decay), float64(e.steps))))
	for i, p := range ps {
		e.held[i] = append([]float32(nil), p.Data...)
		for j, s := range e.sum[i] {
			p.Data[j] = s * scale
		}
	}
}

// State is the inner optimizer's state plus the running sums, "ema.<param>",
// and the number of steps averaged, "ema_steps".
func (e *EMA) State() map[string]*tensor.Tensor {
	st := e.Optimizer.State()
	st["ema_steps"] = tensor.Scalar(float32(e.steps))
	for i, p := range e.Params() {
		st["ema."+p.Name] = tensor.New(e.sum[i], p.Shape()...)
	}
	return st
}

// LoadState restores state saved by State. A state without averages (saved
// without EMA) starts them afresh.
func (e *EMA) LoadState(st map[string]*tensor.Tensor) error {
	inner := map[string]*tensor.Tensor{}
	for k, v := range st {
		inner[k] = v
	}
	e.steps, e.held = 0, nil
	if t, ok := st["ema_steps"]; ok {
		if t.Numel() != 1 || t.Data[0] < 0 {
			return fmt.Errorf("optim: state %q: want one non-negative step count", "ema_steps")
		}
		e.steps = int(t.Data[0])
		delete(inner, "ema_steps")
	}
	for i, p := range e.Params() {
		t, ok := st["ema."+p.Name]
		delete(inner, "ema."+p.Name)
		switch {
		case !ok && e.steps > 0:
			return fmt.Errorf("optim: state has %d averaged steps but no %q", e.steps, "ema."+p.Name)
		case !ok:
			clear(e.sum[i])
		case t.Numel() != p.Numel():
			return fmt.Errorf("optim: state %q has %d values for a parameter of %d", "ema."+p.Name, t.Numel(), p.Numel())
		default:
			copy(e.sum[i], t.Data)
		}
	}
	return e.Optimizer.LoadState(inner)
}

var _ Optimizer = (*EMA)(nil)

// SwapIfAveraging calls Swap when opt is an EMA and reports whether it was.
func SwapIfAveraging(opt Optimizer) bool {
	e, ok := opt.(*EMA)
	if ok {
		e.Swap()
	}
	return ok
}
