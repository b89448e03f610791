// Package tensor is moxing's float32 N-dimensional array with eager
// reverse-mode automatic differentiation.
//
// Every op computes its result at once. When an input requires a gradient,
// the op also records its inputs
// and a backward closure on the result; Backward walks these records in
// reverse topological order and accumulates gradients into Grad. Each op's
// backward sits right below its forward, with the derivative in its doc
// comment.
//
// Storage is always contiguous and row-major. Shape mistakes inside model code
// are programming errors: ops panic with the op name and the shapes involved.
//
// A Tensor is not safe for concurrent mutation; concurrent read-only use of
// tensors (e.g. model weights while serving) is safe. For inference, compute
// on tensors that need no gradient (Detach, or nn.Detach for a whole model):
// then nothing is recorded and no graph memory is kept.
package tensor

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/moxing/moxing/internal/kernel"
)

// Tensor is an N-dimensional float32 array that may carry a gradient.
type Tensor struct {
	// Data holds the elements in row-major order; len(Data) == Numel().
	// Reshape shares Data with its input; every other op returns new storage.
	Data []float32
	// Grad is the gradient of the last Backward's root with respect to this
	// tensor, same shape. It is nil until Backward reaches the tensor and
	// accumulates (+=) across Backward calls until ZeroGrad, which sets it
	// to nil again.
	Grad *Tensor
	// spare is the gradient ZeroGrad took away, whose storage the next
	// Backward writes into rather than allocating.
	spare *Tensor

	shape        []int
	requiresGrad bool
	packed       *kernel.PackedB  // see Packed; nil for most tensors
	sums         *packedGrads     // see Packed: its products' weight gradients, summed in one GEMM
	q8           *kernel.Q8Panels // see Q8; nil for most tensors
	q8Trans      bool             // q8's (or f16's) rows are the rows of the matrix (its transpose's, otherwise)
	f16          *kernel.F16      // see F16; nil for most tensors

	// The record of the op that produced this tensor, set only when recording.
	op       string
	parents  []*Tensor
	backward func() // reads t.Grad, accumulates into the parents' Grad
	freed    bool   // Backward has run through t and dropped its record

	// arena, when set, lends storage to the results of ops on t (see
	// Arena); gen is the arena generation t's own storage came from, 0 when
	// it is not the arena's.
	arena *Arena
	gen   uint64
	// slot is 1 + the index in its arena's lent list of a gradient's
	// storage, so that Backward can hand it back once it is consumed; 0
	// otherwise.
	slot int
}

// New returns a tensor of the given shape that uses data as its storage (no
// copy). It panics if len(data) is not the product of shape.
func New(data []float32, shape ...int) *Tensor {
	if n := numel(shape); n != len(data) {
		panic(fmt.Sprintf("tensor: New: %d values do not fill shape %v (%d)", len(data), shape, n))
	}
	return &Tensor{Data: data, shape: append([]int(nil), shape...)}
}

// Zeros returns a tensor of the given shape filled with 0.
func Zeros(shape ...int) *Tensor {
	checkShape("Zeros", shape)
	return &Tensor{Data: make([]float32, numel(shape)), shape: append([]int(nil), shape...)}
}

// Full returns a tensor of the given shape filled with v.
func Full(v float32, shape ...int) *Tensor {
	t := Zeros(shape...)
	for i := range t.Data {
		t.Data[i] = v
	}
	return t
}

// Ones returns a tensor of the given shape filled with 1.
func Ones(shape ...int) *Tensor { return Full(1, shape...) }

// Scalar returns a 0-dimensional tensor holding v.
func Scalar(v float32) *Tensor { return &Tensor{Data: []float32{v}, shape: []int{}} }

// Randn returns a tensor of the given shape with elements drawn from N(0, 1).
func Randn(rng *rand.Rand, shape ...int) *Tensor {
	t := Zeros(shape...)
	for i := range t.Data {
		t.Data[i] = float32(rng.NormFloat64())
	}
	return t
}

// Rand returns a tensor of the given shape with elements drawn from U[lo, hi).
func Rand(rng *rand.Rand, lo, hi float32, shape ...int) *Tensor {
	t := Zeros(shape...)
	for i := range t.Data {
		t.Data[i] = lo + (hi-lo)*rng.Float32()
	}
	return t
}

// Shape returns a copy of the tensor's shape.
func (t *Tensor) Shape() []int { return append([]int(nil), t.shape...) }

// Dim returns the size of axis i; negative i counts from the end.
func (t *Tensor) Dim(i int) int { return t.shape[t.axis("Dim", i)] }

// NDim returns the number of axes.
func (t *Tensor) NDim() int { return len(t.shape) }

// Numel returns the number of elements.
func (t *Tensor) Numel() int { return len(t.Data) }

// Item returns the only element of a one-element tensor.
func (t *Tensor) Item() float32 {
	if len(t.Data) != 1 {
		panic(fmt.Sprintf("tensor: Item of a tensor of shape %v", t.shape))
	}
	return t.Data[0]
}

// RequireGrad marks a leaf tensor as needing a gradient and returns it, so
// that Backward fills its Grad. Parameters are created this way.
func (t *Tensor) RequireGrad() *Tensor {
	if t.parents != nil {
		panic("tensor: RequireGrad on a non-leaf tensor (output of " + t.op + ")")
	}
	t.requiresGrad = true
	return t
}

// SetRequiresGrad turns t's gradient on or off and returns t. Turning it
// off freezes a parameter: Backward no longer computes its gradient, and
// the one it has is dropped, so optimizers skip it.
func (t *Tensor) SetRequiresGrad(on bool) *Tensor {
	if on {
		return t.RequireGrad()
	}
	t.requiresGrad, t.Grad = false, nil
	return t
}

// RequiresGrad reports whether Backward computes a gradient for t.
func (t *Tensor) RequiresGrad() bool { return t.requiresGrad }

// ZeroGrad drops t's gradient: Grad becomes nil, as after PyTorch's
// zero_grad() (set_to_none, its default since 2.0), and optimizers skip
// t until a Backward reaches it again. That Backward reuses the storage
// (and the Grad tensor) and writes its first contribution into it rather
// than adding it to zeros: a weight's gradient GEMM then does not read the
// old one back, and nothing clears it.
func (t *Tensor) ZeroGrad() {
	if t.Grad != nil && t.Grad.slot == 0 { // an arena's storage goes back with the arena
		t.spare = t.Grad
	}
	t.Grad = nil
}

// Detach returns a tensor that shares t's data but has no history and needs
// no gradient. Ops on it allocate from the heap, unless t's own storage is
// an arena's (then the result is as short-lived as t).
func (t *Tensor) Detach() *Tensor {
	d := &Tensor{Data: t.Data, shape: t.shape, q8: t.q8, q8Trans: t.q8Trans, f16: t.f16}
	if t.gen != 0 {
		d.arena, d.gen = t.arena, t.gen
	}
	return d
}

// Clone returns a copy of t's data with no history.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Data: append([]float32(nil), t.Data...), shape: append([]int(nil), t.shape...)}
}

// Op returns the name of the op that produced t ("" for a leaf or an
// unrecorded result).
func (t *Tensor) Op() string { return t.op }

// String formats the tensor's shape and up to 8 leading values.
func (t *Tensor) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Tensor%v[", t.shape)
	for i, v := range t.Data {
		if i == 8 {
			b.WriteString(" …")
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.5g", v)
	}
	b.WriteByte(']')
	return b.String()
}

// axis resolves a possibly negative axis against t's rank, panicking with the
// op name when it is out of range.
func (t *Tensor) axis(op string, i int) int {
	n := len(t.shape)
	if i < 0 {
		i += n
	}
	if i < 0 || i >= n {
		panic(fmt.Sprintf("tensor: %s: axis %d out of range for shape %v", op, i, t.shape))
	}
	return i
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func checkShape(op string, shape []int) {
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor: %s: negative dimension in shape %v", op, shape))
		}
	}
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// stridesOf returns the row-major strides of shape.
func stridesOf(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}
