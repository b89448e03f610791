package tensor

import "math"

// Sigmoid returns σ(a) = 1/(1+e⁻ᵃ), computed without overflow.
// d/da = σ(a)(1-σ(a)).
func (a *Tensor) Sigmoid() *Tensor {
	return unary("Sigmoid", a, sigmoid, func(_, y float32) float32 { return y * (1 - y) })
}

func sigmoid(x float32) float32 {
	if x >= 0 {
		return float32(1 / (1 + math.Exp(-float64(x))))
	}
	e := math.Exp(float64(x))
	return float32(e / (1 + e))
}

// ReLU returns max(a, 0). d/da = 1 where a > 0, else 0.
func (a *Tensor) ReLU() *Tensor {
	return unary("ReLU", a, func(x float32) float32 { return max(x, 0) },
		func(x, _ float32) float32 {
			if x > 0 {
				return 1
			}
			return 0
		})
}

// Tanh returns tanh(a). d/da = 1 - tanh²(a).
func (a *Tensor) Tanh() *Tensor {
	return unary("Tanh", a, func(x float32) float32 { return float32(math.Tanh(float64(x))) },
		func(_, y float32) float32 { return 1 - y*y })
}

// Softplus returns ln(1+eᵃ), computed as max(a,0) + ln(1+e^-|a|) so it
// never overflows. d/da = σ(a).
func (a *Tensor) Softplus() *Tensor {
	return unary("Softplus", a, func(x float32) float32 {
		xf := float64(x)
		return float32(math.Max(xf, 0) + math.Log1p(math.Exp(-math.Abs(xf))))
	}, func(x, _ float32) float32 { return sigmoid(x) })
}

// GELU returns the Gaussian error linear unit in GPT-2's tanh approximation:
//
//	0.5·a·(1 + tanh(√(2/π)·(a + 0.044715·a³)))
//
// It is composed from primitives, so its gradient follows from theirs.
func (a *Tensor) GELU() *Tensor {
	const c = 0.7978845608028654 // √(2/π)
	inner := a.Add(a.Pow(3).MulScalar(0.044715)).MulScalar(c)
	return a.MulScalar(0.5).Mul(inner.Tanh().AddScalar(1))
}

// Softmax returns e^(a - max) / Σ e^(a - max) along axis (negative counts
// from the end). It is composed from primitives; shifting by the maximum
// keeps it from overflowing and does not change the result or its gradient.
func (a *Tensor) Softmax(axis int) *Tensor {
	e := a.Sub(a.Detach().Max(true, axis)).Exp()
	return e.Div(e.Sum(true, axis))
}

// LogSoftmax returns a - max - ln Σ e^(a - max) along axis, the numerically
// stable log of Softmax.
func (a *Tensor) LogSoftmax(axis int) *Tensor {
	z := a.Sub(a.Detach().Max(true, axis))
	return z.Sub(z.Exp().Sum(true, axis).Log())
}
