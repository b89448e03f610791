package train

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"unsafe"

	"github.com/moxing/moxing/dist"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/tensor"
)

// The data-parallel machinery both loops share (their Comm fields).

// errPeerStopped is Fit's error on a rank that stopped because another
// rank's context was cancelled.
var errPeerStopped = errors.New("train: another rank stopped the run")

// agreeStop reports whether any rank's ctx is cancelled, on every rank, so
// that all stop at the same point (with one process: whether ctx is).
func agreeStop(ctx context.Context, comm dist.Comm) (bool, error) {
	if comm.Size() == 1 {
		return ctx.Err() != nil, nil // no collective, no allocation, each step
	}
	flag := []float32{0}
	if ctx.Err() != nil {
		flag[0] = 1
	}
	if err := comm.AllReduce(flag); err != nil {
		return false, err
	}
	return flag[0] > 0, nil
}

// reduceGrads scales this rank's gradients and loss by weight (its share
// of the global batch) and replaces them with their sums over the ranks,
// and returns the summed loss. The gradients travel as one flat buffer
// (*flat, reused), all-reduced in buckets (dist.AllReduceBuckets). A
// trained parameter without a gradient on this rank (it saw no rows)
// counts as zeros, so every rank sends the same layout.
func reduceGrads(params []nn.Param, loss float64, weight float32, comm dist.Comm, flat *[]float32) (float64, error) {
	n := 1
	for _, p := range params {
		if p.Grad == nil && p.RequiresGrad() {
			p.Grad = tensor.Zeros(p.Shape()...)
		}
		if p.Grad != nil {
			n += p.Grad.Numel()
		}
	}
	if cap(*flat) < n {
		*flat = make([]float32, n)
	}
	buf := (*flat)[:n]
	off := 0
	for _, p := range params {
		if p.Grad != nil {
			for i, g := range p.Grad.Data {
				buf[off+i] = g * weight
			}
			off += p.Grad.Numel()
		}
	}
	buf[off] = float32(loss) * weight
	if err := dist.AllReduceBuckets(comm, buf); err != nil {
		return 0, err
	}
	off = 0
	for _, p := range params {
		if p.Grad != nil {
			off += copy(p.Grad.Data, buf[off:off+p.Grad.Numel()])
		}
	}
	return float64(buf[off]), nil
}

// syncFromRoot makes every rank start where rank 0 stands: its weights,
// its optimizer state, its loop state (*loop, as JSON) and its random
// number generators.
func syncFromRoot(params []nn.Param, opt optim.Optimizer, loop any, comm dist.Comm, pcgs ...*rand.PCG) error {
	for _, p := range params {
		if err := comm.Broadcast(floatBytes(p.Data), 0); err != nil {
			return err
		}
	}
	var blob []byte
	if comm.Rank() == 0 {
		st := rootState{Opt: map[string]stateTensor{}}
		var err error
		if st.Loop, err = json.Marshal(loop); err != nil {
			return err
		}
		for k, v := range opt.State() {
			st.Opt[k] = stateTensor{v.Shape(), v.Data}
		}
		for _, g := range pcgs {
			b, err := g.MarshalBinary()
			if err != nil {
				return err
			}
			st.PCGs = append(st.PCGs, b)
		}
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(st); err != nil {
			return fmt.Errorf("train: rank 0's state: %w", err)
		}
		blob = buf.Bytes()
	}
	blob, err := dist.BroadcastBlob(comm, blob, 0)
	if err != nil || comm.Rank() == 0 {
		return err
	}
	var st rootState
	if err := gob.NewDecoder(bytes.NewReader(blob)).Decode(&st); err != nil {
		return fmt.Errorf("train: rank 0's state: %w", err)
	}
	if err := json.Unmarshal(st.Loop, loop); err != nil {
		return fmt.Errorf("train: rank 0's loop state: %w", err)
	}
	state := map[string]*tensor.Tensor{}
	for k, v := range st.Opt {
		n := 1
		for _, d := range v.Shape {
			n *= d
		}
		if n != len(v.Data) {
			return fmt.Errorf("train: rank 0's optimizer state %s: %d values for shape %v", k, len(v.Data), v.Shape)
		}
		state[k] = tensor.New(v.Data, v.Shape...)
	}
	if err := opt.LoadState(state); err != nil {
		return err
	}
	if len(st.PCGs) != len(pcgs) {
		return fmt.Errorf("train: rank 0 sent %d generators, want %d", len(st.PCGs), len(pcgs))
	}
	for i, g := range pcgs {
		if err := g.UnmarshalBinary(st.PCGs[i]); err != nil {
			return err
		}
	}
	return nil
}

// broadcastGob sets *v on every rank to rank 0's *v (gob: NaN survives).
func broadcastGob(comm dist.Comm, v any) error {
	var blob []byte
	if comm.Rank() == 0 {
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(v); err != nil {
			return err
		}
		blob = buf.Bytes()
	}
	blob, err := dist.BroadcastBlob(comm, blob, 0)
	if err != nil || comm.Rank() == 0 {
		return err
	}
	return gob.NewDecoder(bytes.NewReader(blob)).Decode(v)
}

// rootState is what syncFromRoot sends besides the weights.
type rootState struct {
	Loop []byte
	Opt  map[string]stateTensor
	PCGs [][]byte
}

type stateTensor struct {
	Shape []int
	Data  []float32
}

// floatBytes is the bytes of f, in place.
func floatBytes(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
}
