package cnn_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/moxing/moxing/models/cnn"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
)

func TestMNISTConfig(t *testing.T) {
	m, err := cnn.New(cnn.MNIST(), rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range nn.Params(m) {
		names = append(names, fmt.Sprint(p.Name, p.Shape()))
	}
	// The indices and shapes of the same layers in a PyTorch nn.Sequential
	// (Conv2d, ReLU, MaxPool2d, Conv2d, ReLU, MaxPool2d, Flatten, Dropout,
	// Linear, ReLU, Dropout, Linear), so weights exchange.
	want := []string{"0.weight[32 1 3 3]", "0.bias[32]", "3.weight[64 32 3 3]", "3.bias[64]", "8.weight[128 3136]", "8.bias[128]", "11.weight[10 128]", "11.bias[10]"}
	if !slices.Equal(names, want) {
		t.Errorf("parameters %v, want %v", names, want)
	}
	if n := nn.NumParams(nn.Params(m)); n != 421642 {
		t.Errorf("%d parameters, want 421642 (as PyTorch counts the same net)", n)
	}
	out := nn.Detach(m).Forward(tensor.Zeros(3, 1, 28, 28))
	if s := out.Shape(); !slices.Equal(s, []int{3, 10}) {
		t.Errorf("output shape %v", s)
	}
	if err := m.Config.CheckInput([]int{1, 32, 32}); err == nil || !strings.Contains(err.Error(), "28×28") {
		t.Errorf("CheckInput of a 32×32 image: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  cnn.Config
		want string
	}{
		{cnn.Config{Channels: 1, Height: 8, Width: 8, Conv: []int{4, 4, 4, 4}, Outputs: 10}, "block 4"},
		{cnn.Config{Channels: 1, Height: 8, Width: 8, Conv: []int{4}, Kernel: 4, Outputs: 10}, "odd"},
		{cnn.Config{Channels: 1, Height: 8, Width: 8, Conv: []int{0}, Outputs: 10}, "block 1"},
		{cnn.Config{Channels: 0, Height: 8, Width: 8, Outputs: 10}, "input"},
		{cnn.Config{Channels: 1, Height: 8, Width: 8, Outputs: 10, Dropout: 1}, "dropout"},
	} {
		if _, err := cnn.New(c.cfg, rand.New(rand.NewPCG(1, 2))); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error containing %q", c.cfg, err, c.want)
		}
	}
	// With batch norm the convolutions have no bias, and the norms are
	// named as PyTorch names them.
	cfg := cnn.Config{Channels: 1, Height: 8, Width: 8, Conv: []int{4}, BatchNorm: true, Outputs: 3}
	m, err := cnn.New(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range nn.Params(m) {
		names = append(names, p.Name)
	}
	want := []string{"0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var", "5.weight", "5.bias"}
	if !slices.Equal(names, want) {
		t.Errorf("batch-norm net parameters %v, want %v", names, want)
	}
}

// TestArenaMatchesHeap: training steps whose buffers come from an arena
// (reused, not cleared, for ops that write every element; NaN-filled under
// the invariants tag) give the losses of steps on the heap.
func TestArenaMatchesHeap(t *testing.T) {
	cfg := cnn.Config{Channels: 2, Height: 9, Width: 9, Conv: []int{4, 6}, BatchNorm: true, Hidden: []int{8}, Outputs: 3, Dropout: 0.2}
	losses := func(useArena bool) []float32 {
		m, err := cnn.New(cfg, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(3, 4))
		nn.Train(m, rng)
		arena := tensor.NewArena()
		if useArena {
			nn.UseArena(m, arena)
		}
		x := tensor.Randn(rand.New(rand.NewPCG(5, 6)), 5, 2, 9, 9)
		var out []float32
		for range 3 {
			loss := nn.CrossEntropy(m.Forward(x), []int{0, 1, 2, 1, 0}, 0)
			out = append(out, loss.Item())
			for _, p := range nn.Params(m) {
				p.ZeroGrad()
			}
			loss.Backward()
			arena.Reset()
			for _, p := range nn.Params(m) {
				if p.Grad != nil {
					for i, g := range p.Grad.Data {
						p.Data[i] -= 0.1 * g
					}
				}
			}
		}
		return out
	}
	heap, arena := losses(false), losses(true)
	if !slices.Equal(heap, arena) {
		t.Errorf("losses with an arena %v, on the heap %v", arena, heap)
	}
}
