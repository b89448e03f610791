package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestShiftedIm2Col checks the one-run-per-tap Im2Col and Col2Im against
// the row-by-row ones, element for element, on "same" geometries with
// dilation, uneven padding above and below, and planes narrower than the
// kernel; and that the fast path is taken where it should be.
func TestShiftedIm2Col(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []ConvGeom{
		NewConvGeom(28, 28, 3, 3, 1, 1, 1, 1, 1, 1),
		NewConvGeom(14, 14, 3, 3, 1, 1, 1, 1, 1, 1),
		NewConvGeom(7, 9, 5, 5, 1, 1, 2, 2, 1, 1),
		NewConvGeom(6, 8, 3, 3, 1, 1, 2, 2, 2, 2), // dilated
		NewConvGeom(5, 6, 3, 3, 1, 1, 0, 1, 1, 1), // rows unpadded: 3 output rows
		NewConvGeom(5, 6, 2, 3, 1, 1, 3, 1, 1, 1), // more padding above than a tap reaches
		NewConvGeom(1, 3, 1, 5, 1, 1, 0, 2, 1, 1), // one row, kernel wider than the plane
		NewConvGeom(4, 4, 1, 1, 1, 1, 0, 0, 1, 1), // pointwise
		NewConvGeom(3, 2, 3, 3, 1, 1, 1, 1, 1, 1), // two columns
		NewConvGeom(3, 1, 3, 1, 1, 1, 1, 0, 1, 1), // one column
	}
	for _, g := range cases {
		t.Run(fmt.Sprintf("%dx%d_k%dx%d_p%d,%d_d%d", g.H, g.W, g.KH, g.KW, g.PH, g.PW, g.DH), func(t *testing.T) {
			if !g.shifted() {
				t.Fatalf("geometry %+v should take the shifted path", g)
			}
			const c = 3
			x := make([]float32, c*g.H*g.W)
			for i := range x {
				x[i] = rng.Float32() - 0.5
			}
			rows := c * g.KH * g.KW * g.OutH * g.OutW
			want, got := make([]float32, rows), make([]float32, rows)
			for i := range got {
				got[i] = 99 // every element must be written
			}
			im2colRows(want, x, c, &g)
			im2colShifted(got, x, c, &g)
			if !slices.Equal(got, want) {
				t.Fatalf("Im2Col: got %v, want %v", got, want)
			}
			col := make([]float32, rows)
			for i := range col {
				col[i] = rng.Float32() - 0.5
			}
			dxWant, dxGot := make([]float32, len(x)), make([]float32, len(x))
			copy(dxWant, x)
			copy(dxGot, x)
			col2imRows(dxWant, slices.Clone(col), c, &g)
			col2imShifted(dxGot, col, c, &g)
			if !slices.Equal(dxGot, dxWant) {
				t.Fatalf("Col2Im: got %v, want %v", dxGot, dxWant)
			}
		})
	}
	for _, g := range []ConvGeom{
		NewConvGeom(28, 28, 3, 3, 2, 2, 1, 1, 1, 1), // strided
		NewConvGeom(28, 28, 3, 3, 1, 1, 0, 0, 1, 1), // valid: narrower output
		NewConvGeom(2, 2, 5, 5, 1, 1, 2, 2, 1, 1),   // padding wider than the plane
	} {
		if g.shifted() {
			t.Errorf("geometry %+v must take the row-by-row path", g)
		}
	}
}

// TestMaxPool2x2 checks every implementation's 2×2 pooling against a
// direct reading of the four inputs, on widths around the kernels' 32-input
// chunks, with ties (the gradient goes to the first) and NaNs (propagated,
// the gradient to the last of the four), the gradient added or written,
// and that nothing outside the outputs and the planes is written.
func TestMaxPool2x2(t *testing.T) {
	eachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, w := range []int{2, 4, 14, 16, 28, 30, 32, 34, 62, 64, 66, 98} {
			for _, pairs := range []int{1, 3} {
				src := make([]float32, 2*pairs*w)
				for i := range src {
					src[i] = float32(rng.IntN(7)) - 3 // small integers: many ties
					if rng.IntN(40) == 0 {
						src[i] = float32(math.NaN())
					}
				}
				const guard = 7
				y := make([]float32, pairs*w/2+guard)
				for i := range y {
					y[i] = 99
				}
				MaxPool2x2(y, src, pairs, w)
				gy := make([]float32, len(y))
				for i := range gy {
					gy[i] = float32(i + 1)
				}
				gx := make([]float32, len(src)+guard)
				for i := range gx {
					gx[i] = 0.5
				}
				MaxPool2x2Backward(gx, gy, src, y, pairs, w, true)
				set := make([]float32, len(src)+guard)
				for i := range set {
					set[i] = float32(math.NaN()) // garbage: must be written over
				}
				for i := len(src); i < len(set); i++ {
					set[i] = 0.5
				}
				MaxPool2x2Backward(set, gy, src, y, pairs, w, false)
				want := make([]float32, len(gx))
				for i := range want {
					want[i] = 0.5
				}
				for r := 0; r < pairs; r++ {
					for q := 0; q < w/2; q++ {
						k := r*w/2 + q
						offs := []int{2*r*w + 2*q, 2*r*w + 2*q + 1, (2*r+1)*w + 2*q, (2*r+1)*w + 2*q + 1}
						best, nan := src[offs[0]], false
						for _, o := range offs {
							nan = nan || src[o] != src[o]
							best = max(best, src[o])
						}
						if got := y[k]; nan && got == got || !nan && got != best {
							t.Fatalf("w=%d pairs=%d: output %d = %v, want %v (inputs %v %v %v %v)", w, pairs, k, got, best, src[offs[0]], src[offs[1]], src[offs[2]], src[offs[3]])
						}
						at := offs[3]
						for _, o := range offs[:3] {
							if src[o] == best {
								at = o
								break
							}
						}
						want[at] += gy[k]
					}
				}
				for i := pairs * w / 2; i < len(y); i++ {
					if y[i] != 99 {
						t.Fatalf("w=%d pairs=%d: wrote output %d past the end", w, pairs, i)
					}
				}
				if !slices.Equal(gx, want) {
					t.Fatalf("w=%d pairs=%d: gradient %v, want %v", w, pairs, gx, want)
				}
				for i := range want[:len(src)] {
					want[i] -= 0.5 // written, not added
				}
				if !slices.Equal(set, want) {
					t.Fatalf("w=%d pairs=%d: written gradient %v, want %v", w, pairs, set, want)
				}
			}
		}
	})
}
