package kernel

import (
	"fmt"
	"math"
	"math/bits"
	"os"
	"strings"
	"sync"
)

// impl is one implementation of the kernels: a GEMM micro-kernel with its
// blocking, and the vector loops. The active one is chosen at start-up from
// the CPU's features (see impl_amd64.go); the pure-Go one runs everywhere.
type impl struct {
	name   string
	mr, nr int // micro-tile of C
	mc, kc int // rows of A and depth packed per block (mc a multiple of mr)
	deep   int // the largest depth multiplied in one block (see depth); at most maxDeep
	nc     int // columns of B packed per panel
	// micro computes the mr×nr product of packed panels a (kb×mr) and b
	// (kb×nr) and adds it into c (row stride ldc), or overwrites c when add
	// is false; c must hold a full tile.
	micro func(kb int, a, b, c []float32, ldc int, add bool)
	// microB, when set, is micro reading nr columns of a row-major B in
	// place (row stride ldb) instead of a packed panel; with it an
	// untransposed B is not packed where directB says.
	microB func(kb int, a, b []float32, ldb int, c []float32, ldc int, add bool)
	// microA and microAB, when set, are micro and microB reading mr rows
	// of a row-major A in place (row stride lda) instead of a packed panel;
	// with them an untransposed A is not packed where directA says.
	// microAB must be set where microA and microB are.
	microA  func(kb int, a []float32, lda int, b, c []float32, ldc int, add bool)
	microAB func(kb int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, add bool)
	// edges, when set, are micro-kernels for a panel's last rows, by
	// increasing rows: each computes the product of the first rows of an
	// mr-wide A panel, so that a panel of fewer than mr rows costs less than
	// a whole one.
	edges []edge
	// packBT16, when set, packs 16 rows of a transposed B into 16 columns
	// of a panel dstride wide, for k steps (a multiple of 8).
	packBT16 func(k int, b *float32, ldb int, dst *float32, dstride int)
	// copyRows16, when set, copies k rows of 16 floats from src (row
	// stride ld) to dst (row stride dstride): packing an untransposed B.
	copyRows16 func(k int, src *float32, ld int, dst *float32, dstride int)
	// packBT12, when set, packs 12 rows of A, scaled by alpha, into a
	// 12-row panel (dstride 12), as packBT16 does 16 columns of a
	// transposed B.
	packBT12 func(k int, b *float32, ldb int, dst *float32, dstride int, alpha float32)
	// addBT12, when set, is packBT12 adding into dst (alpha 1): a 12-row
	// tile stored transposed into C.
	addBT12 func(k int, b *float32, ldb int, dst *float32, dstride int)
	// packAT12, when set, deals k rows of a transposed A, scaled by alpha,
	// out to panels 12-row panels pstride floats apart, 12 values a row.
	packAT12 func(k, panels int, a *float32, lda int, dst *float32, pstride int, alpha float32)
	// packA6, when set, packs 6 rows of A (scaled by alpha) into a 6-wide
	// panel for k steps (a multiple of 8), writing 2 floats past the end.
	packA6 func(k int, a *float32, lda int, dst *float32, alpha float32)
	// dot4, when set, computes 4 dot products of x with rows of B sharing
	// the loads of x, over k (a multiple of 8) elements.
	dot4 func(k int, x, b *float32, ldb int, out *[4]float32)
	// dotQ8x4, when set, is dotQ8x4Go: 4 dot products of a quantized row
	// with each group of Q8Panels.
	dotQ8x4 func(groups, pairs int, xq []int8, xd []float32, wq []int8, wd []float32, out []float32)
	// dotF16x4, when set, is dotHalfGo for IEEE halves: 4 dot products of
	// a float32 row with each group of F16 panels.
	dotF16x4 func(groups, steps int, x []float32, b []uint16, out []float32)
	// dotBF16x4 is dotF16x4 for bfloat16s.
	dotBF16x4 func(groups, steps int, x []float32, b []uint16, out []float32)
	// axpy4, when set, adds Σ_{q<4} x[q]·b[q*ldb+j] to y[j] for j < n (a
	// multiple of 8): four AXPYs sharing the loads and stores of y.
	axpy4 func(n int, x, b *float32, ldb int, y *float32)
	// softmaxExp, gelu and geluBackward, when set, do the vectorisable
	// part (len &^ 7) of the row kernels; the rest is done in Go.
	softmaxExp   func(dst, src []float32, shift float32) float32
	gelu         func(y, x []float32)
	geluBackward func(dx, dy, x []float32)
	// adamW, when set, does the Adam/AdamW update of len &^ 7 parameters.
	adamW func(w, g, m, v []float32, s *[9]float32)
	// maxPool2x2 and maxPool2x2Backward, when set, are MaxPool2x2 and
	// MaxPool2x2Backward (their bounds checked), the latter by add.
	maxPool2x2         func(dst, src *float32, pairs, w int)
	maxPool2x2Backward [2]func(gx, gy, src, y *float32, pairs, w int) // [0]: write, [1]: add
	// rowMax, rowSum and addScalar, when set, do the vectorisable part
	// (len &^ 7) of maxOf, sumOf and addScalar.
	rowMax    func(x []float32) (max float32, nan bool)
	rowSum    func(x []float32) float32
	addScalar func(y, x []float32, c float32)
	scaleTo   func(y, x []float32, a float32)
	// relu and reluBackward, when set, do the vectorisable part (len &^ 7)
	// of ReLU and ReLUBackward.
	relu         func(y, x []float32)
	reluBackward func(dx, dy, y []float32)
	// lnSumSq, lnApply, lnBackwardSums and lnBackwardDx, when set, do the
	// vectorisable part (len &^ 7) of a row of LayerNormRows and
	// LayerNormRowsBackward.
	lnSumSq        func(x []float32, mu float32) float32
	lnApply        func(y, x, w, b []float32, mu, rs float32)
	lnBackwardSums func(dw, db, dy, x, w []float32, mu, rs float32) (g, gx float32)
	lnBackwardDx   func(dx, dy, x, w []float32, mu, rs, gMean, gxMean float32)
	// fmaPeak, when set, runs n rounds of 12 independent fmaLanes-wide
	// FMAs: the peak, measured (FMALoop).
	fmaPeak  func(n int)
	fmaLanes int
	axpy     func(alpha float32, x, y []float32) // y += alpha·x over len(y)
	dot      func(x, y []float32) float32        // Σ x·y over len(x)
}

// edge is a micro-kernel for the first rows of an mr-wide A panel and an
// nr-wide B panel (see impl.edges); c must hold rows full rows.
type edge struct {
	rows   int
	micro  func(kb int, a, b, c []float32, ldc int, add bool)
	microB func(kb int, a, b []float32, ldb int, c []float32, ldc int, add bool) // as impl.microB; set when impl.microB is
}

// withTile returns a copy of im under another name with another micro-tile,
// blocking and micro-kernel, and the same vector kernels except the packing
// kernels shaped by the tile.
func (im impl) withTile(name string, mr, nr, mc, kc, nc int, micro func(kb int, a, b, c []float32, ldc int, add bool)) *impl {
	im.name, im.mr, im.nr, im.mc, im.kc, im.nc, im.micro, im.edges = name, mr, nr, mc, kc, nc, micro, nil
	im.packBT12, im.addBT12, im.packAT12, im.microB, im.microA, im.microAB = nil, nil, nil, nil, nil, nil // shaped by the tile: set them again for the new one
	return &im
}

// pureGo is the portable implementation.
var pureGo = &impl{name: "go", mr: 4, nr: 4, mc: 64, kc: 256, nc: 2048, micro: micro4x4, axpy: axpyGo, dot: dotGo}

// impls lists every implementation this CPU can run, best first (the tests
// run each); active is the one in use: the best, unless the MOXING_KERNELS
// environment variable names another.
var (
	impls  = append(platformImpls(), pureGo)
	active = chooseFromEnv()
)

// chooseFromEnv returns the implementation MOXING_KERNELS names, or the best.
// A name this CPU cannot run stops the program with a one-line message
// before anything runs: a misspelled setting must not silently measure or
// test something else.
func chooseFromEnv() *impl {
	im, err := chooseImpl(os.Getenv("MOXING_KERNELS"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	return im
}

// chooseImpl returns the implementation named name, or the best when name
// is empty.
func chooseImpl(name string) (*impl, error) {
	if name == "" {
		return impls[0], nil
	}
	var names []string
	for _, im := range impls {
		if im.name == name {
			return im, nil
		}
		names = append(names, im.name)
	}
	return nil, fmt.Errorf("moxing: MOXING_KERNELS=%q, but this CPU runs only %s", name, strings.Join(names, ", "))
}

// Impl returns the name of the kernels in use: "avx512", "avx2" or "go".
func Impl() string { return active.name }

// Axpy computes y += alpha·x over len(y) elements. x must be at least as long.
func Axpy(alpha float32, x, y []float32) {
	x = x[:len(y)]
	active.axpy(alpha, x, y)
}

// Dot returns Σ x[i]·y[i] over len(x) elements (y at least as long),
// accumulated in float32.
func Dot(x, y []float32) float32 {
	y = y[:len(x)]
	return active.dot(x, y)
}

// SumSquares returns Σ x[i]² in float64: the vector kernels' float32 sums
// of 1024 elements at a time, added in order.
func SumSquares(x []float32) float64 {
	var s float64
	for i := 0; i < len(x); i += 1024 {
		b := x[i:min(i+1024, len(x))]
		s += float64(Dot(b, b))
	}
	return s
}

// Add computes y += x over len(y) elements.
func Add(x, y []float32) { Axpy(1, x, y) }

// Scale computes x *= alpha.
func Scale(alpha float32, x []float32) { ScaleTo(x, x, alpha) }

// ScaleTo sets y[i] = alpha·x[i] over len(y) elements (x at least as long;
// y may be x).
func ScaleTo(y, x []float32, alpha float32) {
	x = x[:len(y)]
	i0 := 0
	if f := active.scaleTo; f != nil {
		f(y, x, alpha)
		i0 = len(y) &^ 7
	}
	for i := i0; i < len(y); i++ {
		y[i] = alpha * x[i]
	}
}

func axpyGo(alpha float32, x, y []float32) {
	x = x[:len(y)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

func dotGo(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// micro4x4 is the pure-Go micro-kernel: a 4×4 tile of C in 16 scalar
// accumulators.
func micro4x4(kb int, a, b []float32, c []float32, ldc int, add bool) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	a = a[:kb*4]
	b = b[:kb*4]
	for p := 0; p < kb; p++ {
		ap := a[p*4 : p*4+4 : p*4+4]
		bq := b[p*4 : p*4+4 : p*4+4]
		b0, b1, b2, b3 := bq[0], bq[1], bq[2], bq[3]
		a0 := ap[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := ap[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := ap[2]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := ap[3]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	if !add {
		r0, r1, r2, r3 := c[0:4:4], c[ldc:ldc+4:ldc+4], c[2*ldc:2*ldc+4:2*ldc+4], c[3*ldc:3*ldc+4:3*ldc+4]
		r0[0], r0[1], r0[2], r0[3] = 0, 0, 0, 0
		r1[0], r1[1], r1[2], r1[3] = 0, 0, 0, 0
		r2[0], r2[1], r2[2], r2[3] = 0, 0, 0, 0
		r3[0], r3[1], r3[2], r3[3] = 0, 0, 0, 0
	}
	r := c[0:4:4]
	r[0], r[1], r[2], r[3] = r[0]+c00, r[1]+c01, r[2]+c02, r[3]+c03
	r = c[ldc : ldc+4 : ldc+4]
	r[0], r[1], r[2], r[3] = r[0]+c10, r[1]+c11, r[2]+c12, r[3]+c13
	r = c[2*ldc : 2*ldc+4 : 2*ldc+4]
	r[0], r[1], r[2], r[3] = r[0]+c20, r[1]+c21, r[2]+c22, r[3]+c23
	r = c[3*ldc : 3*ldc+4 : 3*ldc+4]
	r[0], r[1], r[2], r[3] = r[0]+c30, r[1]+c31, r[2]+c32, r[3]+c33
}

// bufPools holds scratch buffers by size class: class c has capacity 1<<c,
// so that a small request never takes (and drops) a large buffer. Classes
// of hugeMin floats and more (GEMM packing blocks of megabytes) are kept in
// bigBufs instead, never given back to the garbage collector: they are
// backed by huge pages (Floats), and memory once advised so and then freed
// could be collapsed into huge pages again by the kernel after Go returns
// it. They hold at most as many buffers as were ever in use at once.
var (
	bufPools [48]sync.Pool
	bigMu    sync.Mutex
	bigBufs  [48][]*[]float32
)

// GetBuf returns a scratch buffer of n floats (contents undefined) from a
// pool; give it back with PutBuf when done.
func GetBuf(n int) *[]float32 {
	c := bits.Len(uint(max(n, 1) - 1))
	if 1<<c >= hugeMin {
		bigMu.Lock()
		defer bigMu.Unlock()
		if k := len(bigBufs[c]); k > 0 {
			p := bigBufs[c][k-1]
			bigBufs[c] = bigBufs[c][:k-1]
			*p = (*p)[:n]
			return p
		}
		s := Floats(1 << c)[:n]
		return &s
	}
	if p, ok := bufPools[c].Get().(*[]float32); ok {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n, 1<<c)
	return &s
}

// PutBuf returns a buffer from GetBuf to its pool.
func PutBuf(p *[]float32) {
	c := bits.Len(uint(cap(*p) - 1))
	if 1<<c >= hugeMin {
		bigMu.Lock()
		bigBufs[c] = append(bigBufs[c], p)
		bigMu.Unlock()
		return
	}
	bufPools[c].Put(p)
}

// AdamW applies one Adam (l2 ≠ 0) or AdamW (decay ≠ 1) update to the
// parameters w with gradients g and moments m, v, all the same length:
//
//	g' = g + l2·w;  w = decay·w;  m = β₁m + (1-β₁)g';  v = β₂v + (1-β₂)g'²
//	w -= stepSize·m / (√v·invBC2Sqrt + eps)
//
// with stepSize = η/(1-β₁ᵗ) and invBC2Sqrt = 1/√(1-β₂ᵗ), as torch.optim
// computes it.
func AdamW(w, g, m, v []float32, beta1, beta2, stepSize, invBC2Sqrt, eps, decay, l2 float32) {
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	if active.adamW != nil {
		s := [9]float32{beta1, 1 - beta1, beta2, 1 - beta2, stepSize, invBC2Sqrt, eps, decay, l2}
		n := len(w) &^ 7
		active.adamW(w[:n], g[:n], m[:n], v[:n], &s)
		w, g, m, v = w[n:], g[n:], m[n:], v[n:]
	}
	for j, gj := range g {
		gj += l2 * w[j]
		w[j] *= decay
		m[j] = beta1*m[j] + (1-beta1)*gj
		v[j] = beta2*v[j] + (1-beta2)*gj*gj
		denom := float32(math.Sqrt(float64(v[j])))*invBC2Sqrt + eps
		w[j] -= stepSize * m[j] / denom
	}
}
