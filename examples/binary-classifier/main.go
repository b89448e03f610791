// Command binary-classifier trains the classic first neural network: one
// input feature, one hidden ReLU layer, a sigmoid output and binary
// cross-entropy, fitted by plain gradient descent (learning rate 0.01) to
// tell x ∈ {1, 2} (class 0) from x ∈ {3, 4, 5} (class 1).
//
//	go run ./examples/binary-classifier
//
// It prints the loss falling and the training accuracy reaching 100%, then
// the probability the model gives each input.
package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"

	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/tensor"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "binary-classifier:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	x := tensor.New([]float32{1, 2, 3, 4, 5}, 5, 1) // (N, 1)
	y := tensor.New([]float32{0, 0, 1, 1, 1}, 5, 1) // (N, 1)

	rng := rand.New(rand.NewPCG(42, 0))
	model := nn.NewMLP([]int{1, 8, 1}, nn.ReLU{}, 0, rng) // Linear(1→8), ReLU, Linear(8→1)
	opt := optim.NewSGD(nn.Params(model), optim.SGDConfig{LR: 0.01})

	const epochs = 3000
	var first, last float32
	for epoch := 1; epoch <= epochs; epoch++ {
		logits := model.Forward(x) // (N, 1); the sigmoid lives inside the loss
		loss := nn.BCEWithLogits(logits, y)
		opt.ZeroGrad()
		loss.Backward()
		opt.Step()
		if epoch == 1 {
			first = loss.Item()
		}
		last = loss.Item()
		if epoch == 1 || epoch%500 == 0 {
			fmt.Fprintf(w, "epoch %4d  loss %.4f  accuracy %.0f%%\n", epoch, loss.Item(), 100*accuracy(logits, y))
		}
	}

	if last >= first/2 {
		return fmt.Errorf("loss fell only from %.4f to %.4f", first, last)
	}
	logits := nn.Detach(model).Forward(x) // inference: records no graph
	if acc := accuracy(logits, y); acc != 1 {
		return fmt.Errorf("training accuracy %.0f%%, want 100%%", 100*acc)
	}
	for i, p := range logits.Sigmoid().Data {
		fmt.Fprintf(w, "x = %.0f  P(class 1) = %.3f\n", x.Data[i], p)
	}
	return nil
}

// accuracy is the fraction of rows whose predicted class, 1 when the logit
// is positive (σ(logit) > 0.5), equals the label.
func accuracy(logits, y *tensor.Tensor) float64 {
	right := 0
	for i, l := range logits.Data {
		if (l > 0) == (y.Data[i] == 1) {
			right++
		}
	}
	return float64(right) / float64(len(y.Data))
}
