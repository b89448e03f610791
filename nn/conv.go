package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/moxing/moxing/tensor"
)

// Conv2d is a 2-D convolution over (N, C, H, W) images, in PyTorch's
// layout (see tensor.Conv2d for the formula).
type Conv2d struct {
	Weight *tensor.Tensor // (Out, In/Groups, KH, KW)
	Bias   *tensor.Tensor // (Out); nil for a layer without bias
	Opts   tensor.Conv2dOpts
}

// NewConv2d returns a Conv2d from in to out channels with a kh×kw kernel,
// initialised as PyTorch does: weight and bias from U(-1/√fanIn, 1/√fanIn),
// fanIn = in/groups·kh·kw. It panics when groups do not divide in and out.
func NewConv2d(in, out, kh, kw int, opts tensor.Conv2dOpts, bias bool, rng *rand.Rand) *Conv2d {
	g := max(opts.Groups, 1)
	if in < 1 || out < 1 || kh < 1 || kw < 1 || in%g != 0 || out%g != 0 {
		panic(fmt.Sprintf("nn: Conv2d(%d→%d, %d×%d kernel, %d groups): channels and kernel must be positive, channels divisible by groups", in, out, kh, kw, g))
	}
	c := &Conv2d{Weight: tensor.Zeros(out, in/g, kh, kw).RequireGrad(), Opts: opts}
	b := 1 / math.Sqrt(float64(in/g*kh*kw))
	Uniform(c.Weight, -b, b, rng)
	if bias {
		c.Bias = tensor.Zeros(out).RequireGrad()
		Uniform(c.Bias, -b, b, rng)
	}
	return c
}

// OutShape returns the shape of the layer's output for an input of shape
// x, or an error naming what does not fit (channels, an empty output).
func (c *Conv2d) OutShape(x []int) ([]int, error) {
	return tensor.Conv2dShape(x, c.Weight.Shape(), c.Opts)
}

// Forward maps x (N, In, H, W) to (N, Out, OutH, OutW).
func (c *Conv2d) Forward(x *tensor.Tensor) *tensor.Tensor {
	if _, err := c.OutShape(x.Shape()); err != nil {
		panic("nn: Conv2d: " + err.Error())
	}
	return tensor.Conv2d(x, c.Weight, c.Bias, c.Opts)
}

// MaxPool2d takes the maximum of each window (tensor.MaxPool2d).
type MaxPool2d struct{ Opts tensor.Pool2dOpts }

// Forward maps x (N, C, H, W) to (N, C, OutH, OutW).
func (p *MaxPool2d) Forward(x *tensor.Tensor) *tensor.Tensor { return x.MaxPool2d(p.Opts) }

// AvgPool2d takes the mean of each window (tensor.AvgPool2d).
type AvgPool2d struct{ Opts tensor.Pool2dOpts }

// Forward maps x (N, C, H, W) to (N, C, OutH, OutW).
func (p *AvgPool2d) Forward(x *tensor.Tensor) *tensor.Tensor { return x.AvgPool2d(p.Opts) }

// Flatten turns (N, d1, d2, …) into (N, d1·d2·…), as torch.nn.Flatten.
type Flatten struct{}

// Forward reshapes x to (N, -1).
func (Flatten) Forward(x *tensor.Tensor) *tensor.Tensor { return x.Reshape(x.Dim(0), -1) }

// BatchNorm2d normalises each channel of (N, C, H, W) images, as
// torch.nn.BatchNorm2d. In training mode (see Train) it uses the batch's
// mean and biased variance over (N, H, W) and updates the running
// statistics, r = (1-Momentum)·r + Momentum·batch (with the unbiased
// variance); in evaluation mode, how every layer starts, it uses the running
// statistics:
//
//	y = (x - mean)/√(var + Eps)·Weight + Bias
//
// The running statistics are part of the model's state (saved in
// checkpoints, named as PyTorch names them) but not trained.
type BatchNorm2d struct {
	Weight      *tensor.Tensor // (C), initialised to 1
	Bias        *tensor.Tensor // (C), initialised to 0
	RunningMean *tensor.Tensor `nn:"running_mean"` // (C), initialised to 0
	RunningVar  *tensor.Tensor `nn:"running_var"`  // (C), initialised to 1
	Eps         float32
	Momentum    float32
	Training    bool
}

// NewBatchNorm2d returns a BatchNorm2d over c channels with PyTorch's
// defaults: Eps 1e-5, Momentum 0.1.
func NewBatchNorm2d(c int) *BatchNorm2d {
	return &BatchNorm2d{
		Weight: tensor.Ones(c).RequireGrad(), Bias: tensor.Zeros(c).RequireGrad(),
		RunningMean: tensor.Zeros(c), RunningVar: tensor.Ones(c),
		Eps: 1e-5, Momentum: 0.1,
	}
}

// Forward normalises x (N, C, H, W).
func (bn *BatchNorm2d) Forward(x *tensor.Tensor) *tensor.Tensor {
	c := bn.Weight.Dim(0)
	if x.NDim() != 4 || x.Dim(1) != c {
		panic(fmt.Sprintf("nn: BatchNorm2d over %d channels applied to shape %v (want (N, %d, H, W))", c, x.Shape(), c))
	}
	if !bn.Training {
		// y = x·s + (b - mean·s), s = w/√(var + eps), per channel.
		s := bn.Weight.Div(bn.RunningVar.AddScalar(bn.Eps).Sqrt())
		shift := bn.Bias.Sub(bn.RunningMean.Mul(s))
		return x.Mul(s.Reshape(c, 1, 1)).Add(shift.Reshape(c, 1, 1))
	}
	y, mean, variance := x.BatchNorm(bn.Weight, bn.Bias, bn.Eps)
	m := float32(x.Numel() / c)
	for i := range c {
		bn.RunningMean.Data[i] = (1-bn.Momentum)*bn.RunningMean.Data[i] + bn.Momentum*mean[i]
		bn.RunningVar.Data[i] = (1-bn.Momentum)*bn.RunningVar.Data[i] + bn.Momentum*variance[i]*m/(m-1)
	}
	return y
}
