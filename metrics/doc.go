// Package metrics computes evaluation metrics for classifiers and regressors
// from plain slices: accuracy, the confusion matrix with per-class and macro
// precision, recall and F1, ROC AUC, log loss, MSE, RMSE, MAE and R².
//
// Every metric matches scikit-learn 1.2 with its default arguments (and
// zero_division=0), checked against golden values in testdata/metrics.json
// written by tools/reference/metrics.py. Where scikit-learn returns a
// conventional value for an undefined result (precision with no predictions,
// R² with constant targets) so does this package; where it returns NaN
// (metrics of zero rows) so does this package; where it raises (ROC AUC with
// one class present) the function returns an error.
//
// Inputs of mismatched length and class indices outside [0, classes) are
// programming errors and panic with a message naming the function and the
// offending values. Sums are accumulated in float64. The functions keep no
// state and are safe for concurrent use.
package metrics

import "fmt"

// sameLen panics unless two slices passed to fn have the same length.
func sameLen(fn, aName string, a int, bName string, b int) {
	if a != b {
		panic(fmt.Sprintf("metrics: %s: len(%s) %d != len(%s) %d", fn, aName, a, bName, b))
	}
}

// checkClass panics unless 0 <= c < classes.
func checkClass(fn, what string, c, classes int) {
	if c < 0 || c >= classes {
		panic(fmt.Sprintf("metrics: %s: %s %d outside [0, %d)", fn, what, c, classes))
	}
}

// checkClasses panics unless classes >= 1.
func checkClasses(fn string, classes int) {
	if classes < 1 {
		panic(fmt.Sprintf("metrics: %s: classes %d < 1", fn, classes))
	}
}
