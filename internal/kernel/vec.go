package kernel

// Axpy computes y += alpha·x over len(y) elements. x must be at least as long.
func Axpy(alpha float32, x, y []float32) {
	x = x[:len(y)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

// Add computes y += x over len(y) elements.
func Add(x, y []float32) {
	x = x[:len(y)]
	for i, v := range x {
		y[i] += v
	}
}

// Scale computes x *= alpha.
func Scale(alpha float32, x []float32) {
	for i := range x {
		x[i] *= alpha
	}
}

// Dot returns Σ x[i]·y[i] over len(x) elements, accumulated in float64.
func Dot(x, y []float32) float64 {
	y = y[:len(x)]
	var s float64
	for i, v := range x {
		s += float64(v) * float64(y[i])
	}
	return s
}

// Sum returns Σ x[i], accumulated in float64.
func Sum(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	return s
}
