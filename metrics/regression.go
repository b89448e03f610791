package metrics

import "math"

// MSE is the mean squared error 1/n Σ (pred[i] - target[i])². It is NaN for
// zero rows and panics if the lengths differ.
func MSE(pred, target []float64) float64 {
	sameLen("MSE", "pred", len(pred), "target", len(target))
	sum := 0.0
	for i, p := range pred {
		d := p - target[i]
		sum += d * d
	}
	return sum / float64(len(pred))
}

// RMSE is the root mean squared error √MSE, as scikit-learn's
// mean_squared_error(squared=False).
func RMSE(pred, target []float64) float64 {
	sameLen("RMSE", "pred", len(pred), "target", len(target))
	return math.Sqrt(MSE(pred, target))
}

// MAE is the mean absolute error 1/n Σ |pred[i] - target[i]|. It is NaN for
// zero rows and panics if the lengths differ.
func MAE(pred, target []float64) float64 {
	sameLen("MAE", "pred", len(pred), "target", len(target))
	sum := 0.0
	for i, p := range pred {
		sum += math.Abs(p - target[i])
	}
	return sum / float64(len(pred))
}

// R2 is the coefficient of determination
//
//	R² = 1 - SS_res / SS_tot,  SS_res = Σ (target[i] - pred[i])²,  SS_tot = Σ (target[i] - mean(target))²
//
// With constant targets (SS_tot == 0) it is 1 for a perfect prediction and 0
// otherwise, as scikit-learn's r2_score with force_finite=True; targets that
// are all equal count as constant even when rounding in the mean would leave
// SS_tot a few ulps above 0. It is NaN for fewer than two rows, as
// scikit-learn. It panics if the lengths differ.
func R2(pred, target []float64) float64 {
	sameLen("R2", "pred", len(pred), "target", len(target))
	if len(pred) < 2 {
		return math.NaN()
	}
	mean := 0.0
	for _, t := range target {
		mean += t
	}
	mean /= float64(len(target))
	var ssRes, ssTot float64
	constant := true
	for i, t := range target {
		r, d := t-pred[i], t-mean
		ssRes += r * r
		ssTot += d * d
		constant = constant && t == target[0]
	}
	switch {
	case constant && ssRes == 0:
		return 1
	case constant:
		return 0
	}
	return 1 - ssRes/ssTot
}
