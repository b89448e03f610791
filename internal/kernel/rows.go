package kernel

import "math"

// Row kernels: each works on a matrix of rows of length n, stored
// contiguously, and is what the fused tensor ops (softmax, log-softmax,
// layer norm, GELU) spend their time in.

// SoftmaxRows sets each row of dst to the softmax of the same row of src:
// e^(x-max) / Σ e^(x-max). dst and src may be the same slice.
func SoftmaxRows(dst, src []float32, n int) {
	for r := 0; r+n <= len(src); r += n {
		x, y := src[r:r+n], dst[r:r+n]
		Scale(float32(1/expSum(y, x, maxOf(x))), y)
	}
}

// SoftmaxRowsBackward adds the gradient of softmax rows into dx, given the
// outputs y and their gradient dy: dx += y ⊙ (dy - Σ dy⊙y).
func SoftmaxRowsBackward(dx, y, dy []float32, n int) {
	for r := 0; r+n <= len(y); r += n {
		yr, gr, dr := y[r:r+n], dy[r:r+n], dx[r:r+n]
		s := Dot(gr, yr)
		for i, v := range yr {
			dr[i] += v * (gr[i] - s)
		}
	}
}

// LogSoftmaxRows sets each row of dst to x - max - ln Σ e^(x-max).
func LogSoftmaxRows(dst, src []float32, n int) {
	tmp := GetBuf(n)
	defer PutBuf(tmp)
	for r := 0; r+n <= len(src); r += n {
		addScalar(dst[r:r+n], src[r:r+n], -logSumExp(*tmp, src[r:r+n]))
	}
}

// LogSoftmaxRowsBackward adds the gradient of log-softmax rows into dx,
// given the outputs y and their gradient dy: dx += dy - e^y · Σ dy. With add
// false it writes dx = dy - e^y · Σ dy, whatever dx held.
func LogSoftmaxRowsBackward(dx, y, dy []float32, n int, add bool) {
	tmp := GetBuf(n)
	defer PutBuf(tmp)
	e := *tmp
	for r := 0; r+n <= len(y); r += n {
		yr, gr, dr := y[r:r+n], dy[r:r+n], dx[r:r+n]
		s := sumOf(gr)
		expSum(e, yr, 0)
		if add {
			Add(gr, dr)
		} else {
			copy(dr, gr)
		}
		Axpy(-s, e, dr)
	}
}

// LogSumExpRows sets lse[r] = max + ln Σ e^(x - max) over each row r of x
// (rows of n values): the shift log-softmax subtracts.
func LogSumExpRows(lse, x []float32, n int) {
	tmp := GetBuf(n)
	defer PutBuf(tmp)
	for r := range lse {
		lse[r] = logSumExp(*tmp, x[r*n:(r+1)*n])
	}
}

// logSumExp returns max + ln Σ e^(x - max), using e (len(x) floats) as
// scratch.
func logSumExp(e, x []float32) float32 {
	m := maxOf(x)
	return m + float32(math.Log(expSum(e, x, m)))
}

// LogSoftmaxPickBackward is the gradient of picking one log-probability per
// row, logp[r][idx[r]] with logp = x - lse: with the picks' gradient g, it
// adds (or, with add false, writes) g[r]·(onehot(idx[r]) - e^(x[r] - lse[r]))
// to each row r of dx (rows of n values).
func LogSoftmaxPickBackward(dx, x, lse, g []float32, idx []int, n int, add bool) {
	tmp := GetBuf(n)
	defer PutBuf(tmp)
	e := *tmp
	for r := range lse {
		d := dx[r*n : (r+1)*n]
		expSum(e, x[r*n:(r+1)*n], lse[r]) // the softmax
		if add {
			Axpy(-g[r], e, d)
		} else {
			ScaleTo(d, e, -g[r])
		}
		d[idx[r]] += g[r]
	}
}

// maxOf returns the largest of x, NaN if any is (as Go's max), -Inf for
// none; with the vector kernel where there is one.
func maxOf(x []float32) float32 {
	m, i0 := float32(math.Inf(-1)), 0
	if f := active.rowMax; f != nil {
		var nan bool
		if m, nan = f(x); nan {
			return float32(math.NaN())
		}
		i0 = len(x) &^ 7
	}
	for _, v := range x[i0:] {
		m = max(m, v)
	}
	return m
}

// sumOf returns Σ x in float32, with the vector kernel where there is one.
func sumOf(x []float32) float32 {
	var s float32
	i0 := 0
	if f := active.rowSum; f != nil {
		s, i0 = f(x), len(x)&^7
	}
	for _, v := range x[i0:] {
		s += v
	}
	return s
}

// addScalar sets y[i] = x[i] + c over len(y) elements (x at least as
// long), with the vector kernel where there is one.
func addScalar(y, x []float32, c float32) {
	x = x[:len(y)]
	i0 := 0
	if f := active.addScalar; f != nil {
		f(y, x, c)
		i0 = len(y) &^ 7
	}
	for i := i0; i < len(y); i++ {
		y[i] = x[i] + c
	}
}

// ReLU sets y[i] = max(x[i], 0) over len(y) elements (x at least as long),
// as Go's max: +0 for -0, NaN for NaN.
func ReLU(y, x []float32) {
	x = x[:len(y)]
	i0 := 0
	if f := active.relu; f != nil {
		f(y, x)
		i0 = len(y) &^ 7
	}
	for i := i0; i < len(y); i++ {
		y[i] = max(x[i], 0)
	}
}

// ReLUBackward adds dy[i] to dx[i] where y[i] (ReLU's output) is above 0,
// over len(dx) elements: where y's bits, read as an int32, are positive,
// which also passes a NaN with its sign bit clear.
func ReLUBackward(dx, dy, y []float32) {
	dy, y = dy[:len(dx)], y[:len(dx)]
	i0 := 0
	if f := active.reluBackward; f != nil {
		f(dx, dy, y)
		i0 = len(dx) &^ 7
	}
	for i := i0; i < len(dx); i++ {
		// Without a branch (signs are random, so a branch would be
		// mispredicted half the time): the mask keeps dy where y's bits
		// are a positive int32.
		b := int32(math.Float32bits(y[i]))
		mask := uint32((-b & ^b) >> 31) // sign of -b and of ^b: b > 0
		dx[i] += math.Float32frombits(math.Float32bits(dy[i]) & mask)
	}
}

// expSum sets e[i] = exp(x[i] - shift) and returns Σ e, with the vector
// kernel where there is one. A shift of ±Inf (a row of -Inf) is done in Go.
// ExpSum sets e[i] = exp(x[i] - shift) and returns the sum, vectorized
// where the CPU allows (a sampler's softmax weights). e and x may be the
// same slice.
func ExpSum(e, x []float32, shift float32) float64 { return expSum(e, x, shift) }

func expSum(e, x []float32, shift float32) float64 {
	var sum float64
	i0 := 0
	if f := active.softmaxExp; f != nil && !math.IsInf(float64(shift), 0) {
		i0 = len(x) &^ 7
		sum = float64(f(e[:i0], x[:i0], shift))
	}
	for i := i0; i < len(x); i++ {
		v := float32(math.Exp(float64(x[i] - shift)))
		e[i] = v
		sum += float64(v)
	}
	return sum
}

// LayerNormRows normalises each row of x over its n values and applies the
// affine map: y = (x - mean)·rstd·w + b with rstd = 1/√(var + eps) (population
// variance). It records each row's mean and rstd for the backward pass.
func LayerNormRows(y, x, w, b, mean, rstd []float32, n int, eps float32) {
	im := active
	w, b = w[:n], b[:n]
	for r, row := 0, 0; r+n <= len(x); r, row = r+n, row+1 {
		xr, yr := x[r:r+n], y[r:r+n]
		var mu, rs float32
		if n8 := n &^ 7; im.lnApply != nil && n8 > 0 {
			// The sums in float32 lanes: a row of 768 loses nothing a
			// float32 result keeps.
			mu = sumOf(xr) / float32(n)
			ss := im.lnSumSq(xr, mu)
			for _, v := range xr[n8:] {
				ss += (v - mu) * (v - mu)
			}
			rs = float32(1 / math.Sqrt(float64(ss)/float64(n)+float64(eps)))
			im.lnApply(yr[:n8], xr, w, b, mu, rs)
			for i := n8; i < n; i++ {
				yr[i] = (xr[i]-mu)*rs*w[i] + b[i]
			}
		} else {
			var s float64
			for _, v := range xr {
				s += float64(v)
			}
			mu = float32(s / float64(n))
			var ss float64
			for _, v := range xr {
				d := float64(v - mu)
				ss += d * d
			}
			rs = float32(1 / math.Sqrt(ss/float64(n)+float64(eps)))
			for i, v := range xr {
				yr[i] = (v-mu)*rs*w[i] + b[i]
			}
		}
		mean[row], rstd[row] = mu, rs
	}
}

// LayerNormRowsBackward accumulates the gradients of LayerNormRows, as
// llm.c's layernorm_backward: with x̂ = (x-mean)·rstd and g = dy·w,
// dx += rstd·(g - mean(g) - x̂·mean(g·x̂)), dw += Σ_rows dy·x̂, db += Σ_rows dy.
// Any of dx, dw, db may be nil.
func LayerNormRowsBackward(dx, dw, db, dy, x, w, mean, rstd []float32, n int) {
	im := active
	n8 := n &^ 7
	vector := im.lnBackwardSums != nil && n8 > 0 && dw != nil && db != nil
	for r, row := 0, 0; r+n <= len(x); r, row = r+n, row+1 {
		xr, gr := x[r:r+n], dy[r:r+n]
		mu, rs := mean[row], rstd[row]
		var gMean, gxMean float32
		i0 := 0
		if vector {
			gMean, gxMean = im.lnBackwardSums(dw[:n8], db[:n8], gr, xr, w, mu, rs)
			i0 = n8
		}
		for i := i0; i < n; i++ {
			v := xr[i]
			xh := (v - mu) * rs
			g := gr[i] * w[i]
			gMean += g
			gxMean += g * xh
			if dw != nil {
				dw[i] += gr[i] * xh
			}
			if db != nil {
				db[i] += gr[i]
			}
		}
		if dx == nil {
			continue
		}
		gMean /= float32(n)
		gxMean /= float32(n)
		dr := dx[r : r+n]
		i0 = 0
		if im.lnBackwardDx != nil && n8 > 0 {
			im.lnBackwardDx(dr[:n8], gr, xr, w, mu, rs, gMean, gxMean)
			i0 = n8
		}
		for i := i0; i < n; i++ {
			xh := (xr[i] - mu) * rs
			dr[i] += rs * (gr[i]*w[i] - gMean - xh*gxMean)
		}
	}
}

// GELU constants: √(2/π) and the cubic coefficient of GPT-2's approximation.
const (
	geluC = 0.7978845608028654
	geluA = 0.044715
)

// GELU sets y = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), which equals
// x·σ(2u) for the argument u of tanh (the form the AVX2 kernel computes).
func GELU(y, x []float32) {
	y = y[:len(x)]
	if f := active.gelu; f != nil {
		n := len(x) &^ 7
		f(y[:n], x[:n])
		x, y = x[n:], y[n:]
	}
	for i, v := range x { // in float64, so that x³ cannot overflow
		xf := float64(v)
		u := geluC * (xf + geluA*xf*xf*xf)
		y[i] = float32(0.5 * xf * (1 + math.Tanh(u)))
	}
}

// GELUBackward accumulates dx += dy·GELU'(x), with
// GELU'(x) = 0.5·(1+t) + 0.5·x·(1-t²)·√(2/π)·(1 + 3·0.044715·x²), t = tanh(u).
func GELUBackward(dx, dy, x []float32) {
	dx, dy = dx[:len(x)], dy[:len(x)]
	if f := active.geluBackward; f != nil {
		n := len(x) &^ 7
		f(dx[:n], dy[:n], x[:n])
		x, dx, dy = x[n:], dx[n:], dy[n:]
	}
	for i, v := range x { // in float64, so that x³ cannot overflow
		xf := float64(v)
		t := math.Tanh(geluC * (xf + geluA*xf*xf*xf))
		d := 0.5*(1+t) + 0.5*xf*(1-t*t)*geluC*(1+3*geluA*xf*xf)
		dx[i] += dy[i] * float32(d)
	}
}

// CausalSoftmaxRows applies softmax to the rows of the t×t matrix s in
// place, row i over its first i+1 entries only, and sets the rest of the row
// to 0: the attention weights of a causal (autoregressive) mask.
func CausalSoftmaxRows(s []float32, t int) {
	for i := 0; i < t; i++ {
		row := s[i*t : (i+1)*t]
		SoftmaxRows(row[:i+1], row[:i+1], i+1)
		clear(row[i+1:])
	}
}

// AttendRow is one query's attention over m cached positions: with q (d),
// keys k and values v (m rows of d), it sets p (m) to softmax(q·kᵀ·scale)
// and y (d) to p·v. Four keys (or values) share each pass over q (or y),
// as the matrix-vector GEMM path does, without its set-up: decoding calls
// this once per sequence and head.
func AttendRow(q, k, v []float32, scale float32, p, y []float32) {
	d, m := len(q), len(p)
	_, _ = k[m*d-1], v[m*d-1]
	im, j := active, 0
	if im.dot4 != nil && d%8 == 0 {
		for ; j+4 <= m; j += 4 {
			im.dot4(d, &q[0], &k[j*d], d, (*[4]float32)(p[j:j+4]))
		}
	}
	for ; j < m; j++ {
		p[j] = im.dot(q, k[j*d:(j+1)*d])
	}
	Scale(scale, p)
	SoftmaxRows(p, p, m)
	clear(y)
	j = 0
	if im.axpy4 != nil && d%8 == 0 {
		for ; j+4 <= m; j += 4 {
			im.axpy4(d, &p[j], &v[j*d], d, &y[0])
		}
	}
	for ; j < m; j++ {
		im.axpy(p[j], v[j*d:(j+1)*d], y)
	}
}
