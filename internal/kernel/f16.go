package kernel

import (
	"fmt"
	"math"
)

// F16 is a matrix of Rows rows of Cols 16-bit floats, row-major: IEEE
// halves (GGUF's f16), or bfloat16s when BF16.
type F16 struct {
	Rows, Cols int
	H          []uint16
	BF16       bool
}

// GemvF16 sets y (m × w.Rows, row stride ldy) to x (m × w.Cols) times the
// transpose of w, or adds it into y when add: y[i][r] = Σ_c x[i][c]·w[r][c],
// each 16-bit value widened to float32 exactly and the products summed in
// float32. See gemvRows for how the work is split.
func GemvF16(x []float32, m int, w *F16, y []float32, ldy int, add bool) {
	if len(x) < m*w.Cols || len(w.H) < w.Rows*w.Cols {
		panic(fmt.Sprintf("kernel: GemvF16 of %d values as %d×%d with a %d×%d matrix", len(x), m, w.Cols, w.Rows, w.Cols))
	}
	dot := active.dotF16x4
	if w.BF16 {
		dot = active.dotBF16x4
	}
	gemvRows(w.Rows, m, y, ldy, add, func(i, r int, out []float32) {
		xi := x[i*w.Cols : (i+1)*w.Cols]
		if dot != nil && len(out) == 4 && w.Cols%8 == 0 && w.Cols > 0 {
			dot(w.Cols, &xi[0], &w.H[r*w.Cols], w.Cols, (*[4]float32)(out))
			return
		}
		for j := range out {
			out[j] = dotF16Go(xi, w.H[(r+j)*w.Cols:(r+j+1)*w.Cols], w.BF16)
		}
	})
}

func dotF16Go(x []float32, h []uint16, bf16 bool) float32 {
	var s float32
	for i, v := range h {
		if bf16 {
			s += x[i] * math.Float32frombits(uint32(v)<<16)
		} else {
			s += x[i] * HalfToFloat(v)
		}
	}
	return s
}

// HalfToFloat is the float32 value of the IEEE half h (exact).
func HalfToFloat(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
	}
	v := float32(man) * (1.0 / (1 << 24)) // zero or subnormal
	if sign != 0 {
		return -v
	}
	return v
}

// FloatToHalf rounds f to the nearest IEEE half (ties to even), as F16C's
// vcvtps2ph does: overflow gives infinity, NaN stays NaN.
func FloatToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	switch {
	case exp == 0xff: // inf or NaN
		if man != 0 {
			return sign | 0x7e00 | uint16(man>>13)
		}
		return sign | 0x7c00
	case exp-127 > 15: // too large: infinity
		return sign | 0x7c00
	case exp-127 >= -14: // a normal half
		h := uint32(exp-127+15)<<10 | man>>13
		rest := man & 0x1fff
		if rest > 0x1000 || rest == 0x1000 && h&1 == 1 {
			h++ // may carry into the exponent, up to infinity: right
		}
		return sign | uint16(h)
	case exp-127 >= -25: // a subnormal half (or zero after rounding)
		man |= 0x800000 // the implicit bit
		shift := uint32(-14 - (exp - 127) + 13)
		h := man >> shift
		rest := man & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rest > half || rest == half && h&1 == 1 {
			h++
		}
		return sign | uint16(h)
	}
	return sign // underflow to zero
}
