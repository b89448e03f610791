package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// eachImpl runs f once per kernel implementation this CPU supports (the
// pure-Go one always), and once with wideTile, with that implementation
// active.
func eachImpl(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, im := range append(impls[:len(impls):len(impls)], wideTile()) {
		t.Run(im.name, func(t *testing.T) {
			saved := active
			active = im
			defer func() { active = saved }()
			f(t)
		})
	}
}

// wideTile is the best implementation here with AVX-512's tile and
// blocking (12×32, mc 144, kc 128) and a Go micro-kernel, so that the
// packing and edge-tile paths of that tile run on every CPU, AVX-512 or not
// (the assembly itself runs where the CPU has AVX-512F, as impls[0]).
func wideTile() *impl {
	im := impls[0].withTile("tile12x32", 12, 32, 144, 128, 4096, func(kb int, a, b, c []float32, ldc int, add bool) {
		for i := 0; i < 12; i++ {
			for j := 0; j < 32; j++ {
				var s float32
				for p := 0; p < kb; p++ {
					s += a[p*12+i] * b[p*32+j]
				}
				if add {
					s += c[i*ldc+j]
				}
				c[i*ldc+j] = s
			}
		}
	})
	im.microAB = func(kb int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, add bool) {
		for i := 0; i < 12; i++ {
			for j := 0; j < 32; j++ {
				var s float32
				for p := 0; p < kb; p++ {
					s += a[i*lda+p] * b[p*ldb+j]
				}
				if add {
					s += c[i*ldc+j]
				}
				c[i*ldc+j] = s
			}
		}
	}
	im.microA = func(kb int, a []float32, lda int, b, c []float32, ldc int, add bool) {
		im.microAB(kb, a, lda, b, 32, c, ldc, add)
	}
	return im
}

// refGemm is the textbook triple loop in float64, the oracle. NaN and Inf
// propagate through it as IEEE arithmetic says.
func refGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float64, ldc int, c0 []float32) {
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
				s += float64(a[ia]) * float64(b[ib])
			}
			v := float64(alpha) * s
			if beta != 0 {
				v += float64(beta) * float64(c0[i*ldc+j])
			}
			c[i*ldc+j] = v
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

// checkGemmCase runs one Gemm against the reference, with padded leading
// dimensions (odd strides) and C's padding checked untouched.
func checkGemmCase(t *testing.T, rng *rand.Rand, transA, transB bool, m, n, k int, alpha, beta float32) {
	t.Helper()
	lda, ldb, ldc := k+rng.IntN(3), n+rng.IntN(3), n+1+rng.IntN(3)
	rowsA, rowsB := m, k
	if transA {
		lda, rowsA = m+rng.IntN(3), k
	}
	if transB {
		ldb, rowsB = k+rng.IntN(3), n
	}
	a, b := randSlice(rng, rowsA*lda), randSlice(rng, rowsB*ldb)
	c := randSlice(rng, m*ldc)
	c0 := append([]float32(nil), c...)
	if beta == 0 {
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				c[i*ldc+j] = float32(math.NaN()) // beta = 0 must overwrite, not multiply
			}
		}
	}
	want := make([]float64, len(c))
	refGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc, c0)
	Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	for i := 0; i < m; i++ {
		for j := 0; j < ldc; j++ {
			got := c[i*ldc+j]
			if j >= n {
				if got != c0[i*ldc+j] {
					t.Fatalf("m%d n%d k%d tA%v tB%v: C[%d][%d] beyond n changed", m, n, k, transA, transB, i, j)
				}
				continue
			}
			exp := want[i*ldc+j]
			tol := 1e-5 * float64(k+2) * (1 + math.Abs(exp))
			if !(math.Abs(float64(got)-exp) <= tol) { // a NaN fails too
				t.Fatalf("m%d n%d k%d tA%v tB%v α%g β%g: C[%d][%d] = %v, want %v", m, n, k, transA, transB, alpha, beta, i, j, got, exp)
			}
		}
	}
}

// The result does not depend on how many threads share the product: every
// element is one micro-kernel's sum in the same order, whichever part its
// row falls in, at the end of a 4- or 8-row panel or not.
func TestGemmSplitIdentical(t *testing.T) {
	eachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, sz := range [][3]int{{256, 200, 70}, {1024, 64, 40}, {37, 300, 30}, {100, 70, 1537}} {
			m, n, k := sz[0], sz[1], sz[2]
			a, b := randSlice(rng, m*k), randSlice(rng, k*n)
			var want []float32
			for _, workers := range []int{1, 2, 3, 5} {
				c := randSlice(rng, m*n)
				gemm(workers, false, true, m, n, k, 1, a, k, b, k, 0, c, n, nil, false)
				if want == nil {
					want = c
					continue
				}
				for i := range c {
					if math.Float32bits(c[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%v on %d threads: C[%d] = %v, on one %v", sz, workers, i, c[i], want[i])
					}
				}
			}
		}
	})
}

var layouts = [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}}

// Every size from 1 to 33 in each dimension (the others random), every
// layout, several α and β: covers every edge-tile shape of every micro-kernel.
func TestGemmSizes(t *testing.T) {
	eachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for s := 1; s <= 33; s++ {
			for dim := 0; dim < 3; dim++ {
				sz := [3]int{1 + rng.IntN(40), 1 + rng.IntN(40), 1 + rng.IntN(40)}
				sz[dim] = s
				for _, tr := range layouts {
					ab := [][2]float32{{1, 0}, {0.5, 1}, {-2, 0.25}}[rng.IntN(3)]
					checkGemmCase(t, rng, tr[0], tr[1], sz[0], sz[1], sz[2], ab[0], ab[1])
				}
			}
		}
	})
}

// Shapes that cross the blocking boundaries (kc, mc, nc) and the parallel
// paths, and the skinny shapes of generation and attention.
func TestGemmLargeShapes(t *testing.T) {
	eachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, sz := range [][3]int{{1, 600, 300}, {2, 300, 513}, {4, 1000, 64}, {5, 130, 70}, {16, 700, 64},
			{70, 130, 300}, {129, 65, 513}, {150, 90, 257}, {64, 4100, 9}, {300, 64, 64},
			{150, 90, 256}, {40, 70, 129}, {30, 70, 768}, {30, 40, 769}, {20, 40, 1537}, // the whole depth in one block, or not, or in three
			{32, 9, 784}, {100, 7, 300}} { // few columns: computed transposed
			for _, tr := range layouts {
				checkGemmCase(t, rng, tr[0], tr[1], sz[0], sz[1], sz[2], 1, 0)
			}
		}
		checkGemmCase(t, rng, false, true, 200, 200, 300, 0.5, 2)
		checkGemmCase(t, rng, true, false, 50, 9, 300, 0.5, 2)
	})
}

func TestGemmAlphaZeroAndEmpty(t *testing.T) {
	eachImpl(t, func(t *testing.T) {
		c := []float32{1, 2, 3, 4}
		nan := []float32{float32(math.NaN()), 1, 1, 1}
		Gemm(false, false, 2, 2, 2, 0, nan, 2, nan, 2, 3, c, 2) // α = 0: A and B are not read
		if c[0] != 3 || c[3] != 12 {
			t.Fatalf("α=0: C = %v, want 3·C", c)
		}
		Gemm(false, false, 2, 2, 0, 1, nil, 0, nil, 2, 0, c, 2) // k = 0: C = β·C
		if c[0] != 0 {
			t.Fatalf("k=0, β=0: C = %v", c)
		}
		Gemm(false, false, 0, 5, 5, 1, nil, 5, nil, 5, 0, nil, 5) // nothing to do
	})
}

// NaN and Inf in A or B reach exactly the entries of C they should, in
// every implementation (no kernel may drop or invent them).
func TestGemmNaNInf(t *testing.T) {
	eachImpl(t, func(t *testing.T) {
		for _, m := range []int{3, 7, 20} {
			const n, k = 19, 11
			a, b := make([]float32, m*k), make([]float32, k*n)
			for i := range a {
				a[i] = 1
			}
			for i := range b {
				b[i] = 1
			}
			a[1*k+4] = float32(math.NaN())  // row 1 of C becomes NaN
			b[2*n+5] = float32(math.Inf(1)) // column 5 becomes +Inf (NaN in row 1)
			c := make([]float32, m*n)
			Gemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					v := float64(c[i*n+j])
					switch {
					case i == 1 && !math.IsNaN(v):
						t.Fatalf("m=%d C[%d][%d] = %v, want NaN", m, i, j, v)
					case i != 1 && j == 5 && !math.IsInf(v, 1):
						t.Fatalf("m=%d C[%d][%d] = %v, want +Inf", m, i, j, v)
					case i != 1 && j != 5 && v != k:
						t.Fatalf("m=%d C[%d][%d] = %v, want %d", m, i, j, v, k)
					}
				}
			}
		}
	})
}

// A and B may be the same memory (A·Aᵀ); only C must be separate.
func TestGemmAliasedInputs(t *testing.T) {
	eachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		const m, k = 37, 29
		a := randSlice(rng, m*k)
		c := make([]float32, m*m)
		Gemm(false, true, m, m, k, 1, a, k, a, k, 0, c, m)
		want := make([]float64, m*m)
		refGemm(false, true, m, m, k, 1, a, k, a, k, 0, want, m, nil)
		for i := range c {
			if math.Abs(float64(c[i])-want[i]) > 1e-4 {
				t.Fatalf("A·Aᵀ[%d] = %v, want %v", i, c[i], want[i])
			}
		}
	})
}

func TestGemmShortSlicePanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("no panic for a too-short B")
		}
	}()
	Gemm(false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 3), 2, 0, make([]float32, 4), 2)
}

func TestGemmBatched(t *testing.T) {
	eachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		const batch, m, n, k = 12, 9, 16, 16
		a := randSlice(rng, batch*m*k)
		b := randSlice(rng, k*n) // shared: strideB = 0
		c := make([]float32, batch*m*n)
		GemmBatched(false, true, m, n, k, 1, a, k, m*k, b, k, 0, 0, c, n, m*n, batch)
		for i := 0; i < batch; i++ {
			want := make([]float64, m*n)
			refGemm(false, true, m, n, k, 1, a[i*m*k:], k, b, k, 0, want, n, nil)
			for j := range want {
				if d := math.Abs(float64(c[i*m*n+j]) - want[j]); d > 1e-4 {
					t.Fatalf("batch %d elem %d: %v != %v", i, j, c[i*m*n+j], want[j])
				}
			}
		}
	})
}

func TestVectorKernels(t *testing.T) {
	eachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		for n := 0; n <= 70; n++ {
			x, y := randSlice(rng, n+3), randSlice(rng, n)
			y0 := append([]float32(nil), y...)
			Axpy(-1.5, x, y)
			var dot float64
			for i := range y {
				if want := y0[i] - 1.5*x[i]; math.Abs(float64(y[i]-want)) > 1e-5 {
					t.Fatalf("n=%d Axpy[%d] = %v, want %v", n, i, y[i], want)
				}
				dot += float64(x[i]) * float64(y[i])
			}
			if got := Dot(y, x); math.Abs(float64(got)-dot) > 1e-4*(1+math.Abs(dot)) {
				t.Fatalf("n=%d Dot = %v, want %v", n, got, dot)
			}
		}
	})
}

// FuzzGemm compares every implementation with the reference on fuzzed
// shapes, layouts and scalars.
func FuzzGemm(f *testing.F) {
	f.Add(uint8(5), uint8(17), uint8(3), uint8(0), int8(2), int8(0), uint64(1))
	f.Add(uint8(1), uint8(40), uint8(70), uint8(3), int8(-1), int8(1), uint64(2))
	f.Fuzz(func(t *testing.T, m, n, k, layout uint8, alpha, beta int8, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, 0))
		tr := layouts[layout%4]
		for _, im := range impls {
			saved := active
			active = im
			checkGemmCase(t, rng, tr[0], tr[1], 1+int(m%80), 1+int(n%80), int(k%80), float32(alpha)/4, float32(beta)/4)
			active = saved
		}
	})
}

func BenchmarkGemm(b *testing.B) {
	for _, n := range []int{64, 256, 512} {
		rng := rand.New(rand.NewPCG(1, 1))
		x, y, z := randSlice(rng, n*n), randSlice(rng, n*n), make([]float32, n*n)
		for _, im := range impls {
			b.Run(fmt.Sprintf("%s/n=%d", im.name, n), func(b *testing.B) {
				saved := active
				active = im
				defer func() { active = saved }()
				for b.Loop() {
					Gemm(false, false, n, n, n, 1, x, n, y, n, 0, z, n)
				}
				b.ReportMetric(2*float64(n*n*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
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

// BenchmarkGemmDecode is the server's decoding step: 32 rows of
// activations by GPT-2 small's weight shapes, with and without the
// implementation's edge kernels for a last panel of fewer than mr rows
// (32 = 12 + 12 + 8 on AVX-512).
func BenchmarkGemmDecode(b *testing.B) {
	for _, shape := range [][3]int{{32, 2304, 768}, {32, 3072, 768}, {32, 768, 3072}, {32, 50257, 768}} {
		m, n, k := shape[0], shape[1], shape[2]
		rng := rand.New(rand.NewPCG(1, 1))
		x, y, z := randSlice(rng, m*k), randSlice(rng, k*n), make([]float32, m*n)
		for _, edges := range []bool{true, false} {
			if !edges && active.edges == nil {
				continue
			}
			b.Run(fmt.Sprintf("%s/m=%d,n=%d,k=%d/edges=%v", active.name, m, n, k, edges), func(b *testing.B) {
				saved := active.edges
				if !edges {
					active.edges = nil
				}
				defer func() { active.edges = saved }()
				for b.Loop() {
					Gemm(false, false, m, n, k, 1, x, k, y, n, 0, z, n)
				}
				b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
	}
}

func TestChooseImpl(t *testing.T) {
	if got, err := chooseImpl(""); got != impls[0] || err != nil {
		t.Errorf("chooseImpl(\"\") = %v, %v; want the best, %s", got, err, impls[0].name)
	}
	if got, err := chooseImpl("go"); got != pureGo || err != nil {
		t.Errorf("chooseImpl(\"go\") = %v, %v", got, err)
	}
	if _, err := chooseImpl("avx9"); err == nil || !strings.Contains(err.Error(), `MOXING_KERNELS="avx9"`) || !strings.Contains(err.Error(), "go") {
		t.Errorf("chooseImpl(\"avx9\"): error %v, want one naming the setting and the choices", err)
	}
}

// GemmPacked gives Gemm's result bit for bit, for B transposed or not, with
// few rows (which do not pack) and more, and blocks of B across kc and nc.
func TestGemmPacked(t *testing.T) {
	eachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(41, 42))
		// Whole panels of an untransposed B are read in place by Gemm
		// where the kernels can (directB), and packed by PackB: the two
		// must agree bit for bit.
		for _, sz := range [][3]int{{1, 37, 19}, {4, 70, 300}, {5, 33, 17}, {13, 4200, 300}, {40, 130, 520}, {13, 4160, 300}, {40, 96, 1000}, {25, 768, 800}} {
			m, n, k := sz[0], sz[1], sz[2]
			for _, transB := range []bool{false, true} {
				a := randSlice(rng, m*k)
				ldb := n
				if transB {
					ldb = k
				}
				if direct := n%32 == 0 && !transB; direct && active.microB != nil && !active.directB(n, ldb) {
					t.Fatalf("%v: B is packed, so the in-place path goes untested", sz)
				}
				b := randSlice(rng, n*k)
				want, got := randSlice(rng, m*n), make([]float32, m*n)
				copy(got, want)
				Gemm(false, transB, m, n, k, 0.5, a, k, b, ldb, 1, want, n)
				p := PackB(transB, k, n, b, ldb)
				GemmPacked(m, 0.5, a, k, p, 1, got, n)
				for i := range want {
					if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
						t.Fatalf("%v transB %v: element %d is %v packed, %v not", sz, transB, i, got[i], want[i])
					}
				}
			}
		}
	})
}

func TestGemmInPlaceA(t *testing.T) {
	eachImpl(t, func(t *testing.T) {
		if active.microA == nil {
			t.Skip("no in-place A kernel")
		}
		rng := rand.New(rand.NewPCG(43, 44))
		// An untransposed A with alpha 1 is read in place (directA), and
		// C = A·Bᵀ with A's rows fewer than B's and than half the depth
		// is computed as (B·Aᵀ)ᵀ with B in place. A doubled A with alpha
		// ½ is packed (scaled exactly back) and takes neither path: with
		// beta 0 the products are summed in the same order, bit for bit.
		for _, c := range []struct {
			m, n, k, lda, ldb    int
			transB, direct, swap bool // direct: A read in place
		}{
			{76, 96, 300, 300, 96, false, true, false},      // B in place; 40 rows a thread: an edge of 4 packed
			{76, 70, 300, 301, 70, false, true, false},      // B packed, its last panel partial
			{40, 64, 2000, 2000, 64, false, true, false},    // k in three blocks
			{40, 100, 200, 200, 200, true, true, true},      // the transposed product
			{64, 3000, 900, 900, 900, true, false, true},    // in two depth blocks
			{76, 96, 300, 2048, 96, false, false, false},    // lda a multiple of 2048: packed
			{40, 2000, 300, 300, 2000, false, false, false}, // too many columns: packed
			{200, 100, 600, 600, 600, true, true, false},    // more rows than B's: not swapped
			{40, 100, 200, 200, 2048, true, true, false},    // B's stride a multiple of 2048: not swapped
			{20, 100, 200, 200, 200, true, true, false},     // too few rows to swap
		} {
			if got := active.directA(c.lda, c.n); got != c.direct {
				t.Fatalf("%+v: directA %v", c, got)
			}
			if got := active.swapTransB(c.m, c.n, c.k, c.ldb); c.transB && got != c.swap {
				t.Fatalf("%+v: swapTransB %v", c, got)
			}
			b := randSlice(rng, (c.k-1)*c.ldb+c.n)
			if c.transB {
				b = randSlice(rng, (c.n-1)*c.ldb+c.k)
			}
			a := randSlice(rng, (c.m-1)*c.lda+c.k)
			a2 := make([]float32, len(a))
			for i, v := range a {
				a2[i] = 2 * v
			}
			want, got := randSlice(rng, c.m*c.n), randSlice(rng, c.m*c.n)
			Gemm(false, c.transB, c.m, c.n, c.k, 0.5, a2, c.lda, b, c.ldb, 0, want, c.n)
			Gemm(false, c.transB, c.m, c.n, c.k, 1, a, c.lda, b, c.ldb, 0, got, c.n)
			for i := range want {
				if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
					t.Fatalf("%+v: element %d is %v in place, %v packed", c, i, got[i], want[i])
				}
			}
			// Adding into C (beta 0.5), never swapped.
			c0 := randSlice(rng, c.m*c.n)
			copy(got, c0)
			Gemm(false, c.transB, c.m, c.n, c.k, 1, a, c.lda, b, c.ldb, 0.5, got, c.n)
			ref := make([]float64, c.m*c.n)
			refGemm(false, c.transB, c.m, c.n, c.k, 1, a, c.lda, b, c.ldb, 0.5, ref, c.n, c0)
			for i := range ref {
				if d := math.Abs(float64(got[i]) - ref[i]); !(d <= 1e-4*float64(c.k)) {
					t.Fatalf("%+v beta 0.5: element %d is %v, want %v", c, i, got[i], ref[i])
				}
			}
		}
	})
}

// BenchmarkGemmPackedDecode times a serving step's products: 32 rows by
// GPT-2 small's packed weights (12 layers and the head, 498 MB), so B
// streams from memory as it does when decoding.
func BenchmarkGemmPackedDecode(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	const m = 32
	type product struct {
		k int
		p *PackedB
	}
	var ps []product
	for range 12 {
		for _, kn := range [][2]int{{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}} {
			ps = append(ps, product{kn[0], PackB(false, kn[0], kn[1], randSlice(rng, kn[0]*kn[1]), kn[1])})
		}
	}
	ps = append(ps, product{768, PackB(true, 768, 50257, randSlice(rng, 768*50257), 768)})
	x, z := randSlice(rng, m*3072), make([]float32, m*50257)
	flops := 0.0
	for _, p := range ps {
		flops += 2 * float64(m*p.k*p.p.n)
	}
	for b.Loop() {
		for _, p := range ps {
			GemmPacked(m, 1, x, p.k, p.p, 0, z, p.p.n)
		}
	}
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
}

// BenchmarkGemv is one token's products with float32 weights from memory:
// GPT-2 small's MLP matrices of 12 layers (226 MB), B stored N×K as a
// Linear layer's weight, the path batch-1 decoding takes.
func BenchmarkGemv(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	ws := make([][]float32, 24)
	for i := range ws {
		ws[i] = randSlice(rng, 3072*768)
	}
	x, y := randSlice(rng, 3072), make([]float32, 3072)
	for _, im := range impls[:len(impls)-1] { // not the portable Go
		b.Run(im.name, func(b *testing.B) {
			saved := active
			active = im
			defer func() { active = saved }()
			for b.Loop() {
				for i, w := range ws {
					if i%2 == 0 {
						Gemm(false, true, 1, 3072, 768, 1, x, 768, w, 768, 0, y, 3072)
					} else {
						Gemm(false, true, 1, 768, 3072, 1, x, 3072, w, 3072, 0, y, 768)
					}
				}
			}
			b.ReportMetric(float64(len(ws)*3072*768*4)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}

// PackedA.Gemm against Gemm: bit for bit where Gemm takes its blocked path
// (m > 4, n ≥ nr/2), within rounding of the reference elsewhere; one
// packing serving several products (different B, C and beta), every layout,
// depths in one block and in several, and C's columns beyond n untouched.
func TestPackedA(t *testing.T) {
	eachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, sz := range [][3]int{{64, 196, 288}, {32, 784, 9}, {288, 196, 64}, {150, 70, 300}, {13, 33, 257}, {3, 40, 20}, {20, 5, 30}} {
			m, n, k := sz[0], sz[1], sz[2]
			for _, tr := range layouts {
				transA, transB := tr[0], tr[1]
				lda, ldb := k+1, n+2
				rowsA, rowsB := m, k
				if transA {
					lda, rowsA = m+1, k
				}
				if transB {
					ldb, rowsB = k+2, n
				}
				a := randSlice(rng, rowsA*lda)
				p := PackA(transA, m, k, 0.5, a, lda)
				blocked := m > smallM && n >= active.nr/2
				for _, beta := range []float32{0, 1, -0.5} {
					b := randSlice(rng, rowsB*ldb)
					ldc := n + 3
					c := randSlice(rng, m*ldc)
					c0 := slices.Clone(c)
					want := slices.Clone(c)
					Gemm(transA, transB, m, n, k, 0.5, a, lda, b, ldb, beta, want, ldc)
					ref := make([]float64, len(c))
					refGemm(transA, transB, m, n, k, 0.5, a, lda, b, ldb, beta, ref, ldc, c0)
					if beta == 0 {
						for i := range c {
							if i%ldc < n {
								c[i] = float32(math.NaN()) // overwritten, not scaled
							}
						}
					}
					p.Gemm(transB, n, b, ldb, beta, c, ldc)
					for i := range c {
						switch {
						case i%ldc >= n:
							if c[i] != c0[i] {
								t.Fatalf("%v m%d n%d k%d tA%v tB%v: C[%d] beyond n changed", active.name, m, n, k, transA, transB, i)
							}
						case blocked:
							if c[i] != want[i] {
								t.Fatalf("%v m%d n%d k%d tA%v tB%v β%g: C[%d] = %v, Gemm gives %v", active.name, m, n, k, transA, transB, beta, i, c[i], want[i])
							}
						default:
							if math.Abs(float64(c[i])-ref[i]) > 1e-5*float64(k+2)*(1+math.Abs(ref[i])) {
								t.Fatalf("%v m%d n%d k%d tA%v tB%v β%g: C[%d] = %v, want %v", active.name, m, n, k, transA, transB, beta, i, c[i], ref[i])
							}
						}
					}
				}
				p.Release()
			}
		}
	})
}
