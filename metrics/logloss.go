package metrics

import (
	"fmt"
	"math"
)

// logLossEps is the clipping bound of LogLoss: float64 machine epsilon, 2⁻⁵²,
// which is scikit-learn 1.2's default eps="auto" for float64 input (earlier
// versions used 1e-15).
const logLossEps = 0x1p-52

// LogLoss is the mean negative log-likelihood of the true class,
//
//	LogLoss = -1/n Σ_i log(q[i, target[i]]),  q[i, k] = c[i, k] / Σ_j c[i, j]
//	c[i, k] = clip(probs[i, k], ε, 1-ε),      ε = 2⁻⁵²
//
// as scikit-learn 1.2's log_loss(target, probs, labels=range(classes)):
// every probability is clipped, then each row is renormalised to sum to 1.
// probs is row-major (n, classes). It is NaN for zero rows. It panics if
// len(probs) != len(target)·classes, classes < 1, or a target is outside
// [0, classes).
func LogLoss(probs []float64, target []int, classes int) float64 {
	checkClasses("LogLoss", classes)
	sameLen("LogLoss", "probs", len(probs), "target·classes", len(target)*classes)
	clip := func(p float64) float64 { return min(max(p, logLossEps), 1-logLossEps) }
	sum := 0.0
	for i, t := range target {
		checkClass("LogLoss", fmt.Sprintf("target[%d]", i), t, classes)
		row := probs[i*classes : (i+1)*classes]
		z := 0.0
		for _, p := range row {
			z += clip(p)
		}
		sum -= math.Log(clip(row[t]) / z)
	}
	return sum / float64(len(target))
}
