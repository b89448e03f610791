// Package cnn is a small convolutional network for image classification in
// the LeNet / "simple ConvNet" family: blocks of convolution, optional batch
// normalisation, ReLU and 2×2 max pooling, then fully connected layers.
package cnn

import (
	"fmt"
	"math/rand/v2"

	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
)

// Config describes a ConvNet. It is saved in checkpoints as JSON.
type Config struct {
	Channels int `json:"channels"` // input channels (1 for gray images)
	Height   int `json:"height"`   // input height in pixels
	Width    int `json:"width"`    // input width in pixels
	// Conv lists the output channels of each block:
	// Conv2d(Kernel×Kernel, padding Kernel/2) → [BatchNorm2d] → ReLU → MaxPool2d(2×2).
	Conv      []int   `json:"conv"`
	Kernel    int     `json:"kernel"`     // convolution kernel size (odd; default 3)
	BatchNorm bool    `json:"batch_norm"` // batch normalisation after each convolution (which then has no bias)
	Hidden    []int   `json:"hidden"`     // widths of the fully connected hidden layers
	Outputs   int     `json:"outputs"`    // logits (1 for two classes)
	Dropout   float32 `json:"dropout"`    // dropout before each fully connected layer, in [0, 1)
}

// MNIST is the default ConvNet for 28×28 digits: two blocks of 32 and 64
// channels, one hidden layer of 128.
func MNIST() Config {
	return Config{Channels: 1, Height: 28, Width: 28, Conv: []int{32, 64}, Kernel: 3, Hidden: []int{128}, Outputs: 10, Dropout: 0.25}
}

// Validate reports the first problem with c, naming the block whose output
// would be empty.
func (c *Config) Validate() error {
	if c.Kernel == 0 {
		c.Kernel = 3
	}
	switch {
	case c.Channels < 1 || c.Height < 1 || c.Width < 1:
		return fmt.Errorf("cnn: input %d×%d×%d, want positive channels, height and width", c.Channels, c.Height, c.Width)
	case c.Kernel < 1 || c.Kernel%2 == 0:
		return fmt.Errorf("cnn: kernel %d, want an odd size ≥ 1", c.Kernel)
	case c.Outputs < 1:
		return fmt.Errorf("cnn: %d outputs, want at least 1", c.Outputs)
	case c.Dropout < 0 || c.Dropout >= 1:
		return fmt.Errorf("cnn: dropout %v outside [0, 1)", c.Dropout)
	}
	for _, h := range c.Hidden {
		if h < 1 {
			return fmt.Errorf("cnn: hidden layer width %d, want at least 1", h)
		}
	}
	_, err := c.features()
	return err
}

// features returns the number of values a flattened image has after the
// convolution blocks, or an error naming a block whose output is empty.
func (c *Config) features() (int, error) {
	shape := []int{1, c.Channels, c.Height, c.Width}
	for i, out := range c.Conv {
		if out < 1 {
			return 0, fmt.Errorf("cnn: block %d has %d channels, want at least 1", i+1, out)
		}
		s, err := tensor.Conv2dShape(shape, []int{out, shape[1], c.Kernel, c.Kernel}, c.convOpts())
		if err == nil {
			s, err = tensor.Pool2dShape(s, pool)
		}
		if err != nil {
			return 0, fmt.Errorf("cnn: block %d (%d channels, %d×%d convolution, 2×2 max pool) over a %d×%d input: %v",
				i+1, out, c.Kernel, c.Kernel, shape[2], shape[3], err)
		}
		shape = s
	}
	return shape[1] * shape[2] * shape[3], nil
}

func (c *Config) convOpts() tensor.Conv2dOpts {
	return tensor.Conv2dOpts{Padding: [2]int{c.Kernel / 2, c.Kernel / 2}}
}

var pool = tensor.Pool2dOpts{Kernel: [2]int{2, 2}}

// Model is a ConvNet. Its parameters are named by layer index, as a
// PyTorch nn.Sequential of the same layers: 0.weight (the first
// convolution), 1.weight and 1.running_mean (its batch norm), …
type Model struct {
	Config Config         `nn:"-"`
	Net    *nn.Sequential `nn:",inline"`
}

// New builds a ConvNet from cfg with PyTorch's default initialisation.
func New(cfg Config, rng *rand.Rand) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	net := &nn.Sequential{}
	in := cfg.Channels
	for _, out := range cfg.Conv {
		net.Layers = append(net.Layers, nn.NewConv2d(in, out, cfg.Kernel, cfg.Kernel, cfg.convOpts(), !cfg.BatchNorm, rng))
		if cfg.BatchNorm {
			net.Layers = append(net.Layers, nn.NewBatchNorm2d(out))
		}
		// Pooling before ReLU: max and ReLU commute (ReLU is monotonic), and
		// their gradients agree, so this is Conv → ReLU → MaxPool on a
		// quarter of the values.
		net.Layers = append(net.Layers, &nn.MaxPool2d{Opts: pool}, nn.ReLU{})
		in = out
	}
	net.Layers = append(net.Layers, nn.Flatten{})
	features, _ := cfg.features()
	sizes := append(append([]int{features}, cfg.Hidden...), cfg.Outputs)
	for i := 0; i+1 < len(sizes); i++ {
		if cfg.Dropout > 0 {
			net.Layers = append(net.Layers, &nn.Dropout{P: cfg.Dropout})
		}
		net.Layers = append(net.Layers, nn.NewLinear(sizes[i], sizes[i+1], true, rng))
		if i+2 < len(sizes) {
			net.Layers = append(net.Layers, nn.ReLU{})
		}
	}
	return &Model{Config: cfg, Net: net}, nil
}

// Forward maps images x (N, Channels, Height, Width) to logits (N, Outputs).
func (m *Model) Forward(x *tensor.Tensor) *tensor.Tensor {
	c := m.Config
	if x.NDim() != 4 || x.Dim(1) != c.Channels || x.Dim(2) != c.Height || x.Dim(3) != c.Width {
		panic(fmt.Sprintf("cnn: images of shape %v, model takes (N, %d, %d, %d)", x.Shape(), c.Channels, c.Height, c.Width))
	}
	return m.Net.Forward(x)
}

// CheckInput returns an error when an image of shape (C, H, W) does not
// fit the model, saying what it expects.
func (c *Config) CheckInput(shape []int) error {
	if len(shape) != 3 || shape[0] != c.Channels || shape[1] != c.Height || shape[2] != c.Width {
		return fmt.Errorf("image of shape %v (channels, height, width); the model takes %d×%d images with %d channel(s)", shape, c.Height, c.Width, c.Channels)
	}
	return nil
}
