package kernel

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
// added to the input element it was copied from (padding drops it).
func Col2Im(dx, col []float32, c int, g *ConvGeom) {
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
