package moxing_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/tensor"
)

// A taste of the API (the README shows this code): one hidden ReLU layer
// learns which of 64 points on a line lie beyond 0.5, with binary
// cross-entropy and gradient descent.
func Example() {
	rng := rand.New(rand.NewPCG(42, 0))
	x, y := tensor.Zeros(64, 1), tensor.Zeros(64, 1) // (N, 1) inputs and 0/1 targets
	for i := range 64 {
		x.Data[i] = float32(i) / 63
		if x.Data[i] > 0.5 {
			y.Data[i] = 1
		}
	}

	model := nn.NewMLP([]int{1, 8, 1}, nn.ReLU{}, 0, rng)
	opt := optim.NewSGD(nn.Params(model), optim.SGDConfig{LR: 0.5})
	for range 3000 {
		loss := nn.BCEWithLogits(model.Forward(x), y)
		opt.ZeroGrad()
		loss.Backward()
		opt.Step()
	}

	correct := 0
	for i, logit := range nn.Detach(model).Forward(x).Data {
		if (logit > 0) == (y.Data[i] == 1) {
			correct++
		}
	}
	fmt.Printf("%d of 64 points on the right side\n", correct)
	// Output: 64 of 64 points on the right side
}
