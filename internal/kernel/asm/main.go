// Command asm generates moxing's x86-64 kernels with avo. It is its own
// module so that the library never depends on avo. Run it through
// go generate in internal/kernel:
//
//	go generate ./internal/kernel/
//
// It writes sgemm_amd64.s and its Go declarations sgemm_amd64.go.
package main

import (
	"fmt"
	"math"
	"math/bits"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The micro-tiles: rows of C by columns, nr/lanes vector registers per row.
// AVX2's 6×16 keeps 12 accumulators, 2 B vectors and 1 broadcast A value in
// the 16 YMM registers, as BLIS's Haswell kernel; AVX-512's 12×32 keeps 24
// accumulators, 2 B vectors and 2 broadcasts in 28 of the 32 ZMM registers
// (BLIS's Skylake-X kernel, transposed: 14 loads per 24 FMAs).
const unroll = 4 // k steps per loop iteration

// packAhead is how far ahead, in bytes, packBT fetches each of its rows:
// eight blocks of 8 columns. A transposed 3072×768 B packed cold by two
// threads: 33 -> 37 GB/s read (best of 100, alternating in one process).
const packAhead = 256

func main() {
	ConstraintExpr("amd64,!purego")
	sgemmKernel("sgemmKernel6x16", 6, 16, 8, YMM, 6)
	sgemmKernel("sgemmKernel12x32", 12, 32, 16, ZMM, 12)
	// The last rows of a 12-row panel, when M is not a multiple of 12 (32
	// sequences decoding together are panels of 12, 12 and 8 rows).
	sgemmKernel("sgemmKernel8x32s12", 8, 32, 16, ZMM, 12)
	sgemmKernel("sgemmKernel4x32s12", 4, 32, 16, ZMM, 12)
	// The same reading an untransposed B in place (no packing).
	sgemmKernelB("sgemmKernel6x16ldb", 6, 16, 8, YMM, 6, true)
	sgemmKernelB("sgemmKernel12x32ldb", 12, 32, 16, ZMM, 12, true)
	sgemmKernelB("sgemmKernel8x32s12ldb", 8, 32, 16, ZMM, 12, true)
	sgemmKernelB("sgemmKernel4x32s12ldb", 4, 32, 16, ZMM, 12, true)
	sgemmKernelA("sgemmKernel12x32lda", 12, 32, 16, ZMM, false)
	sgemmKernelA("sgemmKernel12x32ldab", 12, 32, 16, ZMM, true)
	packA6()
	packBT("packBT16", 16, false)
	// A 12-row panel of A packs as a transposed B would, 12 wide.
	packBT("packBT12", 12, true)
	packBTInto("addBT12", 12, false, true)
	packAT12()
	copyRows16()
	dot4()
	dotQ8Panels("dotQ8x4AVX2", "dotQ8x4AVX2 is kernel.dotQ8x4Go on AVX2: one block a YMM register.", q8AVX2)
	dotQ8Panels("dotQ8x4AVX512", "dotQ8x4AVX512 is kernel.dotQ8x4Go on AVX-512BW: two blocks a ZMM register.", q8BW)
	dotQ8Panels("dotQ8x4VNNI", "dotQ8x4VNNI is kernel.dotQ8x4Go on AVX-512 VNNI: two blocks a ZMM register.", q8VNNI)
	// IEEE halves widen with VCVTPH2PS (F16C); a bfloat16 is the top half
	// of a float32, so it widens by a zero-extension and a shift.
	dotHalfPanels("dotF16x4AVX2", "dotF16x4AVX2 is kernel.dotHalfGo for IEEE halves on AVX2 and F16C.", false,
		func(m Mem, w VecVirtual) { VCVTPH2PS(m, w) })
	dotHalfPanels("dotBF16x4AVX2", "dotBF16x4AVX2 is kernel.dotHalfGo for bfloat16s on AVX2.", false,
		func(m Mem, w VecVirtual) { VPMOVZXWD(m, w); VPSLLD(U8(16), w, w) })
	dotHalfPanels("dotF16x4AVX512", "dotF16x4AVX512 is dotF16x4AVX2 sixteen values at a time.", true,
		func(m Mem, w VecVirtual) { VCVTPH2PS(m, w) })
	dotHalfPanels("dotBF16x4AVX512", "dotBF16x4AVX512 is dotBF16x4AVX2 sixteen values at a time.", true,
		func(m Mem, w VecVirtual) { VPMOVZXWD(m, w); VPSLLD(U8(16), w, w) })
	axpy4()
	axpy()
	dot()
	softmaxExp()
	gelu()
	geluBackward()
	adamW()
	maxPool2x2()
	maxPool2x2Backward("maxPool2x2BackwardAVX512", true)
	maxPool2x2Backward("maxPool2x2SetBackwardAVX512", false)
	rowMax()
	rowSum()
	addScalar()
	scaleTo()
	relu()
	reluBackward()
	layerNorm()
	fmaPeak("fmaPeakAVX2", 8, YMM)
	fmaPeak("fmaPeakAVX512", 16, ZMM)
	Generate()
}

// sgemmKernel: C[mr×nr] += Ap·Bp for packed panels: Ap holds, for each of k
// steps, astride values of a column of A, of which the first mr are used;
// Bp holds, for each step, nr values of a row of B. C has row stride ldc
// (in elements). Vectors hold lanes floats and come from vec (YMM or ZMM).
func sgemmKernel(name string, mr, nr, lanes int, vec func() VecVirtual, astride int) {
	sgemmKernelAB(name, mr, nr, lanes, vec, astride, false, false)
}

// sgemmKernelB is sgemmKernel; when strided, B is not a packed panel but
// nr columns of a row-major matrix read in place, row stride ldb elements.
func sgemmKernelB(name string, mr, nr, lanes int, vec func() VecVirtual, astride int, strided bool) {
	sgemmKernelAB(name, mr, nr, lanes, vec, astride, false, strided)
}

// sgemmKernelA is sgemmKernelB with mr (a multiple of 4) rows of a
// row-major A read in place, row stride lda elements, instead of a packed
// panel.
func sgemmKernelA(name string, mr, nr, lanes int, vec func() VecVirtual, strided bool) {
	sgemmKernelAB(name, mr, nr, lanes, vec, mr, true, strided)
}

func sgemmKernelAB(name string, mr, nr, lanes int, vec func() VecVirtual, astride int, stridedA, strided bool) {
	vb := 4 * lanes // bytes per vector
	switch {
	case stridedA && strided:
		TEXT(name, NOSPLIT, "func(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, add bool)")
	case stridedA:
		TEXT(name, NOSPLIT, "func(k int, a *float32, lda int, b, c *float32, ldc int, add bool)")
	case strided:
		TEXT(name, NOSPLIT, "func(k int, a, b *float32, ldb int, c *float32, ldc int, add bool)")
	default:
		TEXT(name, NOSPLIT, "func(k int, a, b, c *float32, ldc int, add bool)")
	}
	if stridedA && strided {
		Doc(fmt.Sprintf("%s computes the %d×%d product of %d rows of a row-major a (k columns, row stride lda) and %d columns of a row-major b (k rows, row stride ldb) and adds it into c (row stride ldc), or stores it there when add is false.", name, mr, nr, mr, nr))
	} else if stridedA {
		Doc(fmt.Sprintf("%s computes the %d×%d product of %d rows of a row-major a (k columns, row stride lda) and a packed panel b (k×%d) and adds it into c (row stride ldc), or stores it there when add is false.", name, mr, nr, mr, nr))
	} else if strided {
		Doc(fmt.Sprintf("%s computes the %d×%d product of the first %d rows of a packed panel a (k×%d) and %d columns of a row-major b (k rows, row stride ldb) and adds it into c (row stride ldc), or stores it there when add is false.", name, mr, nr, mr, astride, nr))
	} else if astride == mr {
		Doc(fmt.Sprintf("%s computes the %d×%d product of packed panels a (k×%d) and b (k×%d) and adds it into c (row stride ldc), or stores it there when add is false.", name, mr, nr, mr, nr))
	} else {
		Doc(fmt.Sprintf("%s computes the %d×%d product of the first %d rows of a packed panel a (k×%d) and a panel b (k×%d) and adds it into c (row stride ldc), or stores it there when add is false.", name, mr, nr, mr, astride, nr))
	}
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	// A read in place: a base register for every four rows, addressed with
	// lda and 3·lda as fourRows does.
	var aBase []Register
	var lda, lda3 Register
	if stridedA {
		lda, lda3 = Load(Param("lda"), GP64()), GP64()
		SHLQ(U8(2), lda)
		LEAQ(Mem{Base: lda, Index: lda, Scale: 2}, lda3)
		aBase = []Register{a}
		for q := 4; q < mr; q += 4 {
			r := GP64()
			LEAQ(Mem{Base: aBase[len(aBase)-1], Index: lda, Scale: 4}, r)
			aBase = append(aBase, r)
		}
	}
	aAt := func(s, i int) Mem { // row i of A at step s of an unrolled block
		if stridedA {
			return fourRows(aBase[i/4], lda, lda3, i%4, 4*s)
		}
		return Mem{Base: a, Disp: 4 * (s*astride + i)}
	}
	advanceA := func(steps int) {
		if !stridedA {
			ADDQ(U32(4*steps*astride), a)
			return
		}
		for _, r := range aBase {
			ADDQ(U32(4*steps), r)
		}
	}
	b := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc) // elements → bytes
	var ldb, ldb3 Register
	if strided {
		ldb, ldb3 = Load(Param("ldb"), GP64()), GP64()
		SHLQ(U8(2), ldb)
		LEAQ(Mem{Base: ldb, Index: ldb, Scale: 2}, ldb3)
	}
	bRow := func(s, disp int) Mem { // row s of an unrolled block of B
		if !strided {
			return Mem{Base: b, Disp: 4*s*nr + disp}
		}
		switch s {
		case 0:
			return Mem{Base: b, Disp: disp}
		case 3:
			return Mem{Base: b, Index: ldb3, Scale: 1, Disp: disp}
		}
		return Mem{Base: b, Index: ldb, Scale: uint8(s), Disp: disp}
	}

	Comment("Prefetch the C tile: it is read once, at the end, and is usually not in cache.")
	cp := GP64()
	MOVQ(c, cp)
	for i := 0; i < mr; i++ {
		PREFETCHT0(Mem{Base: cp})
		PREFETCHT0(Mem{Base: cp, Disp: 4*nr - 4})
		if i+1 < mr {
			ADDQ(ldc, cp)
		}
	}

	acc := make([][]VecVirtual, mr)
	for i := range acc {
		acc[i] = make([]VecVirtual, nr/lanes)
		for j := range acc[i] {
			acc[i][j] = vec()
			if lanes == 16 {
				VPXORD(acc[i][j], acc[i][j], acc[i][j]) // VXORPS on ZMM needs AVX512DQ
			} else {
				VXORPS(acc[i][j], acc[i][j], acc[i][j])
			}
		}
	}

	// The next B panel (k·nr floats on) is fetched into L2 as this one is
	// used: when B is a packed weight streaming from memory, the loads of
	// the next call then find it there. A B read in place is fetched into
	// L1 eight rows ahead instead.
	next := GP64()
	if strided { // the rows two iterations on
		LEAQ(Mem{Base: b, Index: ldb, Scale: 8}, next)
	} else {
		MOVQ(k, next)
		SHLQ(U8(bits.TrailingZeros(uint(4*nr))), next)
	}

	step := func(s int) { // one k step at offset s within the unrolled block
		bv := make([]VecVirtual, nr/lanes)
		for j := range bv {
			bv[j] = vec()
			VMOVUPS(bRow(s, 4*lanes*j), bv[j])
		}
		for i := 0; i < mr; i++ {
			av := vec()
			VBROADCASTSS(aAt(s, i), av)
			for j := range bv {
				VFMADD231PS(bv[j], av, acc[i][j])
			}
		}
	}

	Comment("Unrolled main loop")
	Label("unrolled")
	CMPQ(k, U32(unroll))
	JL(LabelRef("tail"))
	if !stridedA {
		PREFETCHT0(Mem{Base: a, Disp: 4 * 4 * unroll * astride}) // A streams from L2: four iterations ahead
	}
	for s := 0; s < unroll; s++ {
		step(s)
		for l := 0; l < 4*nr/64; l++ {
			if strided {
				m := bRow(s, 64*l)
				m.Base = next
				PREFETCHT0(m)
			} else {
				PREFETCHT1(Mem{Base: b, Index: next, Scale: 1, Disp: 4*s*nr + 64*l})
			}
		}
	}
	advanceA(unroll)
	if strided {
		LEAQ(Mem{Base: b, Index: ldb, Scale: 4}, b)
		LEAQ(Mem{Base: next, Index: ldb, Scale: 4}, next)
	} else {
		ADDQ(U32(4*unroll*nr), b)
	}
	SUBQ(U32(unroll), k)
	JMP(LabelRef("unrolled"))

	Label("tail")
	TESTQ(k, k)
	JZ(LabelRef("store"))
	step(0)
	advanceA(1)
	if strided {
		ADDQ(ldb, b)
	} else {
		ADDQ(U32(4*nr), b)
	}
	DECQ(k)
	JMP(LabelRef("tail"))

	Label("store")
	add := Load(Param("add"), GP8())
	TESTB(add, add)
	JZ(LabelRef("overwrite"))
	Comment("C += accumulators")
	for i := 0; i < mr; i++ {
		for j := range acc[i] {
			m := Mem{Base: c, Disp: vb * j}
			VADDPS(m, acc[i][j], acc[i][j])
			VMOVUPS(acc[i][j], m)
		}
		if i+1 < mr {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()

	Comment("C = accumulators")
	Label("overwrite")
	for i := 0; i < mr; i++ {
		for j := range acc[i] {
			VMOVUPS(acc[i][j], Mem{Base: c, Disp: vb * j})
		}
		if i+1 < mr {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
}

// axpy: y += alpha·x over len(y) elements (x at least as long).
func axpy() {
	TEXT("axpyAVX2", NOSPLIT, "func(alpha float32, x, y []float32)")
	Doc("axpyAVX2 computes y += alpha·x over len(y) elements.")
	alpha := Load(Param("alpha"), XMM())
	x := Load(Param("x").Base(), GP64())
	y := Load(Param("y").Base(), GP64())
	n := Load(Param("y").Len(), GP64())
	av := YMM()
	VBROADCASTSS(alpha, av)

	const lanes = 32 // 4 YMM per iteration
	Label("blocks")
	CMPQ(n, U32(lanes))
	JL(LabelRef("tail"))
	for j := 0; j < lanes/8; j++ {
		yv := YMM()
		VMOVUPS(Mem{Base: y, Disp: 32 * j}, yv)
		VFMADD231PS(Mem{Base: x, Disp: 32 * j}, av, yv)
		VMOVUPS(yv, Mem{Base: y, Disp: 32 * j})
	}
	ADDQ(U32(4*lanes), x)
	ADDQ(U32(4*lanes), y)
	SUBQ(U32(lanes), n)
	JMP(LabelRef("blocks"))

	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	ys := XMM()
	VMOVSS(Mem{Base: y}, ys)
	VFMADD231SS(Mem{Base: x}, alpha, ys)
	VMOVSS(ys, Mem{Base: y})
	ADDQ(U32(4), x)
	ADDQ(U32(4), y)
	DECQ(n)
	JMP(LabelRef("tail"))

	Label("done")
	VZEROUPPER()
	RET()
}

// dot: Σ x[i]·y[i] over len(x) elements (y at least as long), in float32
// lanes: 4 YMM accumulators, then a horizontal sum.
func dot() {
	TEXT("dotAVX2", NOSPLIT, "func(x, y []float32) float32")
	Doc("dotAVX2 returns the dot product of x and y[:len(x)], accumulated in float32 lanes.")
	x := Load(Param("x").Base(), GP64())
	y := Load(Param("y").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	const vecs = 4
	var acc [vecs]VecVirtual
	for i := range acc {
		acc[i] = YMM()
		VXORPS(acc[i], acc[i], acc[i])
	}
	Label("blocks")
	CMPQ(n, U32(8*vecs))
	JL(LabelRef("tail"))
	for i := range acc {
		xv := YMM()
		VMOVUPS(Mem{Base: x, Disp: 32 * i}, xv)
		VFMADD231PS(Mem{Base: y, Disp: 32 * i}, xv, acc[i])
	}
	ADDQ(U32(4*8*vecs), x)
	ADDQ(U32(4*8*vecs), y)
	SUBQ(U32(8*vecs), n)
	JMP(LabelRef("blocks"))

	Label("tail")
	tail := XMM()
	VXORPS(tail, tail, tail)
	Label("tailloop")
	TESTQ(n, n)
	JZ(LabelRef("reduce"))
	xs := XMM()
	VMOVSS(Mem{Base: x}, xs)
	VFMADD231SS(Mem{Base: y}, xs, tail)
	ADDQ(U32(4), x)
	ADDQ(U32(4), y)
	DECQ(n)
	JMP(LabelRef("tailloop"))

	Label("reduce")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	r := acc[0].AsX()
	hi := XMM()
	VEXTRACTF128(U8(1), acc[0], hi)
	VADDPS(hi, r, r)
	VADDPS(tail, r, r)
	VHADDPS(r, r, r)
	VHADDPS(r, r, r)
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

// packBT packs rows (16, or 12) rows of a row-major matrix into columns of
// a panel: dst[p*dstride+j] = b[j*ldb+p] for p < k, j < rows, with k a
// multiple of 8 — a transposed B into a B panel, or an untransposed A into
// a 12-row A panel, scaled by alpha (scaled). Each 8×8 block is transposed
// in registers; a group of 4 rows as an 8×8 block with 4 zero rows, of
// which half is stored.
func packBT(name string, rows int, scaled bool) {
	packBTInto(name, rows, scaled, false)
}

// packBTInto is packBT; with add, it adds into dst instead of storing.
func packBTInto(name string, rows int, scaled, add bool) {
	if add {
		TEXT(name, NOSPLIT, "func(k int, b *float32, ldb int, dst *float32, dstride int)")
		Doc(fmt.Sprintf("%s adds b[j*ldb+p] to dst[p*dstride+j] for p < k (a multiple of 8) and j < %d.", name, rows))
	} else if scaled {
		TEXT(name, NOSPLIT, "func(k int, b *float32, ldb int, dst *float32, dstride int, alpha float32)")
		Doc(fmt.Sprintf("%s sets dst[p*dstride+j] = alpha·b[j*ldb+p] for p < k (a multiple of 8) and j < %d.", name, rows))
	} else {
		TEXT(name, NOSPLIT, "func(k int, b *float32, ldb int, dst *float32, dstride int)")
		Doc(fmt.Sprintf("%s sets dst[p*dstride+j] = b[j*ldb+p] for p < k (a multiple of 8) and j < %d.", name, rows))
	}
	k := Load(Param("k"), GP64())
	b := Load(Param("b"), GP64())
	ldb := Load(Param("ldb"), GP64())
	dst := Load(Param("dst"), GP64())
	ds := Load(Param("dstride"), GP64())
	var alpha VecVirtual
	if scaled {
		alpha = YMM()
		VBROADCASTSS(Load(Param("alpha"), XMM()), alpha)
	}
	SHLQ(U8(2), ldb) // bytes
	SHLQ(U8(2), ds)
	ld3 := GP64()
	LEAQ(Mem{Base: ldb, Index: ldb, Scale: 2}, ld3) // 3·ldb
	Label(name + "Block")
	CMPQ(k, U32(8))
	JL(LabelRef(name + "Done"))
	row, out := GP64(), GP64()
	for g := 0; 8*g < rows; g++ { // rows 0-7, then 8-15 (or 8-11)
		n := min(8, rows-8*g) // 8 or 4
		MOVQ(b, row)
		for i := 0; i < 8*g; i++ {
			ADDQ(ldb, row)
		}
		var y [8]VecVirtual
		for i := range y {
			y[i] = YMM()
			if i >= n {
				VXORPS(y[i], y[i], y[i]) // a missing row: its lanes are not stored
				continue
			}
			var m Mem
			switch i % 4 {
			case 0:
				m = Mem{Base: row}
			case 1:
				m = Mem{Base: row, Index: ldb, Scale: 1}
			case 2:
				m = Mem{Base: row, Index: ldb, Scale: 2}
			case 3:
				m = Mem{Base: row, Index: ld3, Scale: 1}
			}
			VMOVUPS(m, y[i])
			m.Disp = packAhead // the rows stream from memory (a weight, mostly)
			PREFETCHT0(m)
			if i%4 == 3 {
				LEAQ(Mem{Base: row, Index: ldb, Scale: 4}, row)
			}
		}
		r := transpose8x8(y)
		MOVQ(dst, out)
		for i := range r {
			if scaled {
				VMULPS(alpha, r[i], r[i])
			}
			if n == 8 {
				if add {
					VADDPS(Mem{Base: out, Disp: 32 * g}, r[i], r[i])
				}
				VMOVUPS(r[i], Mem{Base: out, Disp: 32 * g})
			} else {
				if add {
					VADDPS(Mem{Base: out, Disp: 32 * g}, r[i].AsX(), r[i].AsX())
				}
				VMOVUPS(r[i].AsX(), Mem{Base: out, Disp: 32 * g})
			}
			ADDQ(ds, out)
		}
	}
	Comment("dst moves down 8 rows: out is there already.")
	MOVQ(out, dst)
	ADDQ(U32(32), b)
	SUBQ(U32(8), k)
	JMP(LabelRef(name + "Block"))
	Label(name + "Done")
	VZEROUPPER()
	RET()
}

// copyRows16 copies rows of 16 floats between strided layouts: packing a
// B that is not transposed, 16 columns at a time.
func copyRows16() {
	TEXT("copyRows16AVX", NOSPLIT, "func(k int, src *float32, ld int, dst *float32, dstride int)")
	Doc("copyRows16AVX copies k rows of 16 floats from src (row stride ld) to dst (row stride dstride).")
	k := Load(Param("k"), GP64())
	src := Load(Param("src"), GP64())
	ld := Load(Param("ld"), GP64())
	dst := Load(Param("dst"), GP64())
	ds := Load(Param("dstride"), GP64())
	SHLQ(U8(2), ld)
	SHLQ(U8(2), ds)
	Label("row")
	TESTQ(k, k)
	JZ(LabelRef("done"))
	lo, hi := YMM(), YMM()
	VMOVUPS(Mem{Base: src}, lo)
	VMOVUPS(Mem{Base: src, Disp: 32}, hi)
	VMOVUPS(lo, Mem{Base: dst})
	VMOVUPS(hi, Mem{Base: dst, Disp: 32})
	ADDQ(ld, src)
	ADDQ(ds, dst)
	DECQ(k)
	JMP(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}

// transpose8x8 returns the transpose of the 8×8 block held in y (y[i] is
// row i): result i holds element i of every row.
func transpose8x8(y [8]VecVirtual) [8]VecVirtual {
	var t, u, r [8]VecVirtual
	for i := 0; i < 4; i++ {
		t[2*i], t[2*i+1] = YMM(), YMM()
		VUNPCKLPS(y[2*i+1], y[2*i], t[2*i])
		VUNPCKHPS(y[2*i+1], y[2*i], t[2*i+1])
	}
	for h := 0; h < 2; h++ { // rows 0-3 and 4-7
		base := 4 * h
		for i := 0; i < 2; i++ {
			u[base+2*i], u[base+2*i+1] = YMM(), YMM()
			VSHUFPS(U8(0x44), t[base+i+2], t[base+i], u[base+2*i])
			VSHUFPS(U8(0xEE), t[base+i+2], t[base+i], u[base+2*i+1])
		}
	}
	for i := 0; i < 4; i++ {
		r[i], r[i+4] = YMM(), YMM()
		VPERM2F128(U8(0x20), u[4+i], u[i], r[i])
		VPERM2F128(U8(0x31), u[4+i], u[i], r[i+4])
	}
	return r
}

// packA6 packs 6 rows of a row-major A, scaled by alpha, into a 6-wide
// panel: dst[p*6+i] = alpha·a[i*lda+p] for p < k (a multiple of 8), i < 6.
// Each step's 6 values are written with a 32-byte store, so it writes 8
// bytes past dst[6k]: the caller leaves room.
func packA6() {
	TEXT("packA6", NOSPLIT, "func(k int, a *float32, lda int, dst *float32, alpha float32)")
	Doc("packA6 sets dst[p*6+i] = alpha·a[i*lda+p] for p < k (a multiple of 8) and i < 6, writing 8 bytes past dst[6k].")
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	lda := Load(Param("lda"), GP64())
	dst := Load(Param("dst"), GP64())
	alpha := Load(Param("alpha"), XMM())
	av := YMM()
	VBROADCASTSS(alpha, av)
	SHLQ(U8(2), lda)
	row := GP64()
	Label("block")
	CMPQ(k, U32(8))
	JL(LabelRef("done"))
	MOVQ(a, row)
	var y [8]VecVirtual
	for i := range y {
		y[i] = YMM()
		if i >= 6 {
			VXORPS(y[i], y[i], y[i])
			continue
		}
		VMULPS(Mem{Base: row}, av, y[i])
		if i < 5 {
			ADDQ(lda, row)
		}
	}
	r := transpose8x8(y)
	for i := range r {
		VMOVUPS(r[i], Mem{Base: dst, Disp: 24 * i})
	}
	ADDQ(U32(32), a)
	ADDQ(U32(8*6*4), dst)
	SUBQ(U32(8), k)
	JMP(LabelRef("block"))
	Label("done")
	VZEROUPPER()
	RET()
}

// dot4 computes four dot products that share x: out[j] = Σ_p x[p]·b[j*ldb+p]
// for j < 4 and p < k (a multiple of 8). Loading x once for four rows of B
// is what a matrix-vector product with a (out, in) weight needs.
func dot4() {
	TEXT("dot4AVX2", NOSPLIT, "func(k int, x, b *float32, ldb int, out *[4]float32)")
	Doc("dot4AVX2 sets out[j] = Σ_p x[p]·b[j*ldb+p] for j < 4 and p < k (a multiple of 8).")
	k := Load(Param("k"), GP64())
	x := Load(Param("x"), GP64())
	b := Load(Param("b"), GP64())
	ldb := Load(Param("ldb"), GP64())
	out := Load(Param("out"), GP64())
	SHLQ(U8(2), ldb)
	ld3 := GP64()
	LEAQ(Mem{Base: ldb, Index: ldb, Scale: 2}, ld3)
	var acc [4]VecVirtual
	for j := range acc {
		acc[j] = YMM()
		VXORPS(acc[j], acc[j], acc[j])
	}
	rowMem := func(j, disp int) Mem { return fourRows(b, ldb, ld3, j, disp) }
	Comment("Two accumulators per row: eight independent FMA chains hide the FMA latency.")
	var acc2 [4]VecVirtual
	for j := range acc2 {
		acc2[j] = YMM()
		VXORPS(acc2[j], acc2[j], acc2[j])
	}
	Label("loop16")
	CMPQ(k, U32(16))
	JL(LabelRef("loop8"))
	x0, x1 := YMM(), YMM()
	VMOVUPS(Mem{Base: x}, x0)
	VMOVUPS(Mem{Base: x, Disp: 32}, x1)
	for j := range acc {
		PREFETCHT0(rowMem(j, 1024)) // the rows stream from memory
		VFMADD231PS(rowMem(j, 0), x0, acc[j])
		VFMADD231PS(rowMem(j, 32), x1, acc2[j])
	}
	ADDQ(U32(64), x)
	ADDQ(U32(64), b)
	SUBQ(U32(16), k)
	JMP(LabelRef("loop16"))

	Label("loop8")
	TESTQ(k, k)
	JZ(LabelRef("fold"))
	xv := YMM()
	VMOVUPS(Mem{Base: x}, xv)
	for j := range acc {
		VFMADD231PS(rowMem(j, 0), xv, acc[j])
	}

	Label("fold")
	for j := range acc {
		VADDPS(acc2[j], acc[j], acc[j])
	}

	Label("reduce")
	reduce4(acc, out)
}

// The kinds of Q8_0 dot kernel (see dotQ8Panels).
const (
	q8AVX2 = iota
	q8BW
	q8VNNI
)

// q8PairIdx is VPERMPS's first index for a chunk: lanes 0-7 take scale 0,
// lanes 8-15 scale 1.
func q8PairIdx() Mem {
	if m, ok := consts["q8_pairs"]; ok {
		return m
	}
	m := GLOBL("q8_pairs", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(4*i, U32(i/8))
	}
	consts["q8_pairs"] = m
	return m
}

// q8Ahead is how far ahead of its reads a Q8_0 kernel prefetches, in bytes.
const q8Ahead = 8192

// dotQ8Panels emits a Q8_0 dot kernel: for each of groups groups of four rows of
// kernel.Q8Panels, four dot products with a quantized row (the
// activations, Q8_0 too), stored four floats a group in out, in
// int8 with int32 sums per block, then each block's partial sums in
// float32 times its two scales. The three kinds differ in how they multiply
// signed bytes, four rows at a time:
//   - q8AVX2, as GGML's AVX2 kernel: |w| (unsigned) times x with w's sign
//     (signed) pairwise into int16 (VPMADDUBSW; |q| ≤ 127 keeps it below
//     2^15), pairs of those into int32 (VPMADDWD by ones), a block a YMM;
//   - q8BW, the same two blocks a ZMM: VPSIGNB has no 512-bit form, so x
//     takes w's sign by a masked move of -x where w's sign bit is set
//     (VPMOVB2M), which VPSIGNB's zeroing where w = 0 does not change;
//   - q8VNNI, VPDPBUSD (unsigned by signed bytes, each four summed into an
//     int32) of |x| with w given x's sign by a masked subtraction from
//     zero: one sign mask and one |x| a pair for the four rows.
//
// The ZMM kernels form a chunk's scales sixteen blocks at a time per row
// (one load, one product with x's sixteen) and spread each pair's two over
// the register's halves with VPERMPS, by an index that steps by two.
func dotQ8Panels(name, doc string, kind int) {
	TEXT(name, NOSPLIT, "func(groups, pairs int, xq *int8, xd *float32, wq *int8, wd *float32, out *float32)")
	Doc(doc)
	groups := Load(Param("groups"), GP64())
	wq := Load(Param("wq"), GP64())
	wd := Load(Param("wd"), GP64())
	out := Load(Param("out"), GP64())
	vec, lanes := ZMM, 16
	if kind == q8AVX2 {
		vec, lanes = YMM, 8
	}
	var acc, scl [4]VecVirtual
	for j := range acc {
		acc[j] = vec()
	}
	var ones, zero, idx, twos VecVirtual
	switch kind {
	case q8AVX2, q8BW:
		ones = vec()
		VPBROADCASTW(constU16("q8_ones", 1), ones)
	}
	if kind != q8AVX2 {
		zero, idx, twos = ZMM(), ZMM(), ZMM()
		VPXORD(zero, zero, zero)
		VPBROADCASTD(constU32("q8_twos", 2), twos)
		for j := range scl {
			scl[j] = ZMM()
		}
	}
	n := GP64() // pairs left in this chunk

	Label("group")
	TESTQ(groups, groups)
	JZ(LabelRef("done"))
	pairs := Load(Param("pairs"), GP64())
	xq := Load(Param("xq"), GP64())
	xd := Load(Param("xd"), GP64())
	for j := range acc {
		if lanes == 16 {
			VPXORD(acc[j], acc[j], acc[j])
		} else {
			VXORPS(acc[j], acc[j], acc[j])
		}
	}

	Label("chunk")
	TESTQ(pairs, pairs)
	JZ(LabelRef("reduce"))
	MOVQ(U32(8), n)
	CMPQ(pairs, n)
	CMOVQLT(pairs, n)
	SUBQ(n, pairs)
	if kind != q8AVX2 {
		xs := ZMM()
		VMOVUPS(Mem{Base: xd}, xs)
		for j := range scl {
			VMULPS(Mem{Base: wd, Disp: 64 * j}, xs, scl[j])
		}
		VMOVDQU32(q8PairIdx(), idx)
		ADDQ(U32(64), xd)
		ADDQ(U32(256), wd)
	}
	sd := GP64() // AVX2: the scales of this pair's first block, row 0
	if kind == q8AVX2 {
		MOVQ(wd, sd)
	}

	Label("pair")
	for j := range 4 { // the weights stream from memory: a line per row a pair
		PREFETCHT0(Mem{Base: wq, Disp: q8Ahead + 64*j})
	}
	switch kind {
	case q8AVX2:
		for h := range 2 {
			xv, xs := YMM(), YMM()
			VMOVDQU(Mem{Base: xq, Disp: 32 * h}, xv)
			VBROADCASTSS(Mem{Base: xd, Disp: 4 * h}, xs)
			for j := range acc {
				w, aw, sx, sc := YMM(), YMM(), YMM(), YMM()
				VMOVDQU(Mem{Base: wq, Disp: 64*j + 32*h}, w)
				VPABSB(w, aw)
				VPSIGNB(w, xv, sx)
				VPMADDUBSW(sx, aw, sx) // int16 pairs
				VPMADDWD(ones, sx, sx) // int32 quads
				VCVTDQ2PS(sx, sx)
				VBROADCASTSS(Mem{Base: sd, Disp: 64*j + 4*h}, sc)
				VMULPS(xs, sc, sc)
				VFMADD231PS(sx, sc, acc[j])
			}
		}
		ADDQ(U32(8), xd)
		ADDQ(U32(8), sd)
	default:
		xv, xo := ZMM(), ZMM() // x, and -x (BW) or |x| (VNNI)
		sign := K()
		VMOVDQU64(Mem{Base: xq}, xv)
		if kind == q8BW {
			VPSUBB(xv, zero, xo)
		} else {
			VPMOVB2M(xv, sign)
			VPABSB(xv, xo)
		}
		for j := range acc {
			w, s, sc := ZMM(), ZMM(), ZMM()
			VMOVDQU64(Mem{Base: wq, Disp: 64 * j}, w)
			if kind == q8BW {
				aw, k := ZMM(), K()
				VPABSB(w, aw)
				VPMOVB2M(w, k)
				VMOVDQA64(xv, s)
				VMOVDQU8(xo, k, s)   // x with w's sign
				VPMADDUBSW(s, aw, s) // int16 pairs
				VPMADDWD(ones, s, s) // int32 quads
			} else {
				VPSUBB(w, zero, sign, w) // w with x's sign
				VPXORD(s, s, s)
				VPDPBUSD(w, xo, s) // int32 quads of |x|·w
			}
			VCVTDQ2PS(s, s)
			VPERMPS(scl[j], idx, sc)
			VFMADD231PS(s, sc, acc[j])
		}
		VPADDD(twos, idx, idx)
	}
	ADDQ(U32(64), xq)
	ADDQ(U32(256), wq)
	DECQ(n)
	JNZ(LabelRef("pair"))
	if kind == q8AVX2 { // the next chunk's scales
		LEAQ(Mem{Base: wd, Disp: 256}, wd)
	}
	JMP(LabelRef("chunk"))

	Label("reduce")
	endGroup(acc, lanes == 16, out, groups)
}

// foldZ adds the halves of four ZMM accumulators into YMM registers, for
// reduce4.
func foldZ(acc [4]VecVirtual) [4]VecVirtual {
	var half [4]VecVirtual
	for j := range acc {
		half[j] = YMM()
		VEXTRACTF64X4(U8(1), acc[j], half[j])
		VADDPS(acc[j].AsY(), half[j], half[j])
	}
	return half
}

// dotHalfPanels emits a 16-bit dot kernel: for each of groups groups of
// four rows of kernel.F16 panels (steps of sixteen values, each the four
// rows' sixteen one after the other), four dot products with a float32
// row x, stored four floats a group in out. widen loads values from
// memory into float32 lanes: eight into a YMM register (AVX2), sixteen
// into a ZMM one.
func dotHalfPanels(name, doc string, zmm bool, widen func(m Mem, w VecVirtual)) {
	TEXT(name, NOSPLIT, "func(groups, steps int, x *float32, b *uint16, out *float32)")
	Doc(doc)
	groups := Load(Param("groups"), GP64())
	b := Load(Param("b"), GP64())
	out := Load(Param("out"), GP64())
	vec, lanes := YMM, 8
	if zmm {
		vec, lanes = ZMM, 16
	}
	var acc [4]VecVirtual
	for j := range acc {
		acc[j] = vec()
	}

	Label("group")
	TESTQ(groups, groups)
	JZ(LabelRef("done"))
	steps := Load(Param("steps"), GP64())
	x := Load(Param("x"), GP64())
	for j := range acc {
		if zmm {
			VPXORD(acc[j], acc[j], acc[j])
		} else {
			VXORPS(acc[j], acc[j], acc[j])
		}
	}
	Label("step")
	PREFETCHT0(Mem{Base: b, Disp: q8Ahead}) // the rows stream from memory
	PREFETCHT0(Mem{Base: b, Disp: q8Ahead + 64})
	for h := 0; h < 16/lanes; h++ {
		xv := vec()
		VMOVUPS(Mem{Base: x, Disp: 4 * lanes * h}, xv)
		for j := range acc {
			w := vec()
			widen(Mem{Base: b, Disp: 32*j + 2*lanes*h}, w)
			VFMADD231PS(w, xv, acc[j])
		}
	}
	ADDQ(U32(64), x)
	ADDQ(U32(128), b)
	DECQ(steps)
	JNZ(LabelRef("step"))
	endGroup(acc, zmm, out, groups)
}

// endGroup ends a panel kernel's loop over groups of four rows: the four
// sums stored at out, out advanced, back to "group" for the next one, and
// the return at "done".
func endGroup(acc [4]VecVirtual, zmm bool, out, groups Register) {
	if zmm {
		store4(foldZ(acc), out)
	} else {
		store4(acc, out)
	}
	ADDQ(U32(16), out)
	DECQ(groups)
	JMP(LabelRef("group"))

	Label("done")
	VZEROUPPER()
	RET()
}

// reduce4 stores the sums of the four accumulators' lanes in out[0:4] and
// returns.
func reduce4(acc [4]VecVirtual, out Register) {
	store4(acc, out)
	VZEROUPPER()
	RET()
}

// store4 stores the sums of the four accumulators' lanes in out[0:4].
func store4(acc [4]VecVirtual, out Register) {
	h01, h23 := YMM(), YMM()
	VHADDPS(acc[1], acc[0], h01) // per lane: a0 a0 a1 a1 (pairwise sums)
	VHADDPS(acc[3], acc[2], h23)
	h := YMM()
	VHADDPS(h23, h01, h) // per lane: a0 a1 a2 a3
	hi := XMM()
	VEXTRACTF128(U8(1), h, hi)
	VADDPS(hi, h.AsX(), hi)
	VMOVUPS(hi, Mem{Base: out})
}

// constU16 returns a 2-byte constant in the data section.
func constU16(name string, v uint16) Mem {
	if m, ok := consts[name]; ok {
		return m
	}
	m := ConstData(name, U16(v))
	consts[name] = m
	return m
}

// axpy4: y += x[0]·B[0] + … + x[3]·B[3] over four rows of B, so that y is
// loaded and stored once per four rows (a plain AXPY per row stores y for
// every row of B) while B is still read row by row, as the prefetchers like.
func axpy4() {
	TEXT("axpy4AVX2", NOSPLIT, "func(n int, x, b *float32, ldb int, y *float32)")
	Doc("axpy4AVX2 adds Σ_{q<4} x[q]·b[q*ldb+j] to y[j] for j < n (a multiple of 8).")
	n := Load(Param("n"), GP64())
	x := Load(Param("x"), GP64())
	b := Load(Param("b"), GP64())
	ldb := Load(Param("ldb"), GP64())
	y := Load(Param("y"), GP64())
	SHLQ(U8(2), ldb)
	ld3 := GP64()
	LEAQ(Mem{Base: ldb, Index: ldb, Scale: 2}, ld3)
	var s [4]VecVirtual
	for q := range s {
		s[q] = YMM()
		VBROADCASTSS(Mem{Base: x, Disp: 4 * q}, s[q])
	}
	row := func(q, disp int) Mem { return fourRows(b, ldb, ld3, q, disp) }
	step := func(vecs int) {
		for v := 0; v < vecs; v++ {
			yv := YMM()
			VMOVUPS(Mem{Base: y, Disp: 32 * v}, yv)
			for q := range s {
				VFMADD231PS(row(q, 32*v), s[q], yv)
			}
			VMOVUPS(yv, Mem{Base: y, Disp: 32 * v})
		}
		ADDQ(U32(32*vecs), b)
		ADDQ(U32(32*vecs), y)
		SUBQ(U32(8*vecs), n)
	}
	Label("blocks")
	CMPQ(n, U32(32))
	JL(LabelRef("tail"))
	for q := range s { // the rows stream from memory: fetch 1 KB ahead
		PREFETCHT0(row(q, 1024))
		PREFETCHT0(row(q, 1024+64))
	}
	step(4)
	JMP(LabelRef("blocks"))
	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	step(1)
	JMP(LabelRef("tail"))
	Label("done")
	VZEROUPPER()
	RET()
}

// fourRows addresses row q < 4 of a matrix at base with row stride ld bytes
// (ld3 = 3·ld), disp bytes in: one register holds the base for four rows.
func fourRows(base, ld, ld3 Register, q, disp int) Mem {
	switch q {
	case 0:
		return Mem{Base: base, Disp: disp}
	case 1:
		return Mem{Base: base, Index: ld, Scale: 1, Disp: disp}
	case 2:
		return Mem{Base: base, Index: ld, Scale: 2, Disp: disp}
	}
	return Mem{Base: base, Index: ld3, Scale: 1, Disp: disp}
}

var consts = map[string]Mem{}

// f32 returns a 4-byte constant in the data section (one symbol per name).
func f32(name string, v float32) Mem { return constU32(name, math.Float32bits(v)) }

func constU32(name string, v uint32) Mem {
	if m, ok := consts[name]; ok {
		return m
	}
	m := ConstData(name, U32(v))
	consts[name] = m
	return m
}

// expPS returns e^x for 8 lanes, Cephes-style: x = n·ln2 + r with n an
// integer, e^r from a degree-5 polynomial, 2^n built in the exponent bits.
// Relative error about 1e-7. Inputs are clamped to ±88.376: very negative
// inputs (and -Inf) give 0 or nearly, very positive ones saturate at about
// 2.4e38 instead of +Inf; NaN stays NaN. x is overwritten.
func expPS(x VecVirtual) VecVirtual {
	bc := func(name string, v float32) VecVirtual {
		r := YMM()
		VBROADCASTSS(f32(name, v), r)
		return r
	}
	hi, lo := bc("exp_hi", 88.3762626647949), bc("exp_lo", -88.3762626647949)
	VMINPS(x, hi, x) // NaN in x is returned as is
	VMAXPS(x, lo, x)
	fx := YMM()
	VMOVAPS(x, fx)
	VFMADD213PS(bc("exp_half", 0.5), bc("exp_log2e", 1.44269504088896341), fx) // x·log2(e) + ½
	VROUNDPS(U8(9), fx, fx)                                                    // floor
	VFNMADD231PS(bc("exp_c1", 0.693359375), fx, x)                             // r = x - n·ln2, in two parts
	VFNMADD231PS(bc("exp_c2", -2.12194440e-4), fx, x)
	z := YMM()
	VMULPS(x, x, z)
	y := bc("exp_p0", 1.9875691500e-4)
	for i, c := range []float32{1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1} {
		VFMADD213PS(bc(fmt.Sprintf("exp_p%d", i+1), c), x, y)
	}
	VFMADD213PS(x, z, y) // y·r² + r
	VADDPS(bc("exp_one", 1), y, y)
	n := YMM()
	VCVTTPS2DQ(fx, n)
	bias := YMM()
	VPBROADCASTD(constU32("exp_bias", 127), bias)
	VPADDD(bias, n, n)
	return powScale(n, y)
}

// powScale multiplies y by 2^n for integer lanes n (already biased by 127).
func powScale(n, y VecVirtual) VecVirtual {
	VPSLLD(U8(23), n, n)
	VMULPS(n, y, y)
	return y
}

// softmaxExp: dst[i] = e^(src[i]-shift) for i < len(src) rounded down to 8,
// returning their sum (in float32 lanes). The caller does the tail.
func softmaxExp() {
	TEXT("softmaxExpAVX2", NOSPLIT, "func(dst, src []float32, shift float32) float32")
	Doc("softmaxExpAVX2 sets dst[i] = exp(src[i]-shift) for i < len(src)&^7 and returns their sum.")
	dst := Load(Param("dst").Base(), GP64())
	src := Load(Param("src").Base(), GP64())
	n := Load(Param("src").Len(), GP64())
	sh := Load(Param("shift"), XMM())
	shv := YMM()
	VBROADCASTSS(sh, shv)
	sum := YMM()
	VXORPS(sum, sum, sum)
	Label("loop")
	CMPQ(n, U32(8))
	JL(LabelRef("done"))
	x := YMM()
	VMOVUPS(Mem{Base: src}, x)
	VSUBPS(shv, x, x)
	e := expPS(x)
	VMOVUPS(e, Mem{Base: dst})
	VADDPS(e, sum, sum)
	ADDQ(U32(32), src)
	ADDQ(U32(32), dst)
	SUBQ(U32(8), n)
	JMP(LabelRef("loop"))
	Label("done")
	r := sum.AsX()
	hi := XMM()
	VEXTRACTF128(U8(1), sum, hi)
	VADDPS(hi, r, r)
	VHADDPS(r, r, r)
	VHADDPS(r, r, r)
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

// clamp10 returns x limited to [-10, 10] (NaN stays NaN). Beyond that
// range σ(2u) is 0 or 1 to float32 precision, and x³ would overflow.
func clamp10(x VecVirtual) VecVirtual {
	c := YMM()
	lim := YMM()
	VBROADCASTSS(f32("gelu_lim", 10), lim)
	VMINPS(x, lim, c)
	VBROADCASTSS(f32("gelu_neglim", -10), lim)
	VMAXPS(c, lim, c)
	return c
}

// sigmoid2u returns s = σ(2u) = e/(1+e), e = exp(2u), for u = √(2/π)·(x + 0.044715·x³):
// GELU(x) = x·s. x should be clamped (clamp10); it is left intact.
func sigmoid2u(x VecVirtual) VecVirtual {
	x2 := YMM()
	VMULPS(x, x, x2)
	u := YMM()
	VBROADCASTSS(f32("gelu_a", 0.044715), u)
	VMULPS(x2, u, u) // a·x²
	VFMADD213PS(x, x, u)
	c2 := YMM()
	VBROADCASTSS(f32("gelu_2c", 2*0.7978845608028654), c2)
	VMULPS(c2, u, u) // 2u
	e := expPS(u)
	d := YMM()
	VBROADCASTSS(f32("gelu_one", 1), d)
	VADDPS(e, d, d)
	VDIVPS(d, e, e) // e/(1+e)
	return e
}

// gelu: y = x·σ(2u) over len(x) rounded down to 8 (the tail is the caller's).
func gelu() {
	TEXT("geluAVX2", NOSPLIT, "func(y, x []float32)")
	Doc("geluAVX2 sets y[i] = GELU(x[i]) (tanh approximation) for i < len(x)&^7.")
	y := Load(Param("y").Base(), GP64())
	x := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	Label("loop")
	CMPQ(n, U32(8))
	JL(LabelRef("done"))
	xv := YMM()
	VMOVUPS(Mem{Base: x}, xv)
	s := sigmoid2u(clamp10(xv))
	VMULPS(xv, s, s)
	VMOVUPS(s, Mem{Base: y})
	ADDQ(U32(32), x)
	ADDQ(U32(32), y)
	SUBQ(U32(8), n)
	JMP(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// geluBackward: dx += dy·GELU'(x), GELU'(x) = s + 2·x·s·(1-s)·√(2/π)·(1 + 3·0.044715·x²)
// with s = σ(2u), over len(x) rounded down to 8.
func geluBackward() {
	TEXT("geluBackwardAVX2", NOSPLIT, "func(dx, dy, x []float32)")
	Doc("geluBackwardAVX2 adds dy[i]·GELU'(x[i]) into dx[i] for i < len(x)&^7.")
	dx := Load(Param("dx").Base(), GP64())
	dy := Load(Param("dy").Base(), GP64())
	x := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	Label("loop")
	CMPQ(n, U32(8))
	JL(LabelRef("done"))
	xv := YMM()
	VMOVUPS(Mem{Base: x}, xv)
	xv = clamp10(xv) // the second term vanishes beyond ±10
	s := sigmoid2u(xv)
	// q = 1 + 3a·x²
	q := YMM()
	VMULPS(xv, xv, q)
	k := YMM()
	VBROADCASTSS(f32("gelu_3a", 3*0.044715), k)
	one := YMM()
	VBROADCASTSS(f32("gelu_one", 1), one)
	VFMADD213PS(one, k, q) // q = 3a·x² + 1
	// t = 2c·x·s·(1-s)·q
	oms := YMM()
	VSUBPS(s, one, oms) // 1 - s
	t := YMM()
	VMULPS(oms, s, t)
	VMULPS(xv, t, t)
	VMULPS(q, t, t)
	VBROADCASTSS(f32("gelu_2c", 2*0.7978845608028654), k)
	VMULPS(k, t, t)
	VADDPS(s, t, t) // GELU'(x)
	g := YMM()
	VMOVUPS(Mem{Base: dx}, g)
	VFMADD231PS(Mem{Base: dy}, t, g)
	VMOVUPS(g, Mem{Base: dx})
	ADDQ(U32(32), x)
	ADDQ(U32(32), dx)
	ADDQ(U32(32), dy)
	SUBQ(U32(8), n)
	JMP(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// adamW: the Adam/AdamW update of n parameters, 8 at a time (n a multiple
// of 8; the caller does the tail). s holds the step's scalars:
// s[0] = β₁, s[1] = 1-β₁, s[2] = β₂, s[3] = 1-β₂, s[4] = η/(1-β₁ᵗ),
// s[5] = 1/√(1-β₂ᵗ), s[6] = ε, s[7] = decoupled decay factor (1-ηλ),
// s[8] = L2 coefficient λ (0 for AdamW). Per element:
//
//	g += s8·w;  w *= s7;  m = s0·m + s1·g;  v = s2·v + s3·g²;  w -= s4·m/(√v·s5 + s6)
func adamW() {
	TEXT("adamWAVX2", NOSPLIT, "func(w, g, m, v []float32, s *[9]float32)")
	Doc("adamWAVX2 applies one Adam/AdamW update to len(w)&^7 parameters; see the generator for the scalars.")
	w := Load(Param("w").Base(), GP64())
	g := Load(Param("g").Base(), GP64())
	m := Load(Param("m").Base(), GP64())
	v := Load(Param("v").Base(), GP64())
	n := Load(Param("w").Len(), GP64())
	sp := Load(Param("s"), GP64())
	var c [9]VecVirtual
	for i := range c {
		c[i] = YMM()
		VBROADCASTSS(Mem{Base: sp, Disp: 4 * i}, c[i])
	}
	Label("loop")
	CMPQ(n, U32(8))
	JL(LabelRef("done"))
	wv, gv, mv, vv := YMM(), YMM(), YMM(), YMM()
	VMOVUPS(Mem{Base: w}, wv)
	VMOVUPS(Mem{Base: g}, gv)
	VFMADD231PS(wv, c[8], gv) // g += λ·w (Adam's L2)
	VMULPS(c[7], wv, wv)      // w *= 1-ηλ (AdamW)
	VMULPS(Mem{Base: m}, c[0], mv)
	VFMADD231PS(gv, c[1], mv) // m = β₁m + (1-β₁)g
	VMOVUPS(mv, Mem{Base: m})
	VMULPS(gv, gv, gv)
	VMULPS(Mem{Base: v}, c[2], vv)
	VFMADD231PS(gv, c[3], vv) // v = β₂v + (1-β₂)g²
	VMOVUPS(vv, Mem{Base: v})
	den := YMM()
	VSQRTPS(vv, den)
	VFMADD213PS(c[6], c[5], den) // √v/√(1-β₂ᵗ) + ε
	upd := YMM()
	VMULPS(c[4], mv, upd)
	VDIVPS(den, upd, upd)
	VSUBPS(upd, wv, wv)
	VMOVUPS(wv, Mem{Base: w})
	for _, r := range []Register{w, g, m, v} {
		ADDQ(U32(32), r)
	}
	SUBQ(U32(8), n)
	JMP(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// poolTables returns the 2×2 pooling kernels' constants: the indices that
// pick the even and the odd elements of two ZMM registers (32 floats), the
// ones that interleave two registers' first and last eight elements, and
// masks of the first n lanes, n = 0…16, as uint16s.
func poolTables() (even, odd, lo, hi, masks Mem) {
	if _, ok := consts["pool_even"]; ok {
		return consts["pool_even"], consts["pool_odd"], consts["pool_lo"], consts["pool_hi"], consts["pool_masks"]
	}
	table := func(name string, f func(i int) int) Mem {
		m := GLOBL(name, RODATA|NOPTR)
		for i := 0; i < 16; i++ {
			DATA(4*i, U32(f(i)))
		}
		consts[name] = m
		return m
	}
	even = table("pool_even", func(i int) int { return 2 * i })
	odd = table("pool_odd", func(i int) int { return 2*i + 1 })
	lo = table("pool_lo", func(i int) int { return i/2 + 16*(i%2) })
	hi = table("pool_hi", func(i int) int { return 8 + i/2 + 16*(i%2) })
	masks = GLOBL("pool_masks", RODATA|NOPTR)
	for n := 0; n <= 16; n++ {
		DATA(2*n, U16(uint16(1<<n-1)))
	}
	consts["pool_masks"] = masks
	return even, odd, lo, hi, masks
}

// poolChunk sets, for a row of c values left (c > 0), the masks of the
// chunk's first and second 16 inputs and of its outputs, and returns a
// register holding the chunk's inputs: up to 32 (16 outputs).
func poolChunk(masks Register, c Register, k0, k1, ko Op) Register {
	n, m16, r := GP64(), GP64(), GP64()
	MOVQ(U32(32), n)
	CMPQ(c, n)
	CMOVQLT(c, n) // n = min(c, 32)
	MOVQ(U32(16), m16)
	CMPQ(n, m16)
	CMOVQLT(n, m16) // min(n, 16)
	KMOVW(Mem{Base: masks, Index: m16, Scale: 2}, k0)
	MOVQ(n, r)
	SUBQ(m16, r)
	KMOVW(Mem{Base: masks, Index: r, Scale: 2}, k1)
	MOVQ(n, r)
	SHRQ(U8(1), r)
	KMOVW(Mem{Base: masks, Index: r, Scale: 2}, ko)
	return n
}

// maxNaN sets d = max(a, b), NaN when either is (VMAXPS alone returns b
// when either is NaN, dropping a NaN in a).
func maxNaN(a, b, d VecVirtual) {
	k := K()
	VMAXPS(b, a, d)
	VCMPPS(U8(3), a, a, k) // unordered: a is NaN
	VMOVAPS(a, k, d)
}

// evenOdd returns the even and the odd elements of the 32 floats in v0, v1.
func evenOdd(v0, v1, even, odd VecVirtual) (e, o VecVirtual) {
	e, o = ZMM(), ZMM()
	VMOVAPS(even, e)
	VPERMI2PS(v1, v0, e)
	VMOVAPS(odd, o)
	VPERMI2PS(v1, v0, o)
	return e, o
}

// poolRows emits the 2×2 pooling kernels' loops and returns the masks
// register: over pairs of rows w floats wide (wb bytes), and within a pair
// over chunks of up to 32 inputs. chunk emits the work of one chunk, of n
// inputs (a register) under the input masks k0, k1 and output mask ko,
// and moves the kernel's pointers on by n inputs; next moves the input
// pointers from the end of a pair's first row to the start of the next pair.
func poolRows(pairs, wb Register, chunk func(n Register, k0, k1, ko Op), next func()) {
	_, _, _, _, masksM := poolTables()
	masks := GP64()
	LEAQ(masksM, masks)
	k0, k1, ko := K(), K(), K()
	Label("pair")
	TESTQ(pairs, pairs)
	JZ(LabelRef("done"))
	c := GP64()
	MOVQ(wb, c)
	SHRQ(U8(2), c)
	Label("chunk")
	n := poolChunk(masks, c, k0, k1, ko)
	chunk(n, k0, k1, ko)
	SUBQ(n, c)
	JNZ(LabelRef("chunk"))
	next()
	DECQ(pairs)
	JMP(LabelRef("pair"))
	Label("done")
	VZEROUPPER()
	RET()
}

// maxPool2x2: 2×2 max pooling with stride 2 over pairs of rows, 32 inputs
// (16 outputs) at a time, the last chunk of a row under masks.
func maxPool2x2() {
	TEXT("maxPool2x2AVX512", NOSPLIT, "func(dst, src *float32, pairs, w int)")
	Doc("maxPool2x2AVX512 sets dst[r·w/2 + q] to the largest of src[2r·w + 2q + {0, 1, w, w+1}] (NaN if any is)",
		"for r < pairs and q < w/2; w is even and positive.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	pairs := Load(Param("pairs"), GP64())
	wb := Load(Param("w"), GP64())
	SHLQ(U8(2), wb) // a row, in bytes
	evenM, oddM, _, _, _ := poolTables()
	even, odd := ZMM(), ZMM()
	VMOVUPS(evenM, even)
	VMOVUPS(oddM, odd)
	poolRows(pairs, wb, func(n Register, k0, k1, ko Op) {
		a0, a1, b0, b1 := ZMM(), ZMM(), ZMM(), ZMM()
		VMOVUPS_Z(Mem{Base: src}, k0, a0)
		VMOVUPS_Z(Mem{Base: src, Disp: 64}, k1, a1)
		VMOVUPS_Z(Mem{Base: src, Index: wb, Scale: 1}, k0, b0)
		VMOVUPS_Z(Mem{Base: src, Index: wb, Scale: 1, Disp: 64}, k1, b1)
		v0, v1 := ZMM(), ZMM()
		maxNaN(a0, b0, v0)
		maxNaN(a1, b1, v1)
		e, o := evenOdd(v0, v1, even, odd)
		r := ZMM()
		maxNaN(e, o, r)
		VMOVUPS(r, ko, Mem{Base: dst})
		LEAQ(Mem{Base: src, Index: n, Scale: 4}, src)
		LEAQ(Mem{Base: dst, Index: n, Scale: 2}, dst) // n/2 outputs
	}, func() { ADDQ(wb, src) })
}

// maxPool2x2Backward: the gradient of maxPool2x2, each output's to the
// first of its four inputs that equals it (the last when none does, as
// for NaN), 16 outputs at a time: added into gx, or (add false) written
// over it, zeros included, without reading it.
func maxPool2x2Backward(name string, add bool) {
	TEXT(name, NOSPLIT, "func(gx, gy, src, y *float32, pairs, w int)")
	verb := "adds gy[r·w/2 + q] to gx"
	if !add {
		verb = "sets the 2×2 windows of gx to gy[r·w/2 + q]"
	}
	Doc(name+" "+verb+" at the first of the offsets 2r·w + 2q + {0, 1, w, w+1}",
		"where src equals y[r·w/2 + q] (the last when none does; the others 0), for r < pairs and q < w/2; w is even and positive.")
	gx := Load(Param("gx"), GP64())
	gy := Load(Param("gy"), GP64())
	src := Load(Param("src"), GP64())
	y := Load(Param("y"), GP64())
	pairs := Load(Param("pairs"), GP64())
	wb := Load(Param("w"), GP64())
	SHLQ(U8(2), wb)
	evenM, oddM, loM, hiM, _ := poolTables()
	even, odd, lo, hi := ZMM(), ZMM(), ZMM(), ZMM()
	VMOVUPS(evenM, even)
	VMOVUPS(oddM, odd)
	VMOVUPS(loM, lo)
	VMOVUPS(hiM, hi)
	rowAt := func(base Register, row int) Mem {
		if row == 1 {
			return Mem{Base: base, Index: wb, Scale: 1}
		}
		return Mem{Base: base}
	}
	poolRows(pairs, wb, func(n Register, k0, k1, ko Op) {
		best, grad := ZMM(), ZMM()
		VMOVUPS_Z(Mem{Base: y}, ko, best)
		VMOVUPS_Z(Mem{Base: gy}, ko, grad)
		// The four candidates of each output: row 0 even and odd, row 1
		// even and odd.
		var cand [4]VecVirtual
		for row := 0; row < 2; row++ {
			a, b := ZMM(), ZMM()
			VMOVUPS_Z(rowAt(src, row), k0, a)
			VMOVUPS_Z(rowAt(src, row).Offset(64), k1, b)
			cand[2*row], cand[2*row+1] = evenOdd(a, b, even, odd)
		}
		// part[i]: the gradient where candidate i is the first to equal
		// the maximum; the last candidate takes what is left.
		var part [4]VecVirtual
		taken, eq := K(), K()
		for i := range part {
			part[i] = ZMM()
			switch i {
			case 0:
				VCMPPS(U8(0), best, cand[i], taken) // equal (ordered)
				VMOVAPS_Z(grad, taken, part[i])
			case 3:
				KNOTW(taken, eq)
				VMOVAPS_Z(grad, eq, part[i])
			default:
				VCMPPS(U8(0), best, cand[i], eq)
				KANDNW(eq, taken, eq) // equal, and no earlier one was
				VMOVAPS_Z(grad, eq, part[i])
				KORW(eq, taken, taken)
			}
		}
		for row := 0; row < 2; row++ {
			at := rowAt(gx, row)
			l, h := ZMM(), ZMM()
			VMOVAPS(lo, l)
			VPERMI2PS(part[2*row+1], part[2*row], l) // the row's first 16: even, odd interleaved
			VMOVAPS(hi, h)
			VPERMI2PS(part[2*row+1], part[2*row], h)
			if add {
				x0, x1 := ZMM(), ZMM()
				VMOVUPS_Z(at, k0, x0)
				VMOVUPS_Z(at.Offset(64), k1, x1)
				VADDPS(x0, l, l)
				VADDPS(x1, h, h)
			}
			VMOVUPS(l, k0, at)
			VMOVUPS(h, k1, at.Offset(64))
		}
		LEAQ(Mem{Base: src, Index: n, Scale: 4}, src)
		LEAQ(Mem{Base: gx, Index: n, Scale: 4}, gx)
		LEAQ(Mem{Base: y, Index: n, Scale: 2}, y)
		LEAQ(Mem{Base: gy, Index: n, Scale: 2}, gy)
	}, func() {
		ADDQ(wb, src)
		ADDQ(wb, gx)
	})
}

// rowLoop emits a loop over n floats from x, 32 a step (four YMM
// registers, each handed to step with its index), then 8 a step while 8
// are left; it leaves in n the count it did not reach (< 8), and x past
// what it did.
func rowLoop(x, n Register, step func(i int, at Mem)) {
	Label("blocks")
	CMPQ(n, U32(32))
	JL(LabelRef("eights"))
	for i := 0; i < 4; i++ {
		step(i, Mem{Base: x, Disp: 32 * i})
	}
	ADDQ(U32(128), x)
	SUBQ(U32(32), n)
	JMP(LabelRef("blocks"))
	Label("eights")
	CMPQ(n, U32(8))
	JL(LabelRef("reduce"))
	step(0, Mem{Base: x})
	ADDQ(U32(32), x)
	SUBQ(U32(8), n)
	JMP(LabelRef("eights"))
	Label("reduce")
}

// horizontal folds four YMM registers with op and returns the result's
// lowest lane register, every lane holding the fold of all 32.
func horizontal(acc [4]VecVirtual, op func(a, b, d Op)) Register {
	op(acc[1], acc[0], acc[0])
	op(acc[3], acc[2], acc[2])
	op(acc[2], acc[0], acc[0])
	r := acc[0].AsX()
	t := XMM()
	VEXTRACTF128(U8(1), acc[0], t)
	op(t, r, r)
	VPERMILPS(U8(0x4e), r, t) // swap the 64-bit halves
	op(t, r, r)
	VPERMILPS(U8(0xb1), r, t) // swap neighbours
	op(t, r, r)
	return r
}

// rowMax: the largest of x[:len(x)&^7], with whether any of them is NaN
// (VMAXPS drops NaNs; they are tracked by a separate unordered compare).
func rowMax() {
	TEXT("rowMaxAVX2", NOSPLIT, "func(x []float32) (max float32, nan bool)")
	Doc("rowMaxAVX2 returns the largest of x[:len(x)&^7] (-Inf for none) and whether any of them is NaN.")
	x := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	var acc [4]VecVirtual
	ninf := f32("neg_inf", float32(math.Inf(-1)))
	for i := range acc {
		acc[i] = YMM()
		VBROADCASTSS(ninf, acc[i])
	}
	nan := YMM()
	VXORPS(nan, nan, nan)
	rowLoop(x, n, func(i int, at Mem) {
		v, u := YMM(), YMM()
		VMOVUPS(at, v)
		VCMPPS(U8(3), v, v, u) // unordered: NaN lanes
		VORPS(u, nan, nan)
		VMAXPS(acc[i], v, acc[i])
	})
	r := horizontal(acc, func(a, b, d Op) { VMAXPS(a, b, d) })
	flag := GP32()
	VMOVMSKPS(nan, flag)
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	TESTL(flag, flag)
	SETNE(flag.As8())
	Store(flag.As8(), ReturnIndex(1))
	RET()
}

// rowSum: Σ x[:len(x)&^7] in four YMM accumulators.
func rowSum() {
	TEXT("rowSumAVX2", NOSPLIT, "func(x []float32) float32")
	Doc("rowSumAVX2 returns the sum of x[:len(x)&^7], accumulated in float32 lanes.")
	x := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	var acc [4]VecVirtual
	for i := range acc {
		acc[i] = YMM()
		VXORPS(acc[i], acc[i], acc[i])
	}
	rowLoop(x, n, func(i int, at Mem) { VADDPS(at, acc[i], acc[i]) })
	r := horizontal(acc, func(a, b, d Op) { VADDPS(a, b, d) })
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

// addScalar: y = x + c over len(y)&^7 elements.
func addScalar() {
	TEXT("addScalarAVX2", NOSPLIT, "func(y, x []float32, c float32)")
	Doc("addScalarAVX2 sets y[i] = x[i] + c for i < len(y)&^7; x is at least as long.")
	y := Load(Param("y").Base(), GP64())
	x := Load(Param("x").Base(), GP64())
	n := Load(Param("y").Len(), GP64())
	cv := YMM()
	VBROADCASTSS(Load(Param("c"), XMM()), cv)
	SUBQ(x, y) // y as an offset from x: one pointer moves
	rowLoop(x, n, func(i int, at Mem) {
		v := YMM()
		VADDPS(at, cv, v)
		VMOVUPS(v, Mem{Base: x, Index: y, Scale: 1, Disp: at.Disp})
	})
	VZEROUPPER()
	RET()
}

// relu: y = max(x, 0) over len(y)&^7 elements, as Go's max: +0 for ±0,
// NaN kept (VMAXPS alone returns its second source, 0, for NaN).
func relu() {
	TEXT("reluAVX2", NOSPLIT, "func(y, x []float32)")
	Doc("reluAVX2 sets y[i] = max(x[i], 0) (+0 for -0, NaN stays NaN) for i < len(y)&^7; x is at least as long.")
	y := Load(Param("y").Base(), GP64())
	x := Load(Param("x").Base(), GP64())
	n := Load(Param("y").Len(), GP64())
	zero := YMM()
	VXORPS(zero, zero, zero)
	SUBQ(x, y) // y as an offset from x: one pointer moves
	rowLoop(x, n, func(i int, at Mem) {
		v, r, u := YMM(), YMM(), YMM()
		VMOVUPS(at, v)
		VMAXPS(zero, v, r)
		VCMPPS(U8(3), v, v, u) // unordered: NaN lanes
		VBLENDVPS(u, v, r, r)
		VMOVUPS(r, Mem{Base: x, Index: y, Scale: 1, Disp: at.Disp})
	})
	VZEROUPPER()
	RET()
}

// reluBackward: dx += dy where y's bits, as an int32, are positive: y > 0,
// or a NaN with the sign bit clear (the Go loop's test).
func reluBackward() {
	TEXT("reluBackwardAVX2", NOSPLIT, "func(dx, dy, y []float32)")
	Doc("reluBackwardAVX2 adds dy[i] to dx[i] where int32(bits(y[i])) > 0, for i < len(dx)&^7; dy and y are at least as long.")
	dx := Load(Param("dx").Base(), GP64())
	dy := Load(Param("dy").Base(), GP64())
	y := Load(Param("y").Base(), GP64())
	n := Load(Param("dx").Len(), GP64())
	zero := YMM()
	VXORPS(zero, zero, zero)
	SUBQ(y, dx) // offsets from y: one pointer moves
	SUBQ(y, dy)
	rowLoop(y, n, func(i int, at Mem) {
		v, m, d := YMM(), YMM(), YMM()
		VMOVUPS(at, v)
		VPCMPGTD(zero, v, m)
		VANDPS(Mem{Base: y, Index: dy, Scale: 1, Disp: at.Disp}, m, m)
		VADDPS(Mem{Base: y, Index: dx, Scale: 1, Disp: at.Disp}, m, d)
		VMOVUPS(d, Mem{Base: y, Index: dx, Scale: 1, Disp: at.Disp})
	})
	VZEROUPPER()
	RET()
}

// scaleTo: y = a·x over len(y)&^7 elements.
func scaleTo() {
	TEXT("scaleToAVX2", NOSPLIT, "func(y, x []float32, a float32)")
	Doc("scaleToAVX2 sets y[i] = a·x[i] for i < len(y)&^7; x is at least as long.")
	y := Load(Param("y").Base(), GP64())
	x := Load(Param("x").Base(), GP64())
	n := Load(Param("y").Len(), GP64())
	av := YMM()
	VBROADCASTSS(Load(Param("a"), XMM()), av)
	SUBQ(x, y) // y as an offset from x: one pointer moves
	rowLoop(x, n, func(i int, at Mem) {
		v := YMM()
		VMULPS(at, av, v)
		VMOVUPS(v, Mem{Base: x, Index: y, Scale: 1, Disp: at.Disp})
	})
	VZEROUPPER()
	RET()
}

// fmaPeak: the machine's FMA peak, not a kernel the library computes with:
// twelve independent chains of FMAs, enough to fill two FMA pipes of
// four-cycle latency, and nothing else.
func fmaPeak(name string, lanes int, vec func() VecVirtual) {
	TEXT(name, NOSPLIT, "func(n int)")
	Doc(fmt.Sprintf("%s runs n rounds of 12 independent %d-lane FMAs (%d multiply-adds a round).", name, lanes, 12*lanes))
	n := Load(Param("n"), GP64())
	x, y := vec(), vec()
	VBROADCASTSS(f32("fmaPeakX", 0.999), x)
	VBROADCASTSS(f32("fmaPeakY", 0.001), y)
	var acc [12]VecVirtual
	for i := range acc {
		acc[i] = vec()
		VMOVAPS(y, acc[i])
	}
	loop, done := name+"Loop", name+"Done"
	Label(loop)
	TESTQ(n, n)
	JZ(LabelRef(done))
	for i := range acc {
		VFMADD231PS(x, y, acc[i])
	}
	DECQ(n)
	JMP(LabelRef(loop))
	Label(done)
	VZEROUPPER()
	RET()
}

// Layer normalisation's row kernels, over len&^7 elements of a row (the
// caller does the rest in Go). The sums run in float32 lanes; the
// elementwise arithmetic is LayerNormRows's, operation for operation, with
// no fused multiply-adds, so that a row's outputs match the Go loop's given
// the same statistics.
func layerNorm() {
	TEXT("lnSumSqAVX2", NOSPLIT, "func(x []float32, mu float32) float32")
	Doc("lnSumSqAVX2 returns Σ (x[i]-mu)² over i < len(x)&^7, accumulated in float32 lanes.")
	{
		x := Load(Param("x").Base(), GP64())
		n := Load(Param("x").Len(), GP64())
		mu := YMM()
		VBROADCASTSS(Load(Param("mu"), XMM()), mu)
		var acc [4]VecVirtual
		for i := range acc {
			acc[i] = YMM()
			VXORPS(acc[i], acc[i], acc[i])
		}
		rowLoop(x, n, func(i int, at Mem) {
			d := YMM()
			VMOVUPS(at, d)
			VSUBPS(mu, d, d)
			VFMADD231PS(d, d, acc[i])
		})
		r := horizontal(acc, func(a, b, d Op) { VADDPS(a, b, d) })
		VZEROUPPER()
		Store(r, ReturnIndex(0))
		RET()
	}

	TEXT("lnApplyAVX2", NOSPLIT, "func(y, x, w, b []float32, mu, rs float32)")
	Doc("lnApplyAVX2 sets y[i] = (x[i]-mu)·rs·w[i] + b[i] for i < len(y)&^7; x, w and b are at least as long.")
	{
		y := Load(Param("y").Base(), GP64())
		x := Load(Param("x").Base(), GP64())
		w := Load(Param("w").Base(), GP64())
		b := Load(Param("b").Base(), GP64())
		n := Load(Param("y").Len(), GP64())
		mu, rs := YMM(), YMM()
		VBROADCASTSS(Load(Param("mu"), XMM()), mu)
		VBROADCASTSS(Load(Param("rs"), XMM()), rs)
		SUBQ(x, y) // offsets from x: one pointer moves
		SUBQ(x, w)
		SUBQ(x, b)
		rowLoop(x, n, func(i int, at Mem) {
			v := YMM()
			VMOVUPS(at, v)
			VSUBPS(mu, v, v)
			VMULPS(rs, v, v)
			VMULPS(Mem{Base: x, Index: w, Scale: 1, Disp: at.Disp}, v, v)
			VADDPS(Mem{Base: x, Index: b, Scale: 1, Disp: at.Disp}, v, v)
			VMOVUPS(v, Mem{Base: x, Index: y, Scale: 1, Disp: at.Disp})
		})
		VZEROUPPER()
		RET()
	}

	TEXT("lnBackwardSumsAVX2", NOSPLIT, "func(dw, db, dy, x, w []float32, mu, rs float32) (sumG, sumGX float32)")
	Doc("lnBackwardSumsAVX2 adds dy[i]·x̂[i] to dw[i] and dy[i] to db[i], with x̂ = (x-mu)·rs, and returns Σ dy·w and Σ dy·w·x̂ (float32 lanes), over i < len(dw)&^7; the others are at least as long.")
	{
		dw := Load(Param("dw").Base(), GP64())
		db := Load(Param("db").Base(), GP64())
		dy := Load(Param("dy").Base(), GP64())
		x := Load(Param("x").Base(), GP64())
		w := Load(Param("w").Base(), GP64())
		n := Load(Param("dw").Len(), GP64())
		mu, rs := YMM(), YMM()
		VBROADCASTSS(Load(Param("mu"), XMM()), mu)
		VBROADCASTSS(Load(Param("rs"), XMM()), rs)
		SUBQ(x, dw)
		SUBQ(x, db)
		SUBQ(x, dy)
		SUBQ(x, w)
		var gs, gxs [4]VecVirtual
		for i := range gs {
			gs[i], gxs[i] = YMM(), YMM()
			VXORPS(gs[i], gs[i], gs[i])
			VXORPS(gxs[i], gxs[i], gxs[i])
		}
		rowLoop(x, n, func(i int, at Mem) {
			at2 := func(r Register) Mem { return Mem{Base: x, Index: r, Scale: 1, Disp: at.Disp} }
			xh, d, g, t := YMM(), YMM(), YMM(), YMM()
			VMOVUPS(at, xh)
			VSUBPS(mu, xh, xh)
			VMULPS(rs, xh, xh) // x̂
			VMOVUPS(at2(dy), d)
			VMULPS(at2(w), d, g) // g = dy·w
			VADDPS(g, gs[i], gs[i])
			VMULPS(xh, g, g)
			VADDPS(g, gxs[i], gxs[i])
			VMULPS(xh, d, t) // dw += dy·x̂
			VADDPS(at2(dw), t, t)
			VMOVUPS(t, at2(dw))
			VADDPS(at2(db), d, d) // db += dy
			VMOVUPS(d, at2(db))
		})
		r := horizontal(gs, func(a, b, d Op) { VADDPS(a, b, d) })
		Store(r, ReturnIndex(0))
		r = horizontal(gxs, func(a, b, d Op) { VADDPS(a, b, d) })
		VZEROUPPER()
		Store(r, ReturnIndex(1))
		RET()
	}

	TEXT("lnBackwardDxAVX2", NOSPLIT, "func(dx, dy, x, w []float32, mu, rs, gMean, gxMean float32)")
	Doc("lnBackwardDxAVX2 adds rs·(dy[i]·w[i] - gMean - x̂[i]·gxMean), x̂ = (x-mu)·rs, to dx[i] for i < len(dx)&^7; the others are at least as long.")
	{
		dx := Load(Param("dx").Base(), GP64())
		dy := Load(Param("dy").Base(), GP64())
		x := Load(Param("x").Base(), GP64())
		w := Load(Param("w").Base(), GP64())
		n := Load(Param("dx").Len(), GP64())
		mu, rs, gm, gxm := YMM(), YMM(), YMM(), YMM()
		VBROADCASTSS(Load(Param("mu"), XMM()), mu)
		VBROADCASTSS(Load(Param("rs"), XMM()), rs)
		VBROADCASTSS(Load(Param("gMean"), XMM()), gm)
		VBROADCASTSS(Load(Param("gxMean"), XMM()), gxm)
		SUBQ(x, dx)
		SUBQ(x, dy)
		SUBQ(x, w)
		rowLoop(x, n, func(i int, at Mem) {
			at2 := func(r Register) Mem { return Mem{Base: x, Index: r, Scale: 1, Disp: at.Disp} }
			xh, g := YMM(), YMM()
			VMOVUPS(at, xh)
			VSUBPS(mu, xh, xh)
			VMULPS(rs, xh, xh)
			VMULPS(gxm, xh, xh) // x̂·gxMean
			VMOVUPS(at2(dy), g)
			VMULPS(at2(w), g, g) // dy·w
			VSUBPS(gm, g, g)
			VSUBPS(xh, g, g)
			VMULPS(rs, g, g)
			VADDPS(at2(dx), g, g)
			VMOVUPS(g, at2(dx))
		})
		VZEROUPPER()
		RET()
	}
}

// packAT12 deals the rows of a transposed A out to 12-row panels: for each
// of k rows of A (a column of op(A)), 12 values at a time into each of
// panels panels, scaled by alpha.
func packAT12() {
	TEXT("packAT12", NOSPLIT, "func(k, panels int, a *float32, lda int, dst *float32, pstride int, alpha float32)")
	Doc("packAT12 sets dst[q*pstride+p*12+i] = alpha·a[p*lda+q*12+i] for p < k, q < panels, i < 12.")
	k := Load(Param("k"), GP64())
	panels := Load(Param("panels"), GP64())
	a := Load(Param("a"), GP64())
	lda := Load(Param("lda"), GP64())
	dst := Load(Param("dst"), GP64())
	ps := Load(Param("pstride"), GP64())
	alpha := YMM()
	VBROADCASTSS(Load(Param("alpha"), XMM()), alpha)
	SHLQ(U8(2), lda) // bytes
	SHLQ(U8(2), ps)
	src, d, q := GP64(), GP64(), GP64()
	Label("packAT12Row")
	TESTQ(k, k)
	JZ(LabelRef("packAT12Done"))
	MOVQ(a, src)
	MOVQ(dst, d)
	MOVQ(panels, q)
	Label("packAT12Panel")
	TESTQ(q, q)
	JZ(LabelRef("packAT12Next"))
	lo, hi := YMM(), XMM()
	VMULPS(Mem{Base: src}, alpha, lo)
	VMULPS(Mem{Base: src, Disp: 32}, alpha.AsX(), hi)
	VMOVUPS(lo, Mem{Base: d})
	VMOVUPS(hi, Mem{Base: d, Disp: 32})
	ADDQ(U32(48), src)
	ADDQ(ps, d)
	DECQ(q)
	JMP(LabelRef("packAT12Panel"))
	Label("packAT12Next")
	ADDQ(lda, a)
	ADDQ(U32(48), dst)
	DECQ(k)
	JMP(LabelRef("packAT12Row"))
	Label("packAT12Done")
	VZEROUPPER()
	RET()
}
