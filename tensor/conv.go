package tensor

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/moxing/moxing/internal/kernel"
)

// Conv2dOpts are the hyper-parameters of a 2-D convolution, as in
// torch.nn.functional.conv2d. Zero values mean the defaults: stride 1,
// no padding, dilation 1, one group.
type Conv2dOpts struct {
	Stride   [2]int // (height, width) step between windows
	Padding  [2]int // zeros added on each side of the (height, width) axes
	Dilation [2]int // spacing between kernel taps
	Groups   int    // input and output channels split into this many independent groups
}

func (o Conv2dOpts) norm() Conv2dOpts {
	for i := range 2 {
		if o.Stride[i] == 0 {
			o.Stride[i] = 1
		}
		if o.Dilation[i] == 0 {
			o.Dilation[i] = 1
		}
	}
	if o.Groups == 0 {
		o.Groups = 1
	}
	return o
}

// Conv2dShape checks a convolution of an input (N, C, H, W) with a weight
// (O, C/Groups, KH, KW) and returns the output shape (N, O, OutH, OutW),
// OutH = ⌊(H + 2·padding - dilation·(KH-1) - 1)/stride⌋ + 1 (likewise OutW),
// or an error that says what does not fit. Layers call it to report a bad
// configuration before running the op.
func Conv2dShape(x, w []int, o Conv2dOpts) ([]int, error) {
	o = o.norm()
	if len(x) != 4 || len(w) != 4 {
		return nil, fmt.Errorf("conv2d wants an input (N, C, H, W) and a weight (O, C/groups, KH, KW), got %v and %v", x, w)
	}
	for i := range 2 {
		if o.Stride[i] < 1 || o.Dilation[i] < 1 || o.Padding[i] < 0 {
			return nil, fmt.Errorf("conv2d: stride %v, padding %v, dilation %v: strides and dilations must be ≥ 1 and padding ≥ 0", o.Stride, o.Padding, o.Dilation)
		}
	}
	g := o.Groups
	switch {
	case g < 1 || x[1]%g != 0 || w[0]%g != 0:
		return nil, fmt.Errorf("conv2d: %d groups do not divide %d input and %d output channels", g, x[1], w[0])
	case w[1]*g != x[1]:
		return nil, fmt.Errorf("conv2d: weight %v expects %d input channels (%d per group × %d groups), input %v has %d", w, w[1]*g, w[1], g, x, x[1])
	}
	geom := kernel.NewConvGeom(x[2], x[3], w[2], w[3], o.Stride[0], o.Stride[1], o.Padding[0], o.Padding[1], o.Dilation[0], o.Dilation[1])
	if geom.OutH < 1 || geom.OutW < 1 {
		return nil, fmt.Errorf("conv2d: a %d×%d kernel (dilation %v) over a %d×%d input with padding %v leaves an empty output (%d×%d)",
			w[2], w[3], o.Dilation, x[2], x[3], o.Padding, geom.OutH, geom.OutW)
	}
	return []int{x[0], w[0], geom.OutH, geom.OutW}, nil
}

// Conv2d returns the 2-D cross-correlation of x (N, C, H, W) with weight w
// (O, C/Groups, KH, KW), plus bias b (O) when b is not nil, as
// torch.nn.functional.conv2d: the result (N, O, OutH, OutW) is
//
//	y[n, o, p, q] = b[o] + Σ_{c, i, j} w[o, c, i, j] ·
//	                x[n, g·C/G + c, p·sh - ph + i·dh, q·sw - pw + j·dw]
//
// over the C/G channels of o's group g, with zeros outside the input.
// Computed as im2col + GEMM: per image and group, the (C/G·KH·KW, OutH·OutW)
// column matrix times the weight; images run in parallel. The backward pass
// rebuilds the column matrix rather than keeping it: dW += dY·colᵀ,
// dcol = Wᵀ·dY scattered back by col2im, db = Σ dY. It panics on shapes
// that do not fit (see Conv2dShape).
func Conv2d(x, w, b *Tensor, o Conv2dOpts) *Tensor {
	o = o.norm()
	shape, err := Conv2dShape(x.shape, w.shape, o)
	if err != nil {
		panic("tensor: " + err.Error())
	}
	if b != nil && !sameShape(b.shape, []int{w.shape[0]}) {
		panic(fmt.Sprintf("tensor: Conv2d: bias %v for %d output channels", b.shape, w.shape[0]))
	}
	inputs := []*Tensor{x, w}
	if b != nil {
		inputs = append(inputs, b)
	}
	out := newOutDirty("Conv2d", shape, inputs...)
	cv := newConv(x, w, o)
	if w.requiresGrad && !cv.geom.Pointwise() {
		// Keep every column matrix for the weight gradient rather than
		// building them again in the backward pass.
		cv.cols = scratchDirty(out, cv.n*cv.g*cv.k*cv.p)
	}
	cv.forward(out.Data, b)
	return out.record(func() {
		var gb []float32
		if b != nil {
			gb = gradOf(b)
		}
		cv.backward(gradOf(x), gradOf(w), gb, out.Grad.Data)
	})
}

// conv holds the sizes of one Conv2d call.
type conv struct {
	x, w         []float32
	cols         []float32 // every image's column matrices, when kept for backward
	n, c, o, g   int       // images, input channels, output channels, groups
	cg, og, k, p int       // channels per group in and out, column rows, output positions
	inPlane      int       // H·W
	geom         kernel.ConvGeom
	onesOnce     sync.Once
	onesRow      []float32 // p ones, for the bias gradient's sums
}

// ones returns p ones, made on first use (by any thread).
func (cv *conv) ones() []float32 {
	cv.onesOnce.Do(func() {
		cv.onesRow = make([]float32, cv.p)
		for i := range cv.onesRow {
			cv.onesRow[i] = 1
		}
	})
	return cv.onesRow
}

func newConv(x, w *Tensor, o Conv2dOpts) *conv {
	cv := &conv{x: x.Data, w: w.Data, n: x.shape[0], c: x.shape[1], o: w.shape[0], g: o.Groups}
	cv.geom = kernel.NewConvGeom(x.shape[2], x.shape[3], w.shape[2], w.shape[3], o.Stride[0], o.Stride[1], o.Padding[0], o.Padding[1], o.Dilation[0], o.Dilation[1])
	cv.cg, cv.og = cv.c/cv.g, cv.o/cv.g
	cv.k = cv.cg * w.shape[2] * w.shape[3]
	cv.p = cv.geom.OutH * cv.geom.OutW
	cv.inPlane = x.shape[2] * x.shape[3]
	return cv
}

// images runs body over the images [lo, hi) in parallel when there are
// enough of them, each thread multiplying by the weight packed once
// (packed[gi], one per group); a small batch runs one image at a time with
// multi-threaded GEMMs instead (packed is nil).
func (cv *conv) images(body func(lo, hi int, packed []*kernel.PackedA)) {
	if cv.n < 2*runtime.GOMAXPROCS(0) {
		body(0, cv.n, nil)
		return
	}
	kernel.Parallel(cv.n, func(lo, hi int) {
		packed := make([]*kernel.PackedA, cv.g)
		for gi := range packed {
			packed[gi] = kernel.PackA(false, cv.og, cv.k, 1, cv.w[gi*cv.og*cv.k:], cv.k)
		}
		body(lo, hi, packed)
		for _, p := range packed {
			p.Release()
		}
	})
}

// column returns the column matrix of image n, group gi: x itself for a
// pointwise convolution, else one built by im2col into its place in cols
// (when kept) or into buf.
func (cv *conv) column(buf []float32, n, gi int) []float32 {
	src := cv.x[(n*cv.c+gi*cv.cg)*cv.inPlane:]
	if cv.geom.Pointwise() {
		return src[:cv.k*cv.p]
	}
	if cv.cols != nil {
		buf = cv.cols[(n*cv.g+gi)*cv.k*cv.p:]
	}
	kernel.Im2Col(buf, src, cv.cg, &cv.geom)
	return buf
}

// kept returns the column matrix of image n, group gi that the forward pass
// kept (or x itself), or one built again into buf.
func (cv *conv) kept(buf []float32, n, gi int) []float32 {
	if cv.cols != nil {
		return cv.cols[(n*cv.g+gi)*cv.k*cv.p : (n*cv.g+gi+1)*cv.k*cv.p]
	}
	return cv.column(buf, n, gi)
}

func (cv *conv) forward(y []float32, b *Tensor) {
	cv.images(func(lo, hi int, packed []*kernel.PackedA) {
		buf := kernel.GetBuf(cv.k * cv.p)
		defer kernel.PutBuf(buf)
		for n := lo; n < hi; n++ {
			var beta float32
			if b != nil {
				// Start each output plane at its bias; the GEMM adds onto it.
				beta = 1
				for oc := 0; oc < cv.o; oc++ {
					row := y[(n*cv.o+oc)*cv.p : (n*cv.o+oc+1)*cv.p]
					row[0] = b.Data[oc]
					for filled := 1; filled < len(row); filled *= 2 { // by doubling copies: memmove's speed
						copy(row[filled:], row[:filled])
					}
				}
			}
			for gi := 0; gi < cv.g; gi++ {
				col := cv.column(*buf, n, gi)
				dst := y[(n*cv.o+gi*cv.og)*cv.p : (n*cv.o+(gi+1)*cv.og)*cv.p]
				if packed != nil {
					packed[gi].Gemm(false, cv.p, col, cv.p, beta, dst, cv.p)
				} else {
					kernel.Gemm(false, false, cv.og, cv.p, cv.k, 1, cv.w[gi*cv.og*cv.k:], cv.k, col, cv.p, beta, dst, cv.p)
				}
			}
		}
	})
}

// convChunk is how many images share one partial sum of the weight and
// bias gradients. It is fixed, not the thread count's share, so that the
// partial sums, added in chunk order, make the same gradient (to the bit)
// on any number of threads.
const convChunk = 8

func (cv *conv) backward(gx, gw, gb, gy []float32) {
	chunks := (cv.n + convChunk - 1) / convChunk
	var dws [][]float32
	var dbs [][]float32
	if gw != nil {
		dws = make([][]float32, chunks)
	}
	if gb != nil {
		dbs = make([][]float32, chunks)
	}
	var bufs []*[]float32 // pooled partial sums, given back at the end
	var mu sync.Mutex
	kernel.Parallel(chunks, func(lo, hi int) {
		buf := kernel.GetBuf(cv.k * cv.p)
		defer kernel.PutBuf(buf)
		var dcol *[]float32
		var wt []*kernel.PackedA // each group's weight, transposed, packed once
		if gx != nil {
			dcol = kernel.GetBuf(cv.k * cv.p)
			defer kernel.PutBuf(dcol)
			wt = make([]*kernel.PackedA, cv.g)
			for gi := range wt {
				wt[gi] = kernel.PackA(true, cv.k, cv.og, 1, cv.w[gi*cv.og*cv.k:], cv.k)
				defer wt[gi].Release()
			}
		}
		for ch := lo; ch < hi; ch++ {
			var dw, db []float32
			if gw != nil {
				p := kernel.GetBuf(len(gw))
				mu.Lock()
				bufs = append(bufs, p)
				mu.Unlock()
				dw = (*p)[:len(gw)]
				clear(dw)
				dws[ch] = dw
			}
			if gb != nil {
				db = make([]float32, len(gb))
				dbs[ch] = db
			}
			for n := ch * convChunk; n < min(cv.n, (ch+1)*convChunk); n++ {
				cv.backwardImage(n, gx, dw, db, gy, *buf, dcol, wt)
			}
		}
	})
	for ch := 0; ch < chunks; ch++ {
		if dws != nil {
			kernel.Add(dws[ch], gw)
		}
		if dbs != nil {
			kernel.Add(dbs[ch], gb)
		}
	}
	for _, p := range bufs {
		kernel.PutBuf(p)
	}
}

// backwardImage adds image n's part of the gradients: to dw and db (the
// chunk's partial sums; nil when not wanted) and to gx (its own rows),
// through dcol and each group's weight transposed and packed (wt; both
// only when gx is wanted). GEMMs run on this thread: the chunks run in
// parallel.
func (cv *conv) backwardImage(n int, gx, dw, db, gy, buf []float32, dcol *[]float32, wt []*kernel.PackedA) {
	for gi := 0; gi < cv.g; gi++ {
		dy := gy[(n*cv.o+gi*cv.og)*cv.p : (n*cv.o+(gi+1)*cv.og)*cv.p]
		if dw != nil {
			col := cv.kept(buf, n, gi)
			kernel.GemmSerial(false, true, cv.og, cv.k, cv.p, 1, dy, cv.p, col, cv.p, 1, dw[gi*cv.og*cv.k:], cv.k)
		}
		if gx != nil {
			dx := gx[(n*cv.c+gi*cv.cg)*cv.inPlane:]
			if cv.geom.Pointwise() {
				wt[gi].Gemm(false, cv.p, dy, cv.p, 1, dx, cv.p) // dx += Wᵀ·dY
				continue
			}
			wt[gi].Gemm(false, cv.p, dy, cv.p, 0, *dcol, cv.p) // dcol = Wᵀ·dY
			kernel.Col2Im(dx, *dcol, cv.cg, &cv.geom)
		}
	}
	if db != nil {
		ones := cv.ones()
		for oc := 0; oc < cv.o; oc++ {
			db[oc] += kernel.Dot(gy[(n*cv.o+oc)*cv.p:(n*cv.o+oc+1)*cv.p], ones) // the vector kernel's sum
		}
	}
}

// Pool2dOpts are the window of a 2-D pooling: kernel size, stride (zero
// means the kernel size, PyTorch's default) and zero padding.
type Pool2dOpts struct {
	Kernel, Stride, Padding [2]int
}

// geom checks a pooling window over an input of the given shape and returns
// its geometry, or an error saying what does not fit.
func (o Pool2dOpts) geom(shape []int) (kernel.ConvGeom, error) {
	for i := range 2 {
		if o.Stride[i] == 0 {
			o.Stride[i] = o.Kernel[i]
		}
	}
	if len(shape) != 4 {
		return kernel.ConvGeom{}, fmt.Errorf("pooling wants an input (N, C, H, W), got %v", shape)
	}
	for i := range 2 {
		if o.Kernel[i] < 1 || o.Stride[i] < 1 || o.Padding[i] < 0 || 2*o.Padding[i] > o.Kernel[i] {
			return kernel.ConvGeom{}, fmt.Errorf("pooling: kernel %v, stride %v, padding %v: kernel and stride must be ≥ 1 and padding at most half the kernel", o.Kernel, o.Stride, o.Padding)
		}
	}
	g := kernel.NewConvGeom(shape[2], shape[3], o.Kernel[0], o.Kernel[1], o.Stride[0], o.Stride[1], o.Padding[0], o.Padding[1], 1, 1)
	if g.OutH < 1 || g.OutW < 1 {
		return g, fmt.Errorf("pooling: a %v window over a %d×%d input leaves an empty output", o.Kernel, shape[2], shape[3])
	}
	return g, nil
}

// mustGeom is geom for an op, which panics on a window that does not fit.
func (o Pool2dOpts) mustGeom(op string, shape []int) kernel.ConvGeom {
	g, err := o.geom(shape)
	if err != nil {
		panic("tensor: " + op + ": " + err.Error())
	}
	return g
}

// Pool2dShape returns the output shape (N, C, OutH, OutW) of a pooling of
// an input of shape x, or an error that says why it does not fit.
func Pool2dShape(x []int, o Pool2dOpts) ([]int, error) {
	g, err := o.geom(x)
	if err != nil {
		return nil, err
	}
	return []int{x[0], x[1], g.OutH, g.OutW}, nil
}

// MaxPool2d returns the maximum of each window of each plane of x
// (N, C, H, W), as torch.nn.functional.max_pool2d (padding counts as -∞):
// (N, C, OutH, OutW). The gradient goes to the first element of each window
// that equals its maximum (found again in the backward pass rather than
// kept: the forward pass stays free of data-dependent branches).
func (x *Tensor) MaxPool2d(o Pool2dOpts) *Tensor {
	g := o.mustGeom("MaxPool2d", x.shape)
	planes := x.shape[0] * x.shape[1]
	out := newOutDirty("MaxPool2d", []int{x.shape[0], x.shape[1], g.OutH, g.OutW}, x)
	p, in := g.OutH*g.OutW, g.H*g.W
	// The window of output (oh, ow) covers rows [hlo, hhi) and columns
	// [wlo, whi) of the plane, clipped (padding never wins).
	hlo, hhi := windows(g.OutH, g.SH, g.PH, g.KH, g.H)
	wlo, whi := windows(g.OutW, g.SW, g.PW, g.KW, g.W)
	// The common 2×2 window with stride 2 over planes of an even width is
	// kernel.MaxPool2x2, whose rows run on across planes of an even height.
	halve := g.KH == 2 && g.KW == 2 && g.SH == 2 && g.SW == 2 && g.PH == 0 && g.PW == 0 && g.W%2 == 0
	evenH := g.H%2 == 0
	kernel.Parallel(planes, func(lo, hi int) {
		if halve && evenH {
			kernel.MaxPool2x2(out.Data[lo*p:hi*p], x.Data[lo*in:hi*in], (hi-lo)*g.OutH, g.W)
			return
		}
		for pl := lo; pl < hi; pl++ {
			src, dst := x.Data[pl*in:(pl+1)*in], out.Data[pl*p:(pl+1)*p]
			if halve {
				kernel.MaxPool2x2(dst, src, g.OutH, g.W)
				continue
			}
			for oh := 0; oh < g.OutH; oh++ {
				d := dst[oh*g.OutW : (oh+1)*g.OutW]
				for ow := range d {
					best := src[hlo[oh]*g.W+wlo[ow]]
					for i := hlo[oh]; i < hhi[oh]; i++ {
						for _, v := range src[i*g.W+wlo[ow] : i*g.W+whi[ow]] {
							best = max(best, v) // NaN propagates, as in PyTorch
						}
					}
					d[ow] = best
				}
			}
		}
	})
	return out.record(func() {
		gx, fresh := gradFresh(x)
		gy := out.Grad.Data
		if fresh && !(halve && evenH) {
			clear(gx) // only whole windows without padding cover every input
			fresh = false
		}
		kernel.Parallel(planes, func(lo, hi int) {
			if halve && evenH {
				kernel.MaxPool2x2Backward(gx[lo*in:hi*in], gy[lo*p:hi*p], x.Data[lo*in:hi*in], out.Data[lo*p:hi*p], (hi-lo)*g.OutH, g.W, !fresh)
				return
			}
			for pl := lo; pl < hi; pl++ {
				src, y := x.Data[pl*in:(pl+1)*in], out.Data[pl*p:(pl+1)*p]
				if halve {
					kernel.MaxPool2x2Backward(gx[pl*in:(pl+1)*in], gy[pl*p:(pl+1)*p], src, y, g.OutH, g.W, true)
					continue
				}
				for oh := 0; oh < g.OutH; oh++ {
					for ow := 0; ow < g.OutW; ow++ {
						k := oh*g.OutW + ow
						at := argmaxWindow(src, y[k], g.W, hlo[oh], hhi[oh], wlo[ow], whi[ow])
						gx[pl*in+at] += gy[pl*p+k]
					}
				}
			}
		})
	})
}

// windows returns, for each of n outputs along an axis of size size, the
// clipped input range [lo, hi) of its window.
func windows(n, stride, pad, k, size int) (lo, hi []int) {
	lo, hi = make([]int, n), make([]int, n)
	for o := range lo {
		s := o*stride - pad
		lo[o], hi[o] = max(s, 0), min(s+k, size)
	}
	return lo, hi
}

// argmaxWindow returns the index in the plane of the first element of the
// window that equals best (or is NaN when best is).
func argmaxWindow(src []float32, best float32, w, h0, h1, w0, w1 int) int {
	for i := h0; i < h1; i++ {
		for j := w0; j < w1; j++ {
			if v := src[i*w+j]; v == best || (best != best && v != v) {
				return i*w + j
			}
		}
	}
	return h0*w + w0
}

// AvgPool2d returns the mean of each window of each plane of x
// (N, C, H, W), as torch.nn.functional.avg_pool2d with its defaults
// (padding counts as zeros in the mean): (N, C, OutH, OutW). Each input
// element gets 1/(KH·KW) of the gradient of every window it is in.
func (x *Tensor) AvgPool2d(o Pool2dOpts) *Tensor {
	g := o.mustGeom("AvgPool2d", x.shape)
	planes := x.shape[0] * x.shape[1]
	out := newOut("AvgPool2d", []int{x.shape[0], x.shape[1], g.OutH, g.OutW}, x)
	p, in := g.OutH*g.OutW, g.H*g.W
	scale := 1 / float32(g.KH*g.KW)
	each := func(pl int, f func(out, in int)) {
		for oh := 0; oh < g.OutH; oh++ {
			h0 := oh*g.SH - g.PH
			for ow := 0; ow < g.OutW; ow++ {
				w0 := ow*g.SW - g.PW
				for i := max(h0, 0); i < min(h0+g.KH, g.H); i++ {
					for j := max(w0, 0); j < min(w0+g.KW, g.W); j++ {
						f(pl*p+oh*g.OutW+ow, pl*in+i*g.W+j)
					}
				}
			}
		}
	}
	kernel.Parallel(planes, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			each(pl, func(o, i int) { out.Data[o] += x.Data[i] })
		}
	})
	kernel.Scale(scale, out.Data)
	return out.record(func() {
		gx, gy := gradOf(x), out.Grad.Data
		for pl := 0; pl < planes; pl++ {
			each(pl, func(o, i int) { gx[i] += gy[o] * scale })
		}
	})
}

// BatchNorm normalises x (N, C, …) per channel with the mean and biased
// variance over the batch and every position (all axes but 1), then applies
// the affine map: y = (x - μ_c)/√(σ²_c + eps)·w_c + b_c, w and b of shape
// (C), as torch.nn.functional.batch_norm in training mode. It also returns
// μ and σ² (biased) for the caller's running statistics. A fused op with
// the usual backward, x̂ = (x-μ)/σ over M = N·positions elements:
//
//	dx = (w/σ)·(dy - mean(dy) - x̂·mean(dy·x̂)),  dw = Σ dy·x̂,  db = Σ dy
func (x *Tensor) BatchNorm(w, b *Tensor, eps float32) (y *Tensor, mean, variance []float32) {
	if x.NDim() < 2 || !sameShape(w.shape, []int{x.shape[1]}) || !sameShape(b.shape, []int{x.shape[1]}) {
		panic(fmt.Sprintf("tensor: BatchNorm of shape %v with weight %v and bias %v", x.shape, w.shape, b.shape))
	}
	n, c := x.shape[0], x.shape[1]
	s := numel(x.shape[2:])
	m := n * s
	if m < 2 {
		panic(fmt.Sprintf("tensor: BatchNorm of shape %v: a training batch needs more than one value per channel", x.shape))
	}
	out := newOutDirty("BatchNorm", x.shape, x, w, b)
	mean, variance = make([]float32, c), make([]float32, c)
	rstd := scratch(out, c)
	// Channel ch's values are the rows x[i, ch, :] for every image i.
	rows := func(ch int, f func(off int)) {
		for i := 0; i < n; i++ {
			f((i*c + ch) * s)
		}
	}
	kernel.Parallel(c, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var sum float64
			rows(ch, func(off int) {
				for _, v := range x.Data[off : off+s] {
					sum += float64(v)
				}
			})
			mu := sum / float64(m)
			var ss float64
			rows(ch, func(off int) {
				for _, v := range x.Data[off : off+s] {
					d := float64(v) - mu
					ss += d * d
				}
			})
			v := ss / float64(m)
			mean[ch], variance[ch] = float32(mu), float32(v)
			r := float32(1 / math.Sqrt(v+float64(eps)))
			rstd[ch] = r
			scale, shift := r*w.Data[ch], b.Data[ch]-float32(mu)*r*w.Data[ch]
			rows(ch, func(off int) {
				dst := out.Data[off : off+s]
				for j, v := range x.Data[off : off+s] {
					dst[j] = v*scale + shift
				}
			})
		}
	})
	return out.record(func() {
		gx, gw, gb, gy := gradOf(x), gradOf(w), gradOf(b), out.Grad.Data
		kernel.Parallel(c, func(lo, hi int) {
			for ch := lo; ch < hi; ch++ {
				mu, r := mean[ch], rstd[ch]
				var sdy, sdyx float64 // Σ dy, Σ dy·x̂
				rows(ch, func(off int) {
					for j, d := range gy[off : off+s] {
						sdy += float64(d)
						sdyx += float64(d) * float64((x.Data[off+j]-mu)*r)
					}
				})
				if gw != nil {
					gw[ch] += float32(sdyx)
				}
				if gb != nil {
					gb[ch] += float32(sdy)
				}
				if gx == nil {
					continue
				}
				k := r * w.Data[ch]
				mdy, mdyx := float32(sdy/float64(m)), float32(sdyx/float64(m))
				rows(ch, func(off int) {
					dst := gx[off : off+s]
					for j, d := range gy[off : off+s] {
						dst[j] += k * (d - mdy - (x.Data[off+j]-mu)*r*mdyx)
					}
				})
			}
		})
	}), mean, variance
}
