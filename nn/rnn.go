package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/moxing/moxing/tensor"
)

// RNNKind selects the recurrent cell of an RNN.
type RNNKind string

// The recurrent cells, as torch.nn.RNN, LSTM and GRU compute them, for an
// input x, previous hidden state h (and cell state c), with
// W·x meaning x·Wᵀ + b:
//
//	RNN:  h' = tanh(W_ih·x + W_hh·h)
//	LSTM: i, f, g, o = σ, σ, tanh, σ of the four quarters of W_ih·x + W_hh·h
//	      c' = f⊙c + i⊙g,  h' = o⊙tanh(c')
//	GRU:  r, z = σ of the first two thirds of W_ih·x + W_hh·h
//	      n = tanh(W_in·x + r⊙(W_hn·h)),  h' = (1-z)⊙n + z⊙h
const (
	KindRNN  RNNKind = "rnn"
	KindLSTM RNNKind = "lstm"
	KindGRU  RNNKind = "gru"
)

// gates returns the number of gate blocks of the cell (rows of W_ih per
// hidden unit).
func (k RNNKind) gates() int {
	switch k {
	case KindLSTM:
		return 4
	case KindGRU:
		return 3
	}
	return 1
}

// RNNCell holds the weights of one layer in one direction, in PyTorch's
// layout and gate order (LSTM: i, f, g, o; GRU: r, z, n).
type RNNCell struct {
	WeightIH *tensor.Tensor `nn:"weight_ih"` // (G·Hidden, In)
	WeightHH *tensor.Tensor `nn:"weight_hh"` // (G·Hidden, Hidden)
	BiasIH   *tensor.Tensor `nn:"bias_ih"`   // (G·Hidden)
	BiasHH   *tensor.Tensor `nn:"bias_hh"`   // (G·Hidden)
}

// RNN is a multi-layer recurrent network over batch-first sequences
// (B, T, In), as torch.nn.RNN, LSTM or GRU with batch_first=True: each layer
// runs its cell over the sequence (both ways when Bidirectional, the
// backward direction from the last step to the first, its outputs
// concatenated after the forward ones) and feeds its outputs to the next
// layer, with Dropout between layers in training mode. Gradients flow back
// through time. Parameters are named as PyTorch names them (weight_ih_l0,
// bias_hh_l1_reverse, …), so state dicts exchange directly.
type RNN struct {
	Kind          RNNKind `nn:"-"`
	Hidden        int     `nn:"-"`
	Layers        int     `nn:"-"`
	Bidirectional bool    `nn:"-"`
	// Cells holds layer l's direction d at index l·D + d (D = 2 when
	// Bidirectional, else 1).
	Cells []*RNNCell
	Drop  Dropout // between layers
}

// NewRNN returns an RNN of the given kind from in features to hidden units
// per direction, initialised as PyTorch does: every weight and bias from
// U(-1/√hidden, 1/√hidden).
func NewRNN(kind RNNKind, in, hidden, layers int, bidirectional bool, dropout float32, rng *rand.Rand) *RNN {
	if kind != KindRNN && kind != KindLSTM && kind != KindGRU {
		panic(fmt.Sprintf("nn: NewRNN: unknown kind %q (want rnn, lstm or gru)", kind))
	}
	if in < 1 || hidden < 1 || layers < 1 {
		panic(fmt.Sprintf("nn: NewRNN(%d inputs, %d hidden, %d layers): sizes must be positive", in, hidden, layers))
	}
	r := &RNN{Kind: kind, Hidden: hidden, Layers: layers, Bidirectional: bidirectional, Drop: Dropout{P: dropout}}
	g, b := kind.gates(), 1/math.Sqrt(float64(hidden))
	for l := 0; l < layers; l++ {
		lin := in
		if l > 0 {
			lin = hidden * r.dirs()
		}
		for d := 0; d < r.dirs(); d++ {
			c := &RNNCell{
				WeightIH: tensor.Zeros(g*hidden, lin).RequireGrad(), WeightHH: tensor.Zeros(g*hidden, hidden).RequireGrad(),
				BiasIH: tensor.Zeros(g * hidden).RequireGrad(), BiasHH: tensor.Zeros(g * hidden).RequireGrad(),
			}
			for _, t := range []*tensor.Tensor{c.WeightIH, c.WeightHH, c.BiasIH, c.BiasHH} {
				Uniform(t, -b, b, rng)
			}
			r.Cells = append(r.Cells, c)
		}
	}
	return r
}

func (r *RNN) dirs() int {
	if r.Bidirectional {
		return 2
	}
	return 1
}

// RenameParam maps "cells.K.weight_ih" to PyTorch's "weight_ih_lL" (with
// "_reverse" for the backward direction), K = L·D + direction.
func (r *RNN) RenameParam(path string) string {
	rest, ok := strings.CutPrefix(path, "cells.")
	if !ok {
		return path
	}
	idx, field, ok := strings.Cut(rest, ".")
	k, err := strconv.Atoi(idx)
	if !ok || err != nil {
		return path
	}
	name := field + "_l" + strconv.Itoa(k/r.dirs())
	if k%r.dirs() == 1 {
		name += "_reverse"
	}
	return name
}

// Forward runs the network over x (B, T, In) from zero initial states and
// returns the last layer's outputs at every step, (B, T, D·Hidden).
func (r *RNN) Forward(x *tensor.Tensor) *tensor.Tensor {
	out, _, _ := r.ForwardState(x, nil, nil, nil)
	return out
}

// ForwardState is Forward with sequence lengths and initial states.
//
// lengths, when not nil, gives each row's length (1 ≤ lengths[i] ≤ T) in a
// right-padded batch, with PyTorch's packed-sequence semantics: a row's
// state stops changing after its last step, so the forward direction ends
// on it and the backward direction starts from it; outputs past a row's
// length are 0. h0 (and, for an LSTM, c0), each (Layers·D, B, Hidden) as in
// PyTorch, are the initial states, nil for zeros.
//
// It returns the outputs (B, T, D·Hidden) and the final states hN (and cN
// for an LSTM; nil otherwise), each (Layers·D, B, Hidden), in PyTorch's
// order: layer by layer, the backward direction after the forward one.
func (r *RNN) ForwardState(x *tensor.Tensor, lengths []int, h0, c0 *tensor.Tensor) (out, hN, cN *tensor.Tensor) {
	in := r.Cells[0].WeightIH.Dim(1)
	if x.NDim() != 3 || x.Dim(2) != in || x.Dim(1) < 1 {
		panic(fmt.Sprintf("nn: %s with %d inputs applied to shape %v (want (B, T, %d), T ≥ 1)", strings.ToUpper(string(r.Kind)), in, x.Shape(), in))
	}
	b, steps := x.Dim(0), x.Dim(1)
	states := r.Layers * r.dirs()
	for _, s := range []*tensor.Tensor{h0, c0} {
		if s != nil && (s.NDim() != 3 || s.Dim(0) != states || s.Dim(1) != b || s.Dim(2) != r.Hidden) {
			panic(fmt.Sprintf("nn: %s initial state of shape %v, want (%d, %d, %d)", strings.ToUpper(string(r.Kind)), s.Shape(), states, b, r.Hidden))
		}
	}
	if c0 != nil && r.Kind != KindLSTM {
		panic("nn: an initial cell state c0 is only for an LSTM")
	}
	var masks []*tensor.Tensor // masks[t] is (B, 1): 1 where step t is within the row
	if lengths != nil {
		if len(lengths) != b {
			panic(fmt.Sprintf("nn: %d sequence lengths for a batch of %d", len(lengths), b))
		}
		masks = make([]*tensor.Tensor, steps)
		for t := range masks {
			masks[t] = tensor.Zeros(b, 1)
			for i, n := range lengths {
				if n < 1 || n > steps {
					panic(fmt.Sprintf("nn: sequence length %d of row %d outside [1, %d]", n, i, steps))
				}
				if t < n {
					masks[t].Data[i] = 1
				}
			}
		}
	}
	initial := func(s *tensor.Tensor, k int) *tensor.Tensor {
		if s == nil {
			return tensor.Zeros(b, r.Hidden)
		}
		return s.Slice(0, k, k+1).Reshape(b, r.Hidden)
	}
	var hs, cs []*tensor.Tensor
	layerIn := x
	for l := 0; l < r.Layers; l++ {
		if l > 0 {
			layerIn = r.Drop.Forward(layerIn)
		}
		var outs []*tensor.Tensor
		for d := 0; d < r.dirs(); d++ {
			k := l*r.dirs() + d
			var c *tensor.Tensor
			if r.Kind == KindLSTM {
				c = initial(c0, k)
			}
			seq, h, c := r.run(r.Cells[k], layerIn, masks, initial(h0, k), c, d == 1)
			outs = append(outs, seq)
			hs, cs = append(hs, h), append(cs, c)
		}
		layerIn = outs[0]
		if len(outs) == 2 {
			layerIn = tensor.Concat(2, outs...)
		}
	}
	hN = tensor.Stack(0, hs...)
	if r.Kind == KindLSTM {
		cN = tensor.Stack(0, cs...)
	}
	return layerIn, hN, cN
}

// run runs one cell over the sequence x (B, T, In) from states h (and c),
// backwards in time when reverse, and returns the outputs (B, T, Hidden) in
// time order with the final states. With masks, a row keeps its state (and
// outputs 0) at the steps past its length.
func (r *RNN) run(cell *RNNCell, x *tensor.Tensor, masks []*tensor.Tensor, h, c *tensor.Tensor, reverse bool) (seq, hT, cT *tensor.Tensor) {
	b, steps, n := x.Dim(0), x.Dim(1), r.Hidden
	// The input projections of every step at once: one GEMM, (B, T, G·H).
	xw := x.Linear(cell.WeightIH, cell.BiasIH, true)
	// The recurrent weight packed once for all the steps' products.
	whh := cell.WeightHH
	if steps > 1 && b >= 4 {
		whh = whh.Packed(true)
	}
	outs := make([]*tensor.Tensor, steps)
	for s := 0; s < steps; s++ {
		t := s
		if reverse {
			t = steps - 1 - s
		}
		gx := xw.Slice(1, t, t+1).Reshape(b, -1)
		gh := h.Linear(whh, cell.BiasHH, true)
		var hNew, cNew *tensor.Tensor
		switch r.Kind {
		case KindRNN:
			hNew = gx.Add(gh).Tanh()
		case KindLSTM:
			hc := tensor.LSTMCell(gx, gh, c) // [h' | c']
			hNew, cNew = hc.Slice(1, 0, n), hc.Slice(1, n, 2*n)
		case KindGRU:
			hNew = tensor.GRUCell(gx, gh, h)
		}
		if masks == nil {
			h, c = hNew, cNew
			outs[t] = h
			continue
		}
		// h = h + m⊙(h' - h): rows past their length keep their state.
		m := masks[t]
		h = h.Add(m.Mul(hNew.Sub(h)))
		if c != nil {
			c = c.Add(m.Mul(cNew.Sub(c)))
		}
		outs[t] = m.Mul(h)
	}
	return tensor.Stack(1, outs...), h, c
}
