package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// GemvQ8 against float64 sums of the same quantized values, on every
// implementation, over row counts around the 4-row kernel and its split
// across workers, block counts, and several rows of x.
func TestGemvQ8(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, im := range append(impls[:len(impls):len(impls)], q8Variants...) {
		saved := active
		active = im
		for _, rows := range []int{1, 3, 4, 5, 8, 13, 67, 300} {
			for _, cols := range []int{32, 96, 256, 800} {
				for _, m := range []int{1, 3} {
					x, wf := randSlice(rng, m*cols), randSlice(rng, rows*cols)
					var w, xq Q8
					QuantizeQ8(&w, wf, rows, cols)
					QuantizeQ8(&xq, x, m, cols)
					y := make([]float32, m*(rows+2))
					for i := range y {
						y[i] = 1
					}
					GemvQ8(x, m, PackQ8(&w), y, rows+2, true) // 1 + the product
					for i := range y {
						y[i]--
					}
					for i := range m {
						if pad := y[i*(rows+2)+rows : (i+1)*(rows+2)]; pad[0] != 0 || pad[1] != 0 {
							t.Fatalf("%s rows %d cols %d m %d: row %d's padding written: %v", im.name, rows, cols, m, i, pad)
						}
						for r := range rows {
							var want, scale float64
							for c := range cols {
								xv := float64(xq.Qs[i*cols+c]) * float64(xq.D[(i*cols+c)/32])
								wv := float64(w.Qs[r*cols+c]) * float64(w.D[(r*cols+c)/32])
								want += xv * wv
								scale += math.Abs(xv * wv)
							}
							if got := float64(y[i*(rows+2)+r]); math.Abs(got-want) > 1e-5*scale+1e-5 {
								t.Fatalf("%s rows %d cols %d m %d: y[%d][%d] = %g, want %g", im.name, rows, cols, m, i, r, got, want)
							}
						}
					}
				}
			}
		}
		active = saved
	}
}

// q8Variants are implementations the CPU runs that impls leaves out
// because a better one has the same name (see asm_amd64_test.go).
var q8Variants []*impl

// Quantizing rounds half away from zero with the scale max|x|/127.
func TestQuantizeQ8(t *testing.T) {
	x := make([]float32, 32)
	x[0], x[1], x[2] = 127, 0.5, -0.5
	var q Q8
	QuantizeQ8(&q, x, 1, 32)
	if q.D[0] != 1 || q.Qs[0] != 127 || q.Qs[1] != 1 || q.Qs[2] != -1 || q.Qs[3] != 0 {
		t.Fatalf("%v %v", q.D, q.Qs[:4])
	}
	if fmt.Sprint(q.Rows, q.Cols) != "1 32" {
		t.Fatal(q.Rows, q.Cols)
	}
}

// GemvF16 against float64 sums of the same halves, on every implementation.
func TestGemvF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, im := range impls {
		saved := active
		active = im
		for _, bf16 := range []bool{false, true} {
			for _, rows := range []int{1, 4, 5, 13, 70, 300} {
				for _, cols := range []int{8, 24, 256, 1040} {
					for _, m := range []int{1, 2} {
						x := randSlice(rng, m*cols)
						h := make([]uint16, rows*cols)
						widen := HalfToFloat
						if bf16 {
							widen = func(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }
						}
						for i := range h {
							h[i] = uint16(rng.IntN(0x7800)) | uint16(rng.IntN(2))<<15 // finite halves
						}
						w := PackF16(rows, cols, h, bf16)
						y := make([]float32, m*rows)
						GemvF16(x, m, w, y, rows, false)
						for i := range m {
							for r := range rows {
								var want, scale float64
								for c := range cols {
									p := float64(x[i*cols+c]) * float64(widen(h[r*cols+c]))
									want += p
									scale += math.Abs(p)
								}
								if got := float64(y[i*rows+r]); math.Abs(got-want) > 1e-5*scale+1e-6 {
									t.Fatalf("%s bf16 %v rows %d cols %d: y[%d][%d] = %g, want %g", im.name, bf16, rows, cols, i, r, got, want)
								}
							}
						}
					}
				}
			}
		}
		active = saved
	}
}

// BenchmarkGemvQ8 times one token's product with a Q8_0 matrix: small
// enough to stay in cache (the kernel's compute), and GPT-2 small's MLP
// weights of 12 layers (from memory, as decoding reads them). GB/s counts
// the weight bytes read.
func BenchmarkGemvQ8(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, c := range []struct {
		name        string
		n, k, count int
	}{{"cache", 256, 768, 1}, {"memory", 3072, 768, 24}} {
		ws := make([]*Q8Panels, c.count)
		for i := range ws {
			var q Q8
			QuantizeQ8(&q, randSlice(rng, c.n*c.k), c.n, c.k)
			ws[i] = PackQ8(&q)
		}
		x, y := randSlice(rng, c.k), make([]float32, c.n)
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				for _, w := range ws {
					GemvQ8(x, 1, w, y, c.n, false)
				}
			}
			bytes := float64(c.count*c.n*c.k) * 34 / 32
			b.ReportMetric(bytes*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}
