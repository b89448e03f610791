package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveGemm is the textbook triple loop, in float64, as the oracle.
func naiveGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				ia, ib := i*lda+p, p*ldb+j
				if transA {
					ia = p*lda + i
				}
				if transB {
					ib = j*ldb + p
				}
				av, bv := a[ia], b[ib]
				s += float64(av) * float64(bv)
			}
			old := float64(0)
			if beta != 0 {
				old = float64(beta) * float64(c[i*ldc+j])
			}
			c[i*ldc+j] = float32(float64(alpha)*s + old)
		}
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

func TestGemmMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := [][3]int{{1, 1, 1}, {1, 7, 3}, {5, 1, 9}, {3, 5, 1}, {4, 4, 4}, {17, 33, 65}, {64, 64, 64},
		{70, 130, 300}, {1, 600, 257}, {129, 5, 513}, {2, 2100, 3}}
	for _, sz := range sizes {
		m, n, k := sz[0], sz[1], sz[2]
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			for _, ab := range [][2]float32{{1, 0}, {0.5, 1}, {-2, 0.25}} {
				name := fmt.Sprintf("m%d_n%d_k%d_tA%v_tB%v_a%g_b%g", m, n, k, tr[0], tr[1], ab[0], ab[1])
				t.Run(name, func(t *testing.T) {
					// Leading dimensions larger than needed, to catch ld/width mix-ups.
					lda, ldb, ldc := k+3, n+2, n+5
					if tr[0] {
						lda = m + 3
					}
					if tr[1] {
						ldb = k + 2
					}
					rowsA, rowsB := m, k
					if tr[0] {
						rowsA = k
					}
					if tr[1] {
						rowsB = n
					}
					a := randSlice(rng, rowsA*lda)
					b := randSlice(rng, rowsB*ldb)
					c := randSlice(rng, m*ldc)
					want := append([]float32(nil), c...)
					if ab[1] == 0 {
						for i := range c {
							c[i] = float32(math.NaN()) // beta = 0 must overwrite
						}
					}
					Gemm(tr[0], tr[1], m, n, k, ab[0], a, lda, b, ldb, ab[1], c, ldc)
					naiveGemm(tr[0], tr[1], m, n, k, ab[0], a, lda, b, ldb, ab[1], want, ldc)
					for i := 0; i < m; i++ {
						for j := 0; j < ldc; j++ {
							got, exp := c[i*ldc+j], want[i*ldc+j]
							if j >= n {
								// Padding columns must be untouched.
								if ab[1] != 0 && got != exp {
									t.Fatalf("C[%d][%d] outside n changed: %v != %v", i, j, got, exp)
								}
								continue
							}
							tol := 1e-4 * float64(k+1)
							if math.Abs(float64(got-exp)) > tol*(1+math.Abs(float64(exp))) {
								t.Fatalf("C[%d][%d] = %v, want %v", i, j, got, exp)
							}
						}
					}
				})
			}
		}
	}
}

func TestGemmBatched(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const batch, m, n, k = 12, 9, 16, 16
	a := randSlice(rng, batch*m*k)
	b := randSlice(rng, k*n) // shared: strideB = 0
	c := make([]float32, batch*m*n)
	GemmBatched(false, true, m, n, k, 1, a, k, m*k, b, k, 0, 0, c, n, m*n, batch)
	for i := 0; i < batch; i++ {
		want := make([]float32, m*n)
		naiveGemm(false, true, m, n, k, 1, a[i*m*k:], k, b, k, 0, want, n)
		for j := range want {
			if d := math.Abs(float64(c[i*m*n+j] - want[j])); d > 1e-4 {
				t.Fatalf("batch %d elem %d: %v != %v", i, j, c[i*m*n+j], want[j])
			}
		}
	}
}

func BenchmarkGemm(b *testing.B) {
	for _, n := range []int{64, 256, 512} {
		rng := rand.New(rand.NewPCG(1, 1))
		x, y, z := randSlice(rng, n*n), randSlice(rng, n*n), make([]float32, n*n)
		b.Run(fmt.Sprintf("blocked/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				Gemm(false, false, n, n, n, 1, x, n, y, n, 0, z, n)
			}
			b.ReportMetric(2*float64(n*n*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
		b.Run(fmt.Sprintf("naive/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				for i := 0; i < n; i++ {
					for j := 0; j < n; j++ {
						var s float32
						for p := 0; p < n; p++ {
							s += x[i*n+p] * y[p*n+j]
						}
						z[i*n+j] = s
					}
				}
			}
			b.ReportMetric(2*float64(n*n*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}
