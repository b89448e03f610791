package tensor

import (
	"math"
	"slices"

	"github.com/moxing/moxing/internal/kernel"
)

type arith int

const (
	add arith = iota
	sub
	mul
	div
)

// Add returns a + b with NumPy broadcasting. d/da = 1, d/db = 1, each summed
// over the axes it was broadcast along.
func (a *Tensor) Add(b *Tensor) *Tensor { return arithmetic("Add", add, a, b) }

// Sub returns a - b with broadcasting. d/da = 1, d/db = -1.
func (a *Tensor) Sub(b *Tensor) *Tensor { return arithmetic("Sub", sub, a, b) }

// Mul returns the elementwise product a·b with broadcasting. d/da = b, d/db = a.
func (a *Tensor) Mul(b *Tensor) *Tensor { return arithmetic("Mul", mul, a, b) }

// Div returns a / b with broadcasting. d/da = 1/b, d/db = -a/b².
func (a *Tensor) Div(b *Tensor) *Tensor { return arithmetic("Div", div, a, b) }

func arithmetic(name string, op arith, a, b *Tensor) *Tensor {
	shape := broadcastShape(name, a.shape, b.shape)
	out := newOutDirty(name, shape, a, b)
	if op == add && slices.Equal(a.shape, b.shape) {
		// A residual connection: split across threads, as its gradient.
		return addSame(out, a, b)
	}
	st := [][]int{bcastStrides(a.shape, shape), bcastStrides(b.shape, shape)}
	x, y := a.Data, b.Data
	walk(shape, st, func(o int, off, step []int, n int) {
		dst := out.Data[o : o+n]
		i, di, j, dj := off[0], step[0], off[1], step[1]
		if op == add && di == 1 && dj == 1 { // the common case: a bias row, a residual
			copy(dst, x[i:i+n])
			kernel.Add(y[j:j+n], dst)
			return
		}
		switch op {
		case add:
			for k := range dst {
				dst[k] = x[i+k*di] + y[j+k*dj]
			}
		case sub:
			for k := range dst {
				dst[k] = x[i+k*di] - y[j+k*dj]
			}
		case mul:
			for k := range dst {
				dst[k] = x[i+k*di] * y[j+k*dj]
			}
		case div:
			for k := range dst {
				dst[k] = x[i+k*di] / y[j+k*dj]
			}
		}
	})
	return out.record(func() {
		g := out.Grad.Data
		ga, gb := gradOf(a), gradOf(b)
		switch {
		case ga != nil && (op == add || op == sub):
			sumInto(ga, a.shape, g, shape)
		case ga != nil:
			walk(shape, st, func(o int, off, step []int, n int) {
				i, di, j, dj := off[0], step[0], off[1], step[1]
				for k, gk := range g[o : o+n] {
					yv := y[j+k*dj]
					if op == div {
						yv = 1 / yv
					}
					ga[i+k*di] += gk * yv
				}
			})
		}
		switch {
		case gb != nil && op == add:
			sumInto(gb, b.shape, g, shape)
		case gb != nil:
			walk(shape, st, func(o int, off, step []int, n int) {
				i, di, j, dj := off[0], step[0], off[1], step[1]
				for k, gk := range g[o : o+n] {
					switch op {
					case sub:
						gb[j+k*dj] -= gk
					case mul:
						gb[j+k*dj] += gk * x[i+k*di]
					case div:
						yv := y[j+k*dj]
						gb[j+k*dj] -= gk * x[i+k*di] / (yv * yv)
					}
				}
			})
		}
	})
}

// addSame is arithmetic's a + b for operands of one shape (out's), in
// pieces across threads; the backward pass writes or adds the output's
// gradient into each operand's.
func addSame(out, a, b *Tensor) *Tensor {
	x, y, o := a.Data, b.Data, out.Data
	chunks(len(o), func(lo, hi int) {
		copy(o[lo:hi], x[lo:hi])
		kernel.Add(y[lo:hi], o[lo:hi])
	})
	return out.record(func() {
		g := out.Grad.Data
		for _, t := range [2]*Tensor{a, b} { // a == b (x + x): the second adds to the first
			if dst, fresh := gradFresh(t); dst != nil {
				chunks(len(g), func(lo, hi int) { writeOrAdd(dst[lo:hi], g[lo:hi], fresh) })
			}
		}
	})
}

// unary applies f elementwise; df(x, y) is dy/dx given the input x and the
// output y = f(x).
func unary(name string, a *Tensor, f func(x float32) float32, df func(x, y float32) float32) *Tensor {
	out := newOutDirty(name, a.shape, a)
	for i, v := range a.Data {
		out.Data[i] = f(v)
	}
	return out.record(func() {
		ga := gradOf(a)
		for i, g := range out.Grad.Data {
			ga[i] += g * df(a.Data[i], out.Data[i])
		}
	})
}

// Neg returns -a. d/da = -1.
func (a *Tensor) Neg() *Tensor {
	return unary("Neg", a, func(x float32) float32 { return -x }, func(_, _ float32) float32 { return -1 })
}

// AddScalar returns a + s. d/da = 1.
func (a *Tensor) AddScalar(s float32) *Tensor {
	return unary("AddScalar", a, func(x float32) float32 { return x + s }, func(_, _ float32) float32 { return 1 })
}

// MulScalar returns s·a. d/da = s.
func (a *Tensor) MulScalar(s float32) *Tensor {
	return unary("MulScalar", a, func(x float32) float32 { return x * s }, func(_, _ float32) float32 { return s })
}

// Exp returns eᵃ. d/da = eᵃ.
func (a *Tensor) Exp() *Tensor {
	return unary("Exp", a, func(x float32) float32 { return float32(math.Exp(float64(x))) },
		func(_, y float32) float32 { return y })
}

// Log returns the natural logarithm ln a. d/da = 1/a.
func (a *Tensor) Log() *Tensor {
	return unary("Log", a, func(x float32) float32 { return float32(math.Log(float64(x))) },
		func(x, _ float32) float32 { return 1 / x })
}

// Sqrt returns √a. d/da = 1/(2√a).
func (a *Tensor) Sqrt() *Tensor {
	return unary("Sqrt", a, func(x float32) float32 { return float32(math.Sqrt(float64(x))) },
		func(_, y float32) float32 { return 0.5 / y })
}

// Pow returns aᵖ for a scalar exponent p. d/da = p·aᵖ⁻¹.
func (a *Tensor) Pow(p float32) *Tensor {
	if p == 2 {
		return unary("Pow", a, func(x float32) float32 { return x * x }, func(x, _ float32) float32 { return 2 * x })
	}
	pf := float64(p)
	return unary("Pow", a, func(x float32) float32 { return float32(math.Pow(float64(x), pf)) },
		func(x, _ float32) float32 { return p * float32(math.Pow(float64(x), pf-1)) })
}

// Abs returns |a|. d/da = sign(a), 0 at 0 (as PyTorch).
func (a *Tensor) Abs() *Tensor {
	return unary("Abs", a, func(x float32) float32 { return float32(math.Abs(float64(x))) },
		func(x, _ float32) float32 {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return 0
		})
}

// Clamp returns a limited to [lo, hi]. d/da = 1 where lo ≤ a ≤ hi, else 0
// (as PyTorch).
func (a *Tensor) Clamp(lo, hi float32) *Tensor {
	return unary("Clamp", a, func(x float32) float32 { return min(max(x, lo), hi) },
		func(x, _ float32) float32 {
			if x >= lo && x <= hi {
				return 1
			}
			return 0
		})
}
