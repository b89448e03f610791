package kernel

import (
	"math"
	"math/rand/v2"
	"testing"
)

func geluRef(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(0.7978845608028654*(x+0.044715*x*x*x)))
}

func geluGradRef(x float64) float64 {
	t := math.Tanh(0.7978845608028654 * (x + 0.044715*x*x*x))
	return 0.5*(1+t) + 0.5*x*(1-t*t)*0.7978845608028654*(1+3*0.044715*x*x)
}

func close32(got float32, want, rel, abs float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(float64(got))
	}
	return math.Abs(float64(got)-want) <= abs+rel*math.Abs(want)
}

// The row kernels of every implementation against float64 references, at
// every length up to 40 (vector body and tail) and at extreme values.
func TestRowKernels(t *testing.T) {
	eachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(21, 22))
		special := []float32{0, -0, 1e-8, -1e-8, 5, -5, 9, -9, 20, -20, 88, -88, 100, -100, 1e30, -1e30}
		for n := 1; n <= 40; n++ {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(rng.NormFloat64() * 3)
				if rng.IntN(4) == 0 {
					x[i] = special[rng.IntN(len(special))]
				}
			}
			y := make([]float32, n)
			GELU(y, x)
			dx, dy := make([]float32, n), make([]float32, n)
			for i := range dy {
				dy[i] = float32(rng.NormFloat64())
				dx[i] = 0.5
			}
			GELUBackward(dx, dy, x)
			for i, v := range x {
				if w := geluRef(float64(v)); !close32(y[i], w, 2e-6, 1e-7) {
					t.Fatalf("n=%d GELU(%v) = %v, want %v", n, v, y[i], w)
				}
				if w := 0.5 + float64(dy[i])*geluGradRef(float64(v)); !close32(dx[i], w, 2e-5, 2e-6) {
					t.Fatalf("n=%d GELU'(%v): dx %v, want %v", n, v, dx[i], w)
				}
			}

			// Softmax rows, with a masked (-Inf) entry and a wide range.
			s := make([]float32, n)
			for i := range s {
				s[i] = float32(rng.NormFloat64() * 10)
			}
			if n > 2 {
				s[1] = float32(math.Inf(-1))
			}
			SoftmaxRows(y, s, n)
			m := math.Inf(-1)
			for _, v := range s {
				m = math.Max(m, float64(v))
			}
			var z float64
			for _, v := range s {
				z += math.Exp(float64(v) - m)
			}
			for i, v := range s {
				if w := math.Exp(float64(v)-m) / z; !close32(y[i], w, 1e-5, 1e-9) {
					t.Fatalf("n=%d softmax[%d] of %v = %v, want %v", n, i, v, y[i], w)
				}
			}
		}
		// NaN propagates.
		x := []float32{1, 2, 3, 4, float32(math.NaN()), 6, 7, 8}
		y := make([]float32, 8)
		GELU(y, x)
		if !math.IsNaN(float64(y[4])) || math.IsNaN(float64(y[3])) {
			t.Fatalf("GELU with a NaN: %v", y)
		}
	})
}

func TestAdamWKernel(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	const n = 1003
	w0, g := randSlice(rng, n), randSlice(rng, n)
	var results [][]float32
	eachImpl(t, func(t *testing.T) {
		w, m, v := append([]float32(nil), w0...), make([]float32, n), make([]float32, n)
		for i := range m {
			m[i], v[i] = 0.1*float32(i%7), 0.01*float32(i%5)
		}
		AdamW(w, g, m, v, 0.9, 0.95, 1e-3, 1.3, 1e-8, 0.999, 0.01)
		for j := range w {
			gj := float64(g[j]) + 0.01*float64(w0[j])
			mj := 0.9*0.1*float64(j%7) + 0.1*gj
			vj := 0.95*0.01*float64(j%5) + 0.05*gj*gj
			want := 0.999*float64(w0[j]) - 1e-3*mj/(math.Sqrt(vj)*1.3+1e-8)
			if math.Abs(float64(w[j])-want) > 1e-6*(1+math.Abs(want)) {
				t.Fatalf("w[%d] = %v, want %v", j, w[j], want)
			}
		}
		results = append(results, w)
	})
}

// AttendRow is softmax(q·kᵀ·scale)·v, for lengths that do and do not fill
// its groups of four keys.
func TestAttendRow(t *testing.T) {
	eachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(51, 52))
		for _, sz := range [][2]int{{1, 8}, {3, 16}, {4, 64}, {9, 64}, {85, 64}, {7, 12}} {
			m, d := sz[0], sz[1]
			q, k, v := randSlice(rng, d), randSlice(rng, m*d), randSlice(rng, m*d)
			p, y := make([]float32, m), make([]float32, d)
			AttendRow(q, k, v, 0.125, p, y)
			w := make([]float64, m)
			var z float64
			for j := range m {
				var s float64
				for i := range d {
					s += float64(q[i]) * float64(k[j*d+i])
				}
				w[j] = math.Exp(0.125 * s)
				z += w[j]
			}
			for i := range d {
				var want float64
				for j := range m {
					want += w[j] / z * float64(v[j*d+i])
				}
				if math.Abs(float64(y[i])-want) > 1e-5 {
					t.Fatalf("%v: y[%d] = %v, want %v", sz, i, y[i], want)
				}
			}
		}
	})
}

// maxOf, sumOf, addScalar and ScaleTo of every implementation against plain loops,
// at every length up to 70 (vector blocks, single vectors, tail), with
// NaN (which max propagates) and infinities.
func TestRowReductions(t *testing.T) {
	eachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		for n := 0; n <= 70; n++ {
			for _, special := range []float32{0, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(rng.NormFloat64() * 10)
				}
				if n > 0 && special != 0 {
					x[rng.IntN(n)] = special
				}
				want := float32(math.Inf(-1))
				var sum float64
				for _, v := range x {
					want = max(want, v)
					sum += float64(v)
				}
				if got := maxOf(x); got != want && !(got != got && want != want) {
					t.Fatalf("n=%d: maxOf(%v) = %v, want %v", n, x, got, want)
				}
				if got := float64(sumOf(x)); !(math.Abs(got-sum) <= 1e-5*(1+math.Abs(sum))) && !(math.IsNaN(sum) && math.IsNaN(got)) && !(math.IsInf(sum, 0) && got == sum) {
					t.Fatalf("n=%d: sumOf = %v, want %v", n, got, sum)
				}
				y := make([]float32, n+1)
				y[n] = 42
				addScalar(y[:n], x, 1.5)
				for i, v := range x {
					if w := v + 1.5; y[i] != w && !(w != w && y[i] != y[i]) {
						t.Fatalf("n=%d: addScalar: y[%d] = %v, want %v", n, i, y[i], w)
					}
				}
				if y[n] != 42 {
					t.Fatalf("n=%d: addScalar wrote past the end", n)
				}
				ScaleTo(y[:n], x, -1.5)
				for i, v := range x {
					if w := -1.5 * v; y[i] != w && !(w != w && y[i] != y[i]) {
						t.Fatalf("n=%d: ScaleTo: y[%d] = %v, want %v", n, i, y[i], w)
					}
				}
				if y[n] != 42 {
					t.Fatalf("n=%d: ScaleTo wrote past the end", n)
				}
			}
		}
	})
}

// ReLU and its gradient in every implementation against plain loops, at
// every length up to 40, with ±0, NaNs of both signs and infinities.
func TestReLUKernels(t *testing.T) {
	eachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 10))
		negNaN := math.Float32frombits(0xffc00000)
		special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), negNaN, float32(math.Inf(1)), float32(math.Inf(-1))}
		for n := 0; n <= 40; n++ {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
				if rng.IntN(4) == 0 {
					x[i] = special[rng.IntN(len(special))]
				}
			}
			y := make([]float32, n+1)
			y[n] = 42
			ReLU(y[:n], x)
			for i, v := range x {
				want := max(v, 0)
				if math.Float32bits(y[i]) != math.Float32bits(want) && !(v != v && y[i] != y[i]) {
					t.Fatalf("n=%d: ReLU(%v) = %v, want %v", n, v, y[i], want)
				}
			}
			if y[n] != 42 {
				t.Fatalf("n=%d: ReLU wrote past the end", n)
			}
			// The gradient passes where y > 0, and where y is a NaN whose
			// sign bit is clear; the outputs here add one NaN of each sign.
			y = y[:n]
			if n > 2 {
				y[0], y[1] = float32(math.NaN()), negNaN
			}
			dy, dx := make([]float32, n), make([]float32, n+1)
			for i := range dy {
				dy[i] = float32(i + 1)
				dx[i] = 0.5
			}
			dx[n] = 42
			ReLUBackward(dx[:n], dy, y)
			for i, v := range y {
				want := float32(0.5)
				if v > 0 || v != v && math.Float32bits(v)>>31 == 0 {
					want += dy[i]
				}
				if dx[i] != want {
					t.Fatalf("n=%d: ReLU gradient at y=%v: %v, want %v", n, v, dx[i], want)
				}
			}
			if dx[n] != 42 {
				t.Fatalf("n=%d: ReLUBackward wrote past the end", n)
			}
		}
	})
}

// LayerNormRows and its backward for every implementation against float64
// references, at lengths that leave a tail after the vector body and at a
// GPT-2 row (768), with the optional gradients nil or not; the values have
// an offset, which a sum of squares about zero would lose precision to.
func TestLayerNormRows(t *testing.T) {
	eachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(23, 24))
		for _, n := range []int{1, 5, 8, 13, 64, 100, 768} {
			const rows = 3
			x, dy := make([]float32, rows*n), make([]float32, rows*n)
			w, b := make([]float32, n), make([]float32, n)
			for i := range x {
				x[i], dy[i] = float32(3+rng.NormFloat64()), float32(rng.NormFloat64())
			}
			for i := range w {
				w[i], b[i] = float32(1+0.3*rng.NormFloat64()), float32(0.1*rng.NormFloat64())
			}
			y, mean, rstd := make([]float32, rows*n), make([]float32, rows), make([]float32, rows)
			LayerNormRows(y, x, w, b, mean, rstd, n, 1e-5)
			dx, dw, db := make([]float32, rows*n), make([]float32, n), make([]float32, n)
			for i := range dx {
				dx[i] = 0.5 // accumulated into
			}
			LayerNormRowsBackward(dx, dw, db, dy, x, w, mean, rstd, n)
			dxOnly := make([]float32, rows*n)
			LayerNormRowsBackward(dxOnly, nil, nil, dy, x, w, mean, rstd, n)
			wantDw, wantDb := make([]float64, n), make([]float64, n)
			for r := 0; r < rows; r++ {
				xr, gr := x[r*n:(r+1)*n], dy[r*n:(r+1)*n]
				var mu, v float64
				for _, e := range xr {
					mu += float64(e)
				}
				mu /= float64(n)
				for _, e := range xr {
					v += (float64(e) - mu) * (float64(e) - mu)
				}
				rs := 1 / math.Sqrt(v/float64(n)+1e-5)
				if !close32(mean[r], mu, 1e-6, 1e-6) || !close32(rstd[r], rs, 1e-5, 0) {
					t.Fatalf("n=%d row %d: mean %v rstd %v, want %v %v", n, r, mean[r], rstd[r], mu, rs)
				}
				var gMean, gxMean float64
				for i, e := range xr {
					xh := (float64(e) - mu) * rs
					if want := xh*float64(w[i]) + float64(b[i]); !close32(y[r*n+i], want, 1e-5, 1e-5) {
						t.Fatalf("n=%d: y[%d][%d] = %v, want %v", n, r, i, y[r*n+i], want)
					}
					g := float64(gr[i]) * float64(w[i])
					gMean += g / float64(n)
					gxMean += g * xh / float64(n)
					wantDw[i] += float64(gr[i]) * xh
					wantDb[i] += float64(gr[i])
				}
				for i, e := range xr {
					xh := (float64(e) - mu) * rs
					want := rs * (float64(gr[i])*float64(w[i]) - gMean - xh*gxMean)
					if !close32(dx[r*n+i], 0.5+want, 1e-4, 1e-4) || !close32(dxOnly[r*n+i], want, 1e-4, 1e-4) {
						t.Fatalf("n=%d: dx[%d][%d] = %v (alone %v), want 0.5 + %v", n, r, i, dx[r*n+i], dxOnly[r*n+i], want)
					}
				}
			}
			for i := range dw {
				if !close32(dw[i], wantDw[i], 1e-4, 1e-4) || !close32(db[i], wantDb[i], 1e-5, 1e-5) {
					t.Fatalf("n=%d: dw[%d] = %v, db %v, want %v %v", n, i, dw[i], db[i], wantDw[i], wantDb[i])
				}
			}
		}
	})
}
