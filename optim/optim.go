// Package optim updates parameters from their gradients: SGD (momentum,
// Nesterov, weight decay), Adam and AdamW exactly as PyTorch computes them,
// L-BFGS for full batches, learning-rate schedules and gradient-norm
// clipping. It knows parameters, not models.
//
// The usual step:
//
//	opt.ZeroGrad()
//	loss.Backward()
//	optim.ClipGradNorm(opt.Params(), 1.0)
//	opt.SetLR(sched.At(step))
//	opt.Step()
package optim

import (
	"math"

	"github.com/moxing/moxing/internal/kernel"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
)

// Optimizer updates a fixed set of parameters from their gradients.
type Optimizer interface {
	// Step updates every parameter that has a gradient; parameters whose Grad
	// is nil are skipped, as in PyTorch.
	Step()
	// ZeroGrad zeroes the gradients of all parameters in place.
	ZeroGrad()
	// SetLR sets the learning rate for the following steps.
	SetLR(lr float32)
	// LR returns the current learning rate.
	LR() float32
	// Params returns the parameters being optimised.
	Params() []nn.Param
	// State returns the internal state (moments, step counts) as named
	// tensors for a checkpoint; LoadState restores it to resume training
	// exactly where it stopped.
	State() map[string]*tensor.Tensor
	LoadState(map[string]*tensor.Tensor) error
}

// ClosureStepper is an optimizer that evaluates the objective again
// within a step, as LBFGS's line search does: a training loop hands it
// the batch's loss as a closure (see LBFGS.StepClosure) instead of calling
// Step.
type ClosureStepper interface {
	Optimizer
	StepClosure(closure func() float64) (loss, start float64)
}

// zeroGrad zeroes the gradient of every parameter, keeping the storage.
func zeroGrad(ps []nn.Param) {
	for _, p := range ps {
		p.ZeroGrad()
	}
}

// ClipGradNorm scales the gradients of ps so that their global L2 norm (all
// gradients as one vector) is at most maxNorm, and returns the norm before
// clipping. As PyTorch's clip_grad_norm_, the scale is
// maxNorm/(norm + 1e-6) and is applied only when it is below 1. Parameters
// without a gradient are ignored. The gradients are read in pieces of 64K
// values across the threads, once for the norm and once to scale them; the
// norm sums the pieces in order, so it is the same on any thread count.
func ClipGradNorm(ps []nn.Param, maxNorm float64) float64 {
	var grads [][]float32
	for _, p := range ps {
		if p.Grad != nil {
			grads = append(grads, p.Grad.Data)
		}
	}
	parts := pieces(grads)
	sums := make([]float64, len(parts))
	kernel.Parallel(len(parts), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			sums[i] = kernel.SumSquares(parts[i])
		}
	})
	var sq float64
	for _, s := range sums {
		sq += s
	}
	norm := math.Sqrt(sq)
	if coef := maxNorm / (norm + 1e-6); coef < 1 {
		c := float32(coef)
		kernel.Parallel(len(parts), func(lo, hi int) {
			for _, g := range parts[lo:hi] {
				for i := range g {
					g[i] *= c
				}
			}
		})
	}
	return norm
}

// pieceLen is how many values pieces cuts: enough for a thread to stream,
// few enough that every thread gets some of a large model's.
const pieceLen = 1 << 16

// pieces cuts each of vs into slices of at most pieceLen values, in order.
func pieces(vs [][]float32) [][]float32 {
	var out [][]float32
	for _, v := range vs {
		for i := 0; i < len(v); i += pieceLen {
			out = append(out, v[i:min(i+pieceLen, len(v))])
		}
	}
	return out
}
