package kernel

import "fmt"

// ConvGeom is the geometry of a 2-D convolution or pooling window over one
// (H, W) image plane: kernel size, stride, zero padding and dilation, with
// the output size they give.
type ConvGeom struct {
	H, W       int // input plane
	KH, KW     int // window
	SH, SW     int // stride
	PH, PW     int // zero padding on each side
	DH, DW     int // dilation
	OutH, OutW int // output plane: (H + 2·PH - DH·(KH-1) - 1)/SH + 1
	pointwise  bool
}

// NewConvGeom fills in the output size of g and returns it.
func NewConvGeom(h, w, kh, kw, sh, sw, ph, pw, dh, dw int) ConvGeom {
	g := ConvGeom{H: h, W: w, KH: kh, KW: kw, SH: sh, SW: sw, PH: ph, PW: pw, DH: dh, DW: dw}
	g.OutH = floorDiv(h+2*ph-dh*(kh-1)-1, sh) + 1
	g.OutW = floorDiv(w+2*pw-dw*(kw-1)-1, sw) + 1
	g.pointwise = kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0
	return g
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Pointwise reports whether the window is a 1×1 kernel with stride 1 and no
// padding, for which the column matrix of a plane is the plane itself.
func (g *ConvGeom) Pointwise() bool { return g.pointwise }

// Im2Col writes the column matrix of c input planes x (c, H, W) to col
// (c·KH·KW, OutH·OutW): row (ci·KH + i)·KW + j, column oh·OutW + ow holds
// x[ci, oh·SH - PH + i·DH, ow·SW - PW + j·DW], or 0 where that falls in the
// padding.
func Im2Col(col, x []float32, c int, g *ConvGeom) {
	if g.shifted() {
		im2colShifted(col, x, c, g)
		return
	}
	im2colRows(col, x, c, g)
}

// shifted reports whether every kernel tap moves a whole output plane onto
// the input plane by one flat offset: stride 1 and an output as wide as the
// input ("same" padding along the rows, so no tap is more than PW columns
// off), with less padding than a row. Then
// a tap's row of the column matrix is one contiguous run of the plane, but
// for the columns that fall in the padding (which wrap onto the next or
// previous row) and the rows above or below the plane.
func (g *ConvGeom) shifted() bool {
	return g.SH == 1 && g.SW == 1 && g.OutW == g.W && g.PW < g.W
}

// tap is kernel tap (i, j) of a shifted geometry: its flat offset into the
// plane, the output rows [oh0, oh1) that fall inside it, the columns
// [cl, ch) that do, and the run [lo, hi) of the output plane that maps into
// the plane (the rows' span, less the wrapped columns at either end).
type tap struct {
	shift, oh0, oh1, cl, ch, lo, hi int
}

func (g *ConvGeom) tap(i, j int) tap {
	dh, dw := i*g.DH-g.PH, j*g.DW-g.PW
	t := tap{shift: dh*g.W + dw, oh0: max(0, -dh), oh1: min(g.OutH, g.H-dh), cl: max(0, -dw), ch: min(g.W, g.W-dw)}
	if t.oh1 <= t.oh0 {
		t.oh0, t.oh1 = 0, 0
		return t
	}
	t.lo, t.hi = t.oh0*g.W+t.cl, (t.oh1-1)*g.W+t.ch
	return t
}

// clearWrapped zeroes, in a tap's row of the column matrix, the columns of
// rows [oh0, oh1) that fall in the padding.
func (t *tap) clearWrapped(row []float32, w int) {
	if t.cl == 0 && t.ch == w {
		return
	}
	for oh := t.oh0; oh < t.oh1; oh++ { // a column or two: no calls
		r := row[oh*w : (oh+1)*w]
		for q := 0; q < t.cl; q++ {
			r[q] = 0
		}
		for q := t.ch; q < w; q++ {
			r[q] = 0
		}
	}
}

func im2colShifted(col, x []float32, c int, g *ConvGeom) {
	p, in, taps := g.OutH*g.OutW, g.H*g.W, g.KH*g.KW
	for i := 0; i < g.KH; i++ {
		for j := 0; j < g.KW; j++ {
			t := g.tap(i, j)
			for ci := 0; ci < c; ci++ {
				plane := x[ci*in : (ci+1)*in]
				row := ci*taps + i*g.KW + j
				dst := col[row*p : (row+1)*p]
				clear(dst[:t.lo])
				copy(dst[t.lo:t.hi], plane[t.lo+t.shift:t.hi+t.shift])
				clear(dst[t.hi:])
				t.clearWrapped(dst, g.W)
			}
		}
	}
}

// im2colRows is Im2Col for any geometry, one output row at a time.
func im2colRows(col, x []float32, c int, g *ConvGeom) {
	p := g.OutH * g.OutW
	row := 0
	for ci := 0; ci < c; ci++ {
		plane := x[ci*g.H*g.W : (ci+1)*g.H*g.W]
		for i := 0; i < g.KH; i++ {
			for j := 0; j < g.KW; j++ {
				dst := col[row*p : (row+1)*p]
				row++
				for oh := 0; oh < g.OutH; oh++ {
					d := dst[oh*g.OutW : (oh+1)*g.OutW]
					ih := oh*g.SH - g.PH + i*g.DH
					if ih < 0 || ih >= g.H {
						clear(d)
						continue
					}
					src := plane[ih*g.W : (ih+1)*g.W]
					iw := j*g.DW - g.PW
					if g.SW == 1 {
						// A contiguous run with zeros at either end.
						lo, hi := max(0, -iw), min(g.OutW, g.W-iw)
						if hi <= lo {
							clear(d)
							continue
						}
						clear(d[:lo])
						copy(d[lo:hi], src[iw+lo:iw+hi])
						clear(d[hi:])
						continue
					}
					for ow := range d {
						if x := iw + ow*g.SW; x >= 0 && x < g.W {
							d[ow] = src[x]
						} else {
							d[ow] = 0
						}
					}
				}
			}
		}
	}
}

// Col2Im adds the column matrix col (c·KH·KW, OutH·OutW) back into the c
// planes dx (c, H, W): the adjoint of Im2Col, so every element of col is
// added to the input element it was copied from (padding drops it). It may
// overwrite the elements of col that fall in the padding with zeros.
func Col2Im(dx, col []float32, c int, g *ConvGeom) {
	if g.shifted() {
		col2imShifted(dx, col, c, g)
		return
	}
	col2imRows(dx, col, c, g)
}

// col2imShifted adds each tap's row as one run: its wrapped columns are
// zeroed first, so that they add nothing to the row they wrap onto.
func col2imShifted(dx, col []float32, c int, g *ConvGeom) {
	p, in, taps := g.OutH*g.OutW, g.H*g.W, g.KH*g.KW
	for i := 0; i < g.KH; i++ {
		for j := 0; j < g.KW; j++ {
			t := g.tap(i, j)
			if t.hi <= t.lo {
				continue
			}
			for ci := 0; ci < c; ci++ {
				plane := dx[ci*in : (ci+1)*in]
				row := ci*taps + i*g.KW + j
				src := col[row*p : (row+1)*p]
				t.clearWrapped(src, g.W)
				Add(src[t.lo:t.hi], plane[t.lo+t.shift:t.hi+t.shift])
			}
		}
	}
}

// col2imRows is Col2Im for any geometry, one output row at a time; it
// leaves col as it is.
func col2imRows(dx, col []float32, c int, g *ConvGeom) {
	p := g.OutH * g.OutW
	row := 0
	for ci := 0; ci < c; ci++ {
		plane := dx[ci*g.H*g.W : (ci+1)*g.H*g.W]
		for i := 0; i < g.KH; i++ {
			for j := 0; j < g.KW; j++ {
				src := col[row*p : (row+1)*p]
				row++
				for oh := 0; oh < g.OutH; oh++ {
					ih := oh*g.SH - g.PH + i*g.DH
					if ih < 0 || ih >= g.H {
						continue
					}
					d := plane[ih*g.W : (ih+1)*g.W]
					s := src[oh*g.OutW : (oh+1)*g.OutW]
					iw := j*g.DW - g.PW
					if g.SW == 1 {
						lo, hi := max(0, -iw), min(g.OutW, g.W-iw)
						if hi > lo {
							Add(s[lo:hi], d[iw+lo:iw+hi])
						}
						continue
					}
					for ow, v := range s {
						if x := iw + ow*g.SW; x >= 0 && x < g.W {
							d[x] += v
						}
					}
				}
			}
		}
	}
}

// MaxPool2x2 sets dst[r·w/2 + q] to the largest of the 2×2 window
// src[2r·w + 2q + {0, 1, w, w+1}], NaN if any of the four is (as
// torch.nn.functional.max_pool2d), for r < pairs and q < w/2: 2×2 max
// pooling with stride 2 over pairs of rows of an even width w. Planes of
// an even height are pairs of rows one after another, so a whole batch of
// them is one call.
func MaxPool2x2(dst, src []float32, pairs, w int) {
	if pairs <= 0 {
		return
	}
	if w <= 0 || w%2 != 0 {
		panic(fmt.Sprintf("kernel: MaxPool2x2 over rows of width %d (must be even and positive)", w))
	}
	_, _ = dst[pairs*w/2-1], src[2*pairs*w-1]
	if active.maxPool2x2 != nil {
		active.maxPool2x2(&dst[0], &src[0], pairs, w)
		return
	}
	for r := 0; r < pairs; r++ {
		r0, r1 := src[2*r*w:(2*r+1)*w], src[(2*r+1)*w:(2*r+2)*w]
		d := dst[r*w/2 : (r+1)*w/2]
		for q := range d {
			d[q] = max(max(r0[2*q], r0[2*q+1]), max(r1[2*q], r1[2*q+1]))
		}
	}
}

// MaxPool2x2Backward is the gradient of MaxPool2x2 given its input src and
// output y: it adds gy[r·w/2 + q] to gx at the first of the window's four
// offsets (in the order 0, 1, w, w+1) where src equals y[r·w/2 + q], or at
// the last when none does (a NaN maximum). With add false it writes the
// windows instead, that value and three zeros, and gx's old contents do
// not matter.
func MaxPool2x2Backward(gx, gy, src, y []float32, pairs, w int, add bool) {
	if pairs <= 0 {
		return
	}
	if w <= 0 || w%2 != 0 {
		panic(fmt.Sprintf("kernel: MaxPool2x2Backward over rows of width %d (must be even and positive)", w))
	}
	_, _, _, _ = gx[2*pairs*w-1], src[2*pairs*w-1], gy[pairs*w/2-1], y[pairs*w/2-1]
	if f := active.maxPool2x2Backward[b2i(add)]; f != nil {
		f(&gx[0], &gy[0], &src[0], &y[0], pairs, w)
		return
	}
	if !add {
		clear(gx[:2*pairs*w])
	}
	for r := 0; r < pairs; r++ {
		for q := 0; q < w/2; q++ {
			k, base := r*w/2+q, 2*r*w+2*q
			best := y[k]
			// The first of the four that equals the maximum, chosen
			// without branches: offsets 0, 1, w, w+1.
			n0, n1, n2 := b2i(src[base] != best), b2i(src[base+1] != best), b2i(src[base+w] != best)
			gx[base+n0*(1+n1*(w-1+n2))] += gy[k]
		}
	}
}

// b2i is 1 for true and 0 for false, without a branch.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
