package optim

import (
	"github.com/moxing/moxing/internal/kernel"
	"github.com/moxing/moxing/nn"
)

// SGDConfig configures SGD. The zero value is plain SGD with LR 0.
type SGDConfig struct {
	LR          float32 // learning rate η
	Momentum    float32 // μ; 0 for none
	Dampening   float32 // τ, damps the gradient added to the momentum buffer
	WeightDecay float32 // λ, L2 penalty added to the gradient
	Nesterov    bool    // Nesterov momentum (needs Momentum > 0, Dampening 0)
}

// SGD is stochastic gradient descent as torch.optim.SGD computes it:
//
//	g = ∇ + λ·p
//	b = g on the first step, else μ·b + (1-τ)·g
//	g = g + μ·b with Nesterov, else b        (when μ ≠ 0)
//	p = p - η·g
type SGD struct {
	cfg    SGDConfig
	params []nn.Param
	bufs   [][]float32 // momentum buffers, nil until a parameter's first step
}

// NewSGD returns an SGD optimizer over params.
func NewSGD(params []nn.Param, cfg SGDConfig) *SGD {
	return &SGD{cfg: cfg, params: params, bufs: make([][]float32, len(params))}
}

// Step applies one update to every parameter that has a gradient.
func (o *SGD) Step() {
	c := o.cfg
	for i, p := range o.params {
		if p.Grad == nil {
			continue
		}
		g := p.Grad.Data
		if c.WeightDecay != 0 {
			g = append([]float32(nil), g...)
			kernel.Axpy(c.WeightDecay, p.Data, g)
		}
		if c.Momentum != 0 {
			buf := o.bufs[i]
			if buf == nil {
				buf = append([]float32(nil), g...)
				o.bufs[i] = buf
			} else {
				kernel.Scale(c.Momentum, buf)
				kernel.Axpy(1-c.Dampening, g, buf)
			}
			if c.Nesterov {
				g = append([]float32(nil), g...)
				kernel.Axpy(c.Momentum, buf, g)
			} else {
				g = buf
			}
		}
		kernel.Axpy(-c.LR, g, p.Data)
	}
}

// ZeroGrad zeroes every parameter's gradient in place.
func (o *SGD) ZeroGrad() { zeroGrad(o.params) }

// SetLR sets the learning rate.
func (o *SGD) SetLR(lr float32) { o.cfg.LR = lr }

// LR returns the learning rate.
func (o *SGD) LR() float32 { return o.cfg.LR }

// Params returns the optimised parameters.
func (o *SGD) Params() []nn.Param { return o.params }
