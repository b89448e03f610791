package cnn

import (
	"math/rand/v2"
	"testing"

	"github.com/moxing/moxing/nn"
)

func TestNumParams(t *testing.T) {
	bn := MNIST()
	bn.BatchNorm = true
	for _, cfg := range []Config{MNIST(), bn, {Channels: 3, Height: 9, Width: 7, Conv: []int{4}, Kernel: 5, Outputs: 1}} {
		m, err := New(cfg, rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := m.Config.NumParams(), nn.NumParams(nn.Params(m)); got != float64(want) {
			t.Errorf("%+v: NumParams %v, the model has %d", cfg, got, want)
		}
	}
}
