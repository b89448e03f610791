package optim

import "math"

// Schedule gives the learning rate for a 0-based step.
type Schedule interface {
	At(step int) float32
}

// Constant is the same learning rate at every step.
type Constant struct{ LR float32 }

// At returns LR.
func (s Constant) At(int) float32 { return s.LR }

// StepDecay multiplies the learning rate by Gamma every StepSize steps:
// LR·Gamma^⌊step/StepSize⌋, as torch.optim.lr_scheduler.StepLR.
type StepDecay struct {
	LR       float32
	StepSize int
	Gamma    float32
}

// At returns the decayed learning rate.
func (s StepDecay) At(step int) float32 {
	return float32(float64(s.LR) * math.Pow(float64(s.Gamma), float64(step/max(s.StepSize, 1))))
}

// WarmupCosine rises linearly to MaxLR over WarmupSteps, then follows half a
// cosine down to MinLR at DecaySteps and stays there, as nanoGPT:
//
//	step < W:       MaxLR·(step+1)/W
//	W ≤ step < D:   MinLR + ½(1 + cos(π·(step-W)/(D-W)))·(MaxLR - MinLR)
//	step ≥ D:       MinLR
//
// With WarmupSteps 0 it is torch's CosineAnnealingLR with T_max = DecaySteps
// over its first period.
type WarmupCosine struct {
	MaxLR, MinLR            float32
	WarmupSteps, DecaySteps int
}

// At returns the learning rate at step.
func (s WarmupCosine) At(step int) float32 {
	switch {
	case step < s.WarmupSteps:
		return s.MaxLR * float32(step+1) / float32(s.WarmupSteps)
	case step >= s.DecaySteps:
		return s.MinLR
	}
	r := float64(step-s.WarmupSteps) / float64(s.DecaySteps-s.WarmupSteps)
	return s.MinLR + float32(0.5*(1+math.Cos(math.Pi*r)))*(s.MaxLR-s.MinLR)
}
