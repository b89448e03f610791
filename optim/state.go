package optim

import (
	"fmt"

	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
)

// State returns the SGD state to save for resuming: the momentum buffer of
// each parameter that has one, as "momentum_buffer.<param>" (PyTorch's name).
// The tensors share the optimizer's memory.
func (o *SGD) State() map[string]*tensor.Tensor {
	st := map[string]*tensor.Tensor{}
	putBufs(st, "momentum_buffer.", o.params, o.bufs)
	return st
}

// LoadState restores state saved by State. Parameters with no entry start
// fresh; an entry of the wrong size is an error.
func (o *SGD) LoadState(st map[string]*tensor.Tensor) error {
	return getBufs(st, "momentum_buffer.", o.params, o.bufs)
}

// State returns the Adam/AdamW state to save for resuming, per parameter that
// has taken a step: "exp_avg.<param>", "exp_avg_sq.<param>" (PyTorch's names)
// and "step.<param>" (one element). The moment tensors share the optimizer's
// memory.
func (o *Adam) State() map[string]*tensor.Tensor {
	st := map[string]*tensor.Tensor{}
	putBufs(st, "exp_avg.", o.params, o.m)
	putBufs(st, "exp_avg_sq.", o.params, o.v)
	for i, p := range o.params {
		if o.steps[i] > 0 {
			st["step."+p.Name] = tensor.Scalar(float32(o.steps[i]))
		}
	}
	return st
}

// LoadState restores state saved by State. Parameters with no entry start
// fresh; an entry of the wrong size is an error.
func (o *Adam) LoadState(st map[string]*tensor.Tensor) error {
	if err := getBufs(st, "exp_avg.", o.params, o.m); err != nil {
		return err
	}
	if err := getBufs(st, "exp_avg_sq.", o.params, o.v); err != nil {
		return err
	}
	for i, p := range o.params {
		o.steps[i] = 0
		if t, ok := st["step."+p.Name]; ok {
			if t.Numel() != 1 || t.Data[0] < 0 {
				return fmt.Errorf("optim: state %q: want one non-negative step count", "step."+p.Name)
			}
			o.steps[i] = int(t.Data[0])
		}
		if (o.steps[i] > 0) != (o.m[i] != nil && o.v[i] != nil) {
			return fmt.Errorf("optim: state for %q is incomplete (step, exp_avg and exp_avg_sq go together)", p.Name)
		}
	}
	return nil
}

func putBufs(st map[string]*tensor.Tensor, prefix string, ps []nn.Param, bufs [][]float32) {
	for i, p := range ps {
		if bufs[i] != nil {
			st[prefix+p.Name] = tensor.New(bufs[i], p.Shape()...)
		}
	}
}

func getBufs(st map[string]*tensor.Tensor, prefix string, ps []nn.Param, bufs [][]float32) error {
	for i, p := range ps {
		bufs[i] = nil
		t, ok := st[prefix+p.Name]
		if !ok {
			continue
		}
		if t.Numel() != p.Numel() {
			return fmt.Errorf("optim: state %q has %d values, parameter %q has %d", prefix+p.Name, t.Numel(), p.Name, p.Numel())
		}
		bufs[i] = append([]float32(nil), t.Data...)
	}
	return nil
}
