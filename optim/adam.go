package optim

import (
	"math"

	"github.com/moxing/moxing/internal/kernel"
	"github.com/moxing/moxing/nn"
)

// AdamConfig configures Adam and AdamW. Zero fields take PyTorch's defaults,
// except WeightDecay, which is 0 unless set.
type AdamConfig struct {
	LR          float32 // learning rate η (default 1e-3)
	Beta1       float32 // β₁, decay of the first moment (default 0.9)
	Beta2       float32 // β₂, decay of the second moment (default 0.999)
	Eps         float32 // ε, added to √v̂ (default 1e-8)
	WeightDecay float32 // λ: an L2 term for Adam, decoupled decay for AdamW
	// Decay, when set, says which parameters weight decay applies to (for
	// GPT training, matrices only: p.NDim() >= 2); nil decays them all.
	Decay func(p nn.Param) bool
}

func (c *AdamConfig) ensureDefaults() {
	if c.LR == 0 {
		c.LR = 1e-3
	}
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.999
	}
	if c.Eps == 0 {
		c.Eps = 1e-8
	}
}

// Adam is the Adam optimizer, and AdamW when decoupled. Per parameter, at its
// step t (from 1), as torch.optim.Adam/AdamW compute it:
//
//	Adam:  g = ∇ + λ·p          AdamW: p = p·(1 - η·λ), g = ∇
//	m = β₁·m + (1-β₁)·g
//	v = β₂·v + (1-β₂)·g²
//	p = p - η/(1-β₁ᵗ) · m / (√v/√(1-β₂ᵗ) + ε)
type Adam struct {
	cfg       AdamConfig
	decoupled bool
	params    []nn.Param
	m, v      [][]float32 // first and second moments, nil until a parameter's first step
	steps     []int       // per-parameter step counts
}

// NewAdam returns an Adam optimizer over params; WeightDecay adds λ·p to the
// gradient (L2 regularisation).
func NewAdam(params []nn.Param, cfg AdamConfig) *Adam { return newAdam(params, cfg, false) }

// NewAdamW returns an AdamW optimizer over params: weight decay is decoupled
// from the gradient and shrinks the parameters directly.
func NewAdamW(params []nn.Param, cfg AdamConfig) *Adam { return newAdam(params, cfg, true) }

func newAdam(params []nn.Param, cfg AdamConfig, decoupled bool) *Adam {
	cfg.ensureDefaults()
	n := len(params)
	return &Adam{cfg: cfg, decoupled: decoupled, params: params,
		m: make([][]float32, n), v: make([][]float32, n), steps: make([]int, n)}
}

// Step applies one update to every parameter that has a gradient.
func (o *Adam) Step() {
	c := o.cfg
	for i, p := range o.params {
		if p.Grad == nil {
			continue
		}
		if o.m[i] == nil {
			o.m[i] = kernel.Floats(p.Numel())
			o.v[i] = kernel.Floats(p.Numel())
		}
		o.steps[i]++
		t := float64(o.steps[i])
		bc1 := 1 - math.Pow(float64(c.Beta1), t)
		bc2 := 1 - math.Pow(float64(c.Beta2), t)
		stepSize := float32(float64(c.LR) / bc1)
		wd := c.WeightDecay
		if c.Decay != nil && !c.Decay(p) {
			wd = 0
		}
		decay, l2 := float32(1), wd
		if o.decoupled {
			decay, l2 = 1-c.LR*wd, 0
		}
		invBC2 := float32(1 / math.Sqrt(bc2))
		w, g, m, v := p.Data, p.Grad.Data, o.m[i], o.v[i]
		// Large tensors in parallel chunks: the update is bound by memory
		// bandwidth, which two cores share better than one uses.
		const chunk = 1 << 16
		kernel.Parallel((len(w)+chunk-1)/chunk, func(lo, hi int) {
			a, b := lo*chunk, min(hi*chunk, len(w))
			kernel.AdamW(w[a:b], g[a:b], m[a:b], v[a:b], c.Beta1, c.Beta2, stepSize, invBC2, c.Eps, decay, l2)
		})
	}
}

// ZeroGrad zeroes every parameter's gradient in place.
func (o *Adam) ZeroGrad() { zeroGrad(o.params) }

// SetLR sets the learning rate.
func (o *Adam) SetLR(lr float32) { o.cfg.LR = lr }

// LR returns the learning rate.
func (o *Adam) LR() float32 { return o.cfg.LR }

// Params returns the optimised parameters.
func (o *Adam) Params() []nn.Param { return o.params }
