package kernel

import (
	"fmt"
	"math"
)

// F16 is a matrix of Rows rows of Cols 16-bit floats, IEEE halves (GGUF's
// f16) or bfloat16s when BF16, laid out for the dot kernels as Q8Panels
// are: rows in groups of four and columns in steps of sixteen, both padded
// with zeros; H holds, for each group and step, the four rows' sixteen
// values one after the other.
type F16 struct {
	Rows, Cols int
	H          []uint16
	BF16       bool
}

// PackF16 lays out h (rows × cols 16-bit floats, row-major) as panels.
func PackF16(rows, cols int, h []uint16, bf16 bool) *F16 {
	if len(h) != rows*cols {
		panic(fmt.Sprintf("kernel: PackF16 of %d values as %d×%d", len(h), rows, cols))
	}
	steps := (cols + 15) / 16
	w := &F16{Rows: rows, Cols: cols, H: make([]uint16, (rows+3)/4*steps*64), BF16: bf16}
	for r := range rows {
		for c := 0; c < cols; c += 16 {
			copy(w.H[(r/4*steps+c/16)*64+16*(r%4):][:16], h[r*cols+c:(r+1)*cols])
		}
	}
	return w
}

// GemvF16 sets y (m × w.Rows, row stride ldy) to x (m × w.Cols) times the
// transpose of w, or adds it into y when add: y[i][r] = Σ_c x[i][c]·w[r][c],
// each 16-bit value widened to float32 exactly and the products summed in
// float32. See gemvGroups for how the work is split.
func GemvF16(x []float32, m int, w *F16, y []float32, ldy int, add bool) {
	if len(x) < m*w.Cols {
		panic(fmt.Sprintf("kernel: GemvF16 of %d values as %d×%d", len(x), m, w.Cols))
	}
	steps := (w.Cols + 15) / 16
	ld := w.Cols
	if w.Cols%16 != 0 { // rows of x padded with zeros to whole steps
		ld = 16 * steps
		padded := make([]float32, m*ld)
		for i := range m {
			copy(padded[i*ld:], x[i*w.Cols:(i+1)*w.Cols])
		}
		x = padded
	}
	dot := active.dotF16x4
	if w.BF16 {
		dot = active.dotBF16x4
	}
	if dot == nil {
		dot = func(groups, steps int, x []float32, b []uint16, out []float32) {
			dotHalfGo(groups, steps, x, b, w.BF16, out)
		}
	}
	gemvGroups(w.Rows, m, y, ldy, add, func(i, g, n int, out []float32) {
		dot(n, steps, x[i*ld:], w.H[g*steps*64:], out)
	})
}

// dotHalfGo is the 16-bit dot kernels' contract in Go: for each of groups
// groups of panels b (see F16) and j < 4, out[4g+j] is the dot product of
// x (steps·16 values) with row j of group g, each value widened exactly.
func dotHalfGo(groups, steps int, x []float32, b []uint16, bf16 bool, out []float32) {
	for g := range groups {
		for j := range 4 {
			var s float32
			for p := range 16 * steps {
				h := b[(g*steps+p/16)*64+16*j+p%16]
				if bf16 {
					s += x[p] * math.Float32frombits(uint32(h)<<16)
				} else {
					s += x[p] * HalfToFloat(h)
				}
			}
			out[4*g+j] = s
		}
	}
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
