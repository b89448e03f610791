package nn

import (
	"fmt"

	"github.com/moxing/moxing/tensor"
)

// MSELoss returns the mean squared error mean((pred - target)²), a scalar.
// pred and target must have the same shape.
func MSELoss(pred, target *tensor.Tensor) *tensor.Tensor {
	mustSameShape("MSELoss", pred, target)
	d := pred.Sub(target)
	return d.Mul(d).Mean(false)
}

// BCEWithLogits returns the binary cross-entropy of sigmoid(logits) against
// targets in [0, 1], averaged over all elements:
//
//	mean(softplus(x) - x·y) = mean(-y·ln σ(x) - (1-y)·ln(1-σ(x)))
//
// computed from logits so it never overflows or takes ln 0.
// d/dx = (σ(x) - y)/N.
func BCEWithLogits(logits, targets *tensor.Tensor) *tensor.Tensor {
	mustSameShape("BCEWithLogits", logits, targets)
	return logits.Softplus().Sub(logits.Mul(targets)).Mean(false)
}

// CrossEntropy returns the multi-class cross-entropy of logits (..., C)
// against one class index per row, targets (one per row of the flattened
// (N, C) logits), averaged over the rows whose target is not negative.
//
// Negative targets are ignored (PyTorch's default ignore_index, -100, is
// negative too; use -1 for padding). With label smoothing ε the target
// distribution is (1-ε) on the true class plus ε spread uniformly:
//
//	loss_i = (1-ε)·(-ln p_i[y_i]) + ε·mean_c(-ln p_i[c]),  p_i = softmax(logits_i)
//
// as torch.nn.functional.cross_entropy. If every target is ignored the loss
// is NaN, as in PyTorch. It panics on a target ≥ C.
func CrossEntropy(logits *tensor.Tensor, targets []int, smoothing float32) *tensor.Tensor {
	c := logits.Dim(-1)
	n := logits.Numel() / max(c, 1)
	if len(targets) != n {
		panic(fmt.Sprintf("nn: CrossEntropy: %d targets for logits of shape %v (%d rows)", len(targets), logits.Shape(), n))
	}
	idx := make([]int, n)
	keep := tensor.Zeros(n, 1)
	count := 0
	for i, y := range targets {
		if y >= c {
			panic(fmt.Sprintf("nn: CrossEntropy: target %d (row %d) out of range for %d classes", y, i, c))
		}
		if y >= 0 {
			idx[i], keep.Data[i] = y, 1
			count++
		}
	}
	var loss *tensor.Tensor // (N, 1)
	if smoothing == 0 {
		loss = logits.Reshape(n, c).LogSoftmaxGather(idx).Neg() // without the (N, C) log-probabilities
	} else {
		logp := logits.Reshape(n, c).LogSoftmax(-1) // (N, C)
		uniform := logp.Mean(true, 1).Neg()         // (N, 1)
		loss = logp.Gather(1, idx).Neg().MulScalar(1 - smoothing).Add(uniform.MulScalar(smoothing))
	}
	return loss.Mul(keep).Sum(false).MulScalar(1 / float32(count))
}

// WeightedCrossEntropy is CrossEntropy with a weight per class, for
// imbalanced classes:
//
//	loss = Σ_i w[y_i]·(-ln p_i[y_i]) / Σ_i w[y_i]
//
// over the rows whose target is not negative, as
// torch.nn.functional.cross_entropy(weight=w). It panics unless there is
// one weight per class.
func WeightedCrossEntropy(logits *tensor.Tensor, targets []int, weights []float32) *tensor.Tensor {
	c := logits.Dim(-1)
	n := logits.Numel() / max(c, 1)
	if len(targets) != n || len(weights) != c {
		panic(fmt.Sprintf("nn: WeightedCrossEntropy: %d targets and %d weights for logits of shape %v", len(targets), len(weights), logits.Shape()))
	}
	idx := make([]int, n)
	w := tensor.Zeros(n, 1)
	var total float32
	for i, y := range targets {
		if y >= c {
			panic(fmt.Sprintf("nn: WeightedCrossEntropy: target %d (row %d) out of range for %d classes", y, i, c))
		}
		if y >= 0 {
			idx[i], w.Data[i] = y, weights[y]
			total += weights[y]
		}
	}
	loss := logits.Reshape(n, c).LogSoftmax(-1).Gather(1, idx).Neg() // (N, 1)
	return loss.Mul(w).Sum(false).MulScalar(1 / total)
}

func mustSameShape(op string, a, b *tensor.Tensor) {
	as, bs := a.Shape(), b.Shape()
	if fmt.Sprint(as) != fmt.Sprint(bs) {
		panic(fmt.Sprintf("nn: %s: prediction shape %v and target shape %v differ", op, as, bs))
	}
}
