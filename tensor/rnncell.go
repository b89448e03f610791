package tensor

import (
	"fmt"

	"github.com/moxing/moxing/internal/kernel"
)

// LSTMCell is one step of an LSTM as a fused op. gx and gh (B, 4H) are the
// input and recurrent pre-activations (W_ih·x + b_ih and W_hh·h + b_hh) in
// PyTorch's gate order i, f, g, o; c (B, H) is the previous cell state. With
// g = gx + gh:
//
//	i, f, o = σ(g_i), σ(g_f), σ(g_o);  u = tanh(g_g)
//	c' = f⊙c + i⊙u;  h' = o⊙tanh(c')
//
// It returns [h' | c'] as one (B, 2H) tensor (slice it apart). Backward,
// with upstream dh', dc' and t = tanh(c'): dc = dc' + dh'⊙o⊙(1-t²) is
// carried to c through f, and the gate gradients go to gx and gh alike.
// Tested against the same step composed from primitives.
func LSTMCell(gx, gh, c *Tensor) *Tensor {
	if gx.NDim() != 2 || !sameShape(gx.shape, gh.shape) || c.NDim() != 2 || c.shape[0] != gx.shape[0] || 4*c.shape[1] != gx.shape[1] {
		panic(fmt.Sprintf("tensor: LSTMCell with gates %v and %v and cell state %v (want (B, 4H), (B, 4H), (B, H))", gx.shape, gh.shape, c.shape))
	}
	b, h := c.shape[0], c.shape[1]
	out := newOutDirty("LSTMCell", []int{b, 2 * h}, gx, gh, c)
	act := scratch(out, b*4*h) // i, f, u, o
	tc := scratch(out, b*h)    // tanh(c')
	// The activations of the whole batch at once, through the vectorized
	// exp: σ(x) = 1/(1 + e^-x) and tanh(x) = 2σ(2x) - 1.
	for r := 0; r < b; r++ {
		a, x, y := act[r*4*h:(r+1)*4*h], gx.Data[r*4*h:(r+1)*4*h], gh.Data[r*4*h:(r+1)*4*h]
		for j := range a[:2*h] {
			a[j] = -(x[j] + y[j])
		}
		for j := 2 * h; j < 3*h; j++ {
			a[j] = -2 * (x[j] + y[j])
		}
		for j := 3 * h; j < 4*h; j++ {
			a[j] = -(x[j] + y[j])
		}
	}
	sigmoidTanh(act, 4*h, 2*h, 3*h)
	for r := 0; r < b; r++ {
		i, f, u := act[r*4*h:r*4*h+h], act[r*4*h+h:r*4*h+2*h], act[r*4*h+2*h:r*4*h+3*h]
		cp, cn, t := c.Data[r*h:(r+1)*h], out.Data[r*2*h+h:(r+1)*2*h], tc[r*h:(r+1)*h]
		for j := range cn {
			v := f[j]*cp[j] + i[j]*u[j]
			cn[j], t[j] = v, -2*v
		}
	}
	sigmoidTanh(tc, h, 0, h)
	for r := 0; r < b; r++ {
		o, t, hn := act[r*4*h+3*h:(r+1)*4*h], tc[r*h:(r+1)*h], out.Data[r*2*h:r*2*h+h]
		for j := range hn {
			hn[j] = o[j] * t[j]
		}
	}
	return out.record(func() {
		ggx, freshX := gradFresh(gx)
		ggh, freshH := gradFresh(gh)
		gc, d := gradOf(c), out.Grad.Data
		dgBuf := kernel.GetBuf(4 * h) // one row's gate gradients
		defer kernel.PutBuf(dgBuf)
		dg := *dgBuf
		for r := 0; r < b; r++ {
			a := act[r*4*h : (r+1)*4*h]
			for j := 0; j < h; j++ {
				i, f, u, o, t := a[j], a[h+j], a[2*h+j], a[3*h+j], tc[r*h+j]
				dh, dcn := d[r*2*h+j], d[r*2*h+h+j]
				dc := dcn + dh*o*(1-t*t)
				dg[j] = dc * u * i * (1 - i)
				dg[h+j] = dc * c.Data[r*h+j] * f * (1 - f)
				dg[2*h+j] = dc * i * (1 - u*u)
				dg[3*h+j] = dh * t * o * (1 - o)
				if gc != nil {
					gc[r*h+j] += dc * f
				}
			}
			// Both pre-activations get the gates' gradient.
			if ggx != nil {
				writeOrAdd(ggx[r*4*h:(r+1)*4*h], dg, freshX)
			}
			if ggh != nil {
				writeOrAdd(ggh[r*4*h:(r+1)*4*h], dg, freshH)
			}
		}
	})
}

// sigmoidTanh sets each z of x, rows of n values, to σ(-z) = 1/(1 + e^z),
// or, in columns [lo, hi) of each row, to tanh(-z/2) = 2/(1 + e^z) - 1:
// the caller negates (and doubles) the pre-activations, and the
// exponentials are the kernels' vectorized ones.
func sigmoidTanh(x []float32, n, lo, hi int) {
	kernel.ExpSum(x, x, 0)
	for r := 0; r < len(x); r += n {
		row := x[r : r+n]
		for j, e := range row[:lo] {
			row[j] = 1 / (1 + e)
		}
		mid := row[lo:hi]
		for j, e := range mid {
			mid[j] = 2/(1+e) - 1
		}
		end := row[hi:]
		for j, e := range end {
			end[j] = 1 / (1 + e)
		}
	}
}

// GRUCell is one step of a GRU as a fused op. gx and gh (B, 3H) are the
// input and recurrent pre-activations (W_ih·x + b_ih and W_hh·h + b_hh) in
// PyTorch's gate order r, z, n; h (B, H) is the previous state:
//
//	r = σ(gx_r + gh_r);  z = σ(gx_z + gh_z);  n = tanh(gx_n + r⊙gh_n)
//	h' = (1-z)⊙n + z⊙h
//
// It returns h' (B, H). Tested against the same step composed from
// primitives.
func GRUCell(gx, gh, h *Tensor) *Tensor {
	if gx.NDim() != 2 || !sameShape(gx.shape, gh.shape) || h.NDim() != 2 || h.shape[0] != gx.shape[0] || 3*h.shape[1] != gx.shape[1] {
		panic(fmt.Sprintf("tensor: GRUCell with gates %v and %v and state %v (want (B, 3H), (B, 3H), (B, H))", gx.shape, gh.shape, h.shape))
	}
	b, n := h.shape[0], h.shape[1]
	out := newOutDirty("GRUCell", []int{b, n}, gx, gh, h)
	act := scratch(out, b*3*n) // r, z, n
	// As LSTMCell: the gates of the whole batch through the vectorized exp,
	// r and z first (n needs r), then n.
	rz, ng := scratch(out, b*2*n), scratch(out, b*n)
	for row := 0; row < b; row++ {
		x, y, d := gx.Data[row*3*n:row*3*n+2*n], gh.Data[row*3*n:row*3*n+2*n], rz[row*2*n:(row+1)*2*n]
		for j := range d {
			d[j] = -(x[j] + y[j])
		}
	}
	sigmoidTanh(rz, 2*n, 2*n, 2*n)
	for row := 0; row < b; row++ {
		g := row*3*n + 2*n
		for j := 0; j < n; j++ {
			ng[row*n+j] = -2 * (gx.Data[g+j] + rz[row*2*n+j]*gh.Data[g+j])
		}
	}
	sigmoidTanh(ng, n, 0, n)
	for row := 0; row < b; row++ {
		a := act[row*3*n : (row+1)*3*n]
		copy(a[:2*n], rz[row*2*n:(row+1)*2*n])
		for j := 0; j < n; j++ {
			c, z := ng[row*n+j], a[n+j]
			a[2*n+j] = c
			out.Data[row*n+j] = c + z*(h.Data[row*n+j]-c)
		}
	}
	return out.record(func() {
		ggx, ggh, gh0, d := gradOf(gx), gradOf(gh), gradOf(h), out.Grad.Data
		for row := 0; row < b; row++ {
			g, a := row*3*n, act[row*3*n:(row+1)*3*n]
			for j := 0; j < n; j++ {
				r, z, c, dy := a[j], a[n+j], a[2*n+j], d[row*n+j]
				hp := h.Data[row*n+j]
				dc := dy * (1 - z) * (1 - c*c) // through n's tanh
				dz := dy * (hp - c) * z * (1 - z)
				dr := dc * gh.Data[g+2*n+j] * r * (1 - r)
				if ggx != nil {
					ggx[g+j] += dr
					ggx[g+n+j] += dz
					ggx[g+2*n+j] += dc
				}
				if ggh != nil {
					ggh[g+j] += dr
					ggh[g+n+j] += dz
					ggh[g+2*n+j] += dc * r
				}
				if gh0 != nil {
					gh0[row*n+j] += dy * z
				}
			}
		}
	})
}
