package metrics

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// ROCAUC is the area under the ROC curve of scores for the positive class
// (positive[i] true = positive), as scikit-learn's roc_auc_score. Equivalently
// it is the Mann–Whitney U statistic over P·N: the probability that a random
// positive scores above a random negative, ties counting one half,
//
//	AUC = (Σ_pos Σ_neg [s_pos > s_neg] + ½[s_pos == s_neg]) / (P·N)
//
// which is what the trapezoidal area under a curve that moves diagonally
// across a block of tied scores gives. Sorting makes it O(n log n).
//
// It returns an error when only one class is present (or there are no rows)
// and when a score is NaN, where scikit-learn raises; ±Inf scores are ordered
// as usual. It panics if the lengths differ.
func ROCAUC(scores []float64, positive []bool) (float64, error) {
	sameLen("ROCAUC", "scores", len(scores), "positive", len(positive))
	type row struct {
		score float64
		pos   bool
	}
	rows := make([]row, len(scores))
	var pos, neg int64
	for i, s := range scores {
		if math.IsNaN(s) {
			return 0, fmt.Errorf("metrics: ROCAUC: scores[%d] is NaN", i)
		}
		rows[i] = row{s, positive[i]}
		if positive[i] {
			pos++
		} else {
			neg++
		}
	}
	if pos == 0 || neg == 0 {
		return 0, fmt.Errorf("metrics: ROCAUC: %d positive and %d negative rows; AUC needs both classes", pos, neg)
	}
	slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(b.score, a.score) }) // descending
	// Walk blocks of tied scores from the highest down. A negative in a block
	// beats every positive above the block and ties with the positives in it;
	// twice the area is Σ_block negatives·(2·positives above + positives in
	// block), an exact integer.
	var twiceArea, above int64
	for i := 0; i < len(rows); {
		var p, n int64
		j := i
		for ; j < len(rows) && rows[j].score == rows[i].score; j++ {
			if rows[j].pos {
				p++
			} else {
				n++
			}
		}
		twiceArea += n * (2*above + p)
		above += p
		i = j
	}
	return float64(twiceArea) / (2 * float64(pos) * float64(neg)), nil
}

// MacroROCAUC is the one-vs-rest ROC AUC averaged over classes with equal
// weight, as scikit-learn's roc_auc_score(target, probs, multi_class="ovr",
// average="macro"): class k's AUC is ROCAUC(probs[:, k], target == k).
// probs is row-major (n, classes).
//
// It returns an error, where scikit-learn raises, when some class is absent
// from target or is every row of it (its one-vs-rest AUC is undefined), or a
// score is NaN. Unlike scikit-learn it does not require each row of probs to
// sum to 1: the average is well defined for any scores. For classes == 2 and
// rows that sum to 1 it equals ROCAUC(probs[:, 1], target == 1). It panics if
// len(probs) != len(target)·classes, classes < 1, or a target is outside
// [0, classes).
func MacroROCAUC(probs []float64, target []int, classes int) (float64, error) {
	checkClasses("MacroROCAUC", classes)
	sameLen("MacroROCAUC", "probs", len(probs), "target·classes", len(target)*classes)
	for i, t := range target {
		checkClass("MacroROCAUC", fmt.Sprintf("target[%d]", i), t, classes)
	}
	scores := make([]float64, len(target))
	positive := make([]bool, len(target))
	sum := 0.0
	for k := range classes {
		for i, t := range target {
			scores[i] = probs[i*classes+k]
			positive[i] = t == k
		}
		auc, err := ROCAUC(scores, positive)
		if err != nil {
			return 0, fmt.Errorf("metrics: MacroROCAUC: class %d: %w", k, err)
		}
		sum += auc
	}
	return sum / float64(classes), nil
}
