package metrics

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Accuracy is the fraction of rows where pred[i] == target[i]. It is NaN for
// zero rows, as scikit-learn's accuracy_score. It panics if the lengths differ.
func Accuracy(pred, target []int) float64 {
	sameLen("Accuracy", "pred", len(pred), "target", len(target))
	correct := 0
	for i, p := range pred {
		if p == target[i] {
			correct++
		}
	}
	return float64(correct) / float64(len(pred))
}

// Confusion is a confusion matrix: Counts[t][p] counts rows with true class t
// predicted as p. It is a square matrix; its row and column index are the
// class. Counts may be read and written directly; the methods only read it.
//
// The per-class metrics follow scikit-learn's precision_recall_fscore_support
// with labels=range(classes) and zero_division=0, for class k:
//
//	TP = Counts[k][k], FP = Σ_t≠k Counts[t][k], FN = Σ_p≠k Counts[k][p]
//	precision = TP / (TP + FP)          0 when TP + FP == 0
//	recall    = TP / (TP + FN)          0 when TP + FN == 0
//	F1        = 2·P·R / (P + R)         0 when P + R == 0
type Confusion struct {
	Counts [][]int
}

// NewConfusion counts pred against target into a classes×classes matrix.
// It panics if the lengths differ, classes < 1, or a value is outside
// [0, classes).
func NewConfusion(pred, target []int, classes int) Confusion {
	sameLen("NewConfusion", "pred", len(pred), "target", len(target))
	checkClasses("NewConfusion", classes)
	counts := make([][]int, classes)
	for i := range counts {
		counts[i] = make([]int, classes)
	}
	for i, p := range pred {
		t := target[i]
		checkClass("NewConfusion", fmt.Sprintf("pred[%d]", i), p, classes)
		checkClass("NewConfusion", fmt.Sprintf("target[%d]", i), t, classes)
		counts[t][p]++
	}
	return Confusion{Counts: counts}
}

// Classes is the number of classes, the side of the matrix.
func (c Confusion) Classes() int { return len(c.Counts) }

// Total is the number of rows counted.
func (c Confusion) Total() int {
	n := 0
	for _, row := range c.Counts {
		for _, v := range row {
			n += v
		}
	}
	return n
}

// Precision is TP / (TP + FP) for class: of the rows predicted as class, the
// fraction that are. It is 0 when nothing is predicted as class
// (scikit-learn with zero_division=0). It panics if class is out of range.
func (c Confusion) Precision(class int) float64 {
	checkClass("Confusion.Precision", "class", class, c.Classes())
	predicted := 0
	for t := range c.Counts {
		predicted += c.Counts[t][class]
	}
	return ratio(c.Counts[class][class], predicted)
}

// Recall is TP / (TP + FN) for class: of the rows that are class, the fraction
// predicted as class. It is 0 when class never occurs in the targets
// (scikit-learn with zero_division=0). It panics if class is out of range.
func (c Confusion) Recall(class int) float64 {
	checkClass("Confusion.Recall", "class", class, c.Classes())
	actual := 0
	for _, v := range c.Counts[class] {
		actual += v
	}
	return ratio(c.Counts[class][class], actual)
}

// F1 is the harmonic mean 2·P·R / (P + R) of Precision and Recall for class,
// and 0 when P + R == 0. It panics if class is out of range.
func (c Confusion) F1(class int) float64 {
	checkClass("Confusion.F1", "class", class, c.Classes())
	p, r := c.Precision(class), c.Recall(class)
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

// MacroPrecision is the unweighted mean of Precision over all Classes(), as
// scikit-learn's average="macro" with labels=range(classes). A class that
// appears in neither predictions nor targets counts as 0.
func (c Confusion) MacroPrecision() float64 { return c.macro(c.Precision) }

// MacroRecall is the unweighted mean of Recall over all Classes(), as
// MacroPrecision.
func (c Confusion) MacroRecall() float64 { return c.macro(c.Recall) }

// MacroF1 is the unweighted mean of the per-class F1 over all Classes() (not
// the F1 of MacroPrecision and MacroRecall), as scikit-learn's
// f1_score(average="macro").
func (c Confusion) MacroF1() float64 { return c.macro(c.F1) }

func (c Confusion) macro(metric func(int) float64) float64 {
	sum := 0.0
	for k := range c.Counts {
		sum += metric(k)
	}
	return sum / float64(c.Classes())
}

// Accuracy is the trace over the total count; NaN when the matrix is empty.
func (c Confusion) Accuracy() float64 {
	correct := 0
	for k := range c.Counts {
		correct += c.Counts[k][k]
	}
	return float64(correct) / float64(c.Total())
}

// String is the matrix as a table with the class indices as headers; rows are
// true classes, columns predicted classes.
func (c Confusion) String() string { return c.Format(nil) }

// Format is the matrix as a table like String with names[k] heading row and
// column k. nil names means the class indices. It panics if names is non-nil
// and len(names) != Classes().
func (c Confusion) Format(names []string) string {
	n := c.Classes()
	if names == nil {
		names = make([]string, n)
		for k := range names {
			names[k] = strconv.Itoa(k)
		}
	}
	sameLen("Confusion.Format", "names", len(names), "classes", n)
	const corner = `true\pred`
	label, width := len(corner), 1
	for k, name := range names {
		label = max(label, utf8.RuneCountInString(name))
		width = max(width, utf8.RuneCountInString(name))
		for _, v := range c.Counts[k] {
			width = max(width, len(strconv.Itoa(v)))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%*s", label, corner)
	for _, name := range names {
		fmt.Fprintf(&b, " %*s", width, name)
	}
	b.WriteByte('\n')
	for t, row := range c.Counts {
		fmt.Fprintf(&b, "%*s", label, names[t])
		for _, v := range row {
			fmt.Fprintf(&b, " %*d", width, v)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// ratio is num/den, or 0 when den == 0.
func ratio(num, den int) float64 {
	if den == 0 {
		return 0
	}
	return float64(num) / float64(den)
}
