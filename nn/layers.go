package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/moxing/moxing/tensor"
)

// Layer is anything that maps one tensor to another: every layer here, and
// Sequential itself.
type Layer interface {
	Forward(x *tensor.Tensor) *tensor.Tensor
}

// Linear is the affine map y = x·Wᵀ + b, in PyTorch's layout.
type Linear struct {
	Weight *tensor.Tensor // (Out, In)
	Bias   *tensor.Tensor // (Out); nil for a layer without bias
}

// NewLinear returns a Linear layer from in to out features, initialised as
// PyTorch does: weight and bias from U(-1/√in, 1/√in).
func NewLinear(in, out int, bias bool, rng *rand.Rand) *Linear {
	b := 1 / math.Sqrt(float64(in))
	l := &Linear{Weight: tensor.Zeros(out, in).RequireGrad()}
	Uniform(l.Weight, -b, b, rng)
	if bias {
		l.Bias = tensor.Zeros(out).RequireGrad()
		Uniform(l.Bias, -b, b, rng)
	}
	return l
}

// Forward maps x (..., In) to (..., Out).
func (l *Linear) Forward(x *tensor.Tensor) *tensor.Tensor {
	if in := l.Weight.Dim(1); x.NDim() == 0 || x.Dim(-1) != in {
		panic(fmt.Sprintf("nn: Linear with %d inputs applied to shape %v", in, x.Shape()))
	}
	return x.Linear(l.Weight, l.Bias, true) // (..., In)·(Out, In)ᵀ + (Out)
}

// Embedding is a lookup table of V vectors of C features.
type Embedding struct {
	Weight *tensor.Tensor // (V, C)
}

// NewEmbedding returns an Embedding of v rows of c features drawn from N(0, 1),
// as PyTorch initialises it.
func NewEmbedding(v, c int, rng *rand.Rand) *Embedding {
	e := &Embedding{Weight: tensor.Zeros(v, c).RequireGrad()}
	Normal(e.Weight, 0, 1, rng)
	return e
}

// Forward returns the rows of ids, (len(ids), C). Reshape the result to
// (B, T, C) for a batch of sequences. It panics on an id outside [0, V).
func (e *Embedding) Forward(ids []int) *tensor.Tensor {
	return e.Weight.IndexSelect(0, ids)
}

// LayerNorm normalises the last axis to zero mean and unit variance, then
// scales and shifts it: y = (x - E[x]) / √(Var[x] + Eps) · Weight + Bias,
// with the population variance, as PyTorch.
type LayerNorm struct {
	Weight *tensor.Tensor // (C), initialised to 1
	Bias   *tensor.Tensor // (C), initialised to 0
	Eps    float32
}

// NewLayerNorm returns a LayerNorm over c features with Eps 1e-5.
func NewLayerNorm(c int) *LayerNorm {
	return &LayerNorm{Weight: tensor.Ones(c).RequireGrad(), Bias: tensor.Zeros(c).RequireGrad(), Eps: 1e-5}
}

// Forward normalises x (..., C) with the fused tensor.LayerNorm.
func (l *LayerNorm) Forward(x *tensor.Tensor) *tensor.Tensor {
	if c := l.Weight.Dim(0); x.NDim() == 0 || x.Dim(-1) != c {
		panic(fmt.Sprintf("nn: LayerNorm over %d features applied to shape %v", c, x.Shape()))
	}
	return x.LayerNorm(l.Weight, l.Bias, l.Eps)
}

// Dropout zeroes each element with probability P during training and scales
// the rest by 1/(1-P). It is in training mode while RNG is set (see Train)
// and passes its input through when RNG is nil (see Eval), which is how
// every layer starts.
type Dropout struct {
	P   float32
	RNG *rand.Rand `nn:"-"`
}

// Forward applies dropout to x in training mode, or returns x.
func (d *Dropout) Forward(x *tensor.Tensor) *tensor.Tensor {
	if d.RNG == nil || d.P == 0 {
		return x
	}
	return x.Dropout(d.P, d.RNG)
}

// ReLU is the layer form of tensor.ReLU.
type ReLU struct{}

// Forward returns max(x, 0).
func (ReLU) Forward(x *tensor.Tensor) *tensor.Tensor { return x.ReLU() }

// Tanh is the layer form of tensor.Tanh.
type Tanh struct{}

// Forward returns tanh(x).
func (Tanh) Forward(x *tensor.Tensor) *tensor.Tensor { return x.Tanh() }

// Sigmoid is the layer form of tensor.Sigmoid.
type Sigmoid struct{}

// Forward returns σ(x).
func (Sigmoid) Forward(x *tensor.Tensor) *tensor.Tensor { return x.Sigmoid() }

// GELU is the layer form of tensor.GELU (GPT-2's tanh approximation).
type GELU struct{}

// Forward returns GELU(x).
func (GELU) Forward(x *tensor.Tensor) *tensor.Tensor { return x.GELU() }

// Activation returns the activation layer called name: "relu", "tanh",
// "sigmoid" or "gelu".
func Activation(name string) (Layer, error) {
	switch name {
	case "relu":
		return ReLU{}, nil
	case "tanh":
		return Tanh{}, nil
	case "sigmoid":
		return Sigmoid{}, nil
	case "gelu":
		return GELU{}, nil
	}
	return nil, fmt.Errorf("nn: unknown activation %q (want relu, tanh, sigmoid or gelu)", name)
}

// Sequential applies its layers in order. Its parameters are named by layer
// index: 0.weight, 0.bias, 2.weight, …
type Sequential struct {
	Layers []Layer `nn:",inline"`
}

// NewSequential returns a Sequential of layers.
func NewSequential(layers ...Layer) *Sequential { return &Sequential{Layers: layers} }

// Forward runs x through every layer.
func (s *Sequential) Forward(x *tensor.Tensor) *tensor.Tensor {
	for _, l := range s.Layers {
		x = l.Forward(x)
	}
	return x
}

// NewMLP returns a multilayer perceptron with Linear layers of the given
// sizes (sizes[0] inputs, sizes[len-1] outputs), each hidden layer followed
// by act and, when dropout > 0, a Dropout. The output layer has no
// activation: it yields logits or regression values.
func NewMLP(sizes []int, act Layer, dropout float32, rng *rand.Rand) *Sequential {
	if len(sizes) < 2 {
		panic(fmt.Sprintf("nn: NewMLP needs at least input and output sizes, got %v", sizes))
	}
	s := &Sequential{}
	for i := 0; i+1 < len(sizes); i++ {
		s.Layers = append(s.Layers, NewLinear(sizes[i], sizes[i+1], true, rng))
		if i+2 < len(sizes) {
			s.Layers = append(s.Layers, act)
			if dropout > 0 {
				s.Layers = append(s.Layers, &Dropout{P: dropout})
			}
		}
	}
	return s
}
