package metrics_test

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/moxing/moxing/metrics"
)

func itoa(i int) string { return strconv.Itoa(i) }

// TestConfusionByHand checks a 2×2 matrix worked out on paper:
//
//	            pred 0  pred 1
//	true 0         3       1
//	true 1         2       4
//
// class 1: precision 4/5, recall 4/6, F1 = 2·(4/5)(2/3)/(4/5+2/3) = 8/11;
// class 0: precision 3/5, recall 3/4, F1 = 2·(3/5)(3/4)/(3/5+3/4) = 2/3.
func TestConfusionByHand(t *testing.T) {
	target := []int{0, 0, 0, 0, 1, 1, 1, 1, 1, 1}
	pred := []int{0, 0, 0, 1, 0, 0, 1, 1, 1, 1}
	c := metrics.NewConfusion(pred, target, 2)
	want := [][]int{{3, 1}, {2, 4}}
	for i := range want {
		for j := range want[i] {
			if c.Counts[i][j] != want[i][j] {
				t.Fatalf("Counts = %v, want %v", c.Counts, want)
			}
		}
	}
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"Precision(0)", c.Precision(0), 3.0 / 5},
		{"Recall(0)", c.Recall(0), 3.0 / 4},
		{"F1(0)", c.F1(0), 2.0 / 3},
		{"Precision(1)", c.Precision(1), 4.0 / 5},
		{"Recall(1)", c.Recall(1), 4.0 / 6},
		{"F1(1)", c.F1(1), 8.0 / 11},
		{"MacroPrecision", c.MacroPrecision(), (3.0/5 + 4.0/5) / 2},
		{"MacroRecall", c.MacroRecall(), (3.0/4 + 4.0/6) / 2},
		{"MacroF1", c.MacroF1(), (2.0/3 + 8.0/11) / 2},
		{"Accuracy", c.Accuracy(), 7.0 / 10},
		{"metrics.Accuracy", metrics.Accuracy(pred, target), 7.0 / 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !near(tc.got, tc.want) {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

// TestZeroDivision checks the conventional zeros for a class never predicted
// (2) and a class never present (1).
func TestZeroDivision(t *testing.T) {
	c := metrics.NewConfusion([]int{0, 1, 0}, []int{0, 2, 2}, 3)
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"Precision(2) nothing predicted", c.Precision(2), 0},
		{"Recall(2)", c.Recall(2), 0},
		{"Recall(1) never present", c.Recall(1), 0},
		{"Precision(1)", c.Precision(1), 0},
		{"F1(1)", c.F1(1), 0},
		{"F1(0)", c.F1(0), 2 * 0.5 * 1 / 1.5},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestROCAUCByHand(t *testing.T) {
	for _, tc := range []struct {
		name     string
		scores   []float64
		positive []bool
		want     float64
	}{
		// Pairs (pos, neg): (0.8, 0.1) and (0.8, 0.4) and (0.35, 0.1) are
		// ordered right, (0.35, 0.4) wrong: 3/4.
		{"four points", []float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.75},
		// The tie (0.5, 0.5) counts one half: (1 + 1 + 1 + 0.5) / 4.
		{"one tie", []float64{0.5, 0.2, 0.5, 0.9}, []bool{false, false, true, true}, 0.875},
		{"all tied", []float64{1, 1, 1, 1, 1}, []bool{true, false, true, false, false}, 0.5},
		{"perfect", []float64{-3, 2, math.Inf(1), math.Inf(-1)}, []bool{false, true, true, false}, 1},
		{"inverted", []float64{3, 2, 1}, []bool{false, true, true}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := metrics.ROCAUC(tc.scores, tc.positive)
			if err != nil || got != tc.want {
				t.Errorf("ROCAUC = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestROCAUCErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		scores   []float64
		positive []bool
	}{
		{"empty", nil, nil},
		{"only positives", []float64{0.1, 0.2}, []bool{true, true}},
		{"only negatives", []float64{0.1, 0.2}, []bool{false, false}},
		{"NaN", []float64{0.1, math.NaN()}, []bool{true, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := metrics.ROCAUC(tc.scores, tc.positive); err == nil {
				t.Errorf("ROCAUC = %v, nil; want an error", got)
			}
		})
	}
	// Class 2 never occurs, so its one-vs-rest AUC is undefined.
	probs := []float64{0.6, 0.3, 0.1, 0.2, 0.7, 0.1}
	if got, err := metrics.MacroROCAUC(probs, []int{0, 1}, 3); err == nil || !strings.Contains(err.Error(), "class 2") {
		t.Errorf("MacroROCAUC = %v, %v; want an error naming class 2", got, err)
	}
}

// TestMacroROCAUCByHand averages three one-vs-rest AUCs done on paper.
func TestMacroROCAUCByHand(t *testing.T) {
	probs := []float64{
		0.7, 0.2, 0.1, // true 0
		0.3, 0.4, 0.3, // true 1
		0.2, 0.5, 0.3, // true 2
		0.1, 0.6, 0.3, // true 1
	}
	// class 0: 0.7 above 0.3, 0.2, 0.1 -> 1.
	// class 1: positives 0.4, 0.6 vs negatives 0.2, 0.5 -> (1 + 0 + 1 + 1) / 4.
	// class 2: positive 0.3 vs 0.1, 0.3, 0.3 -> (1 + 0.5 + 0.5) / 3.
	want := (1 + 0.75 + 2.0/3) / 3
	got, err := metrics.MacroROCAUC(probs, []int{0, 1, 2, 1}, 3)
	if err != nil || !near(got, want) {
		t.Errorf("MacroROCAUC = %v, %v; want %v", got, err, want)
	}
}

func TestLogLossByHand(t *testing.T) {
	for _, tc := range []struct {
		name   string
		probs  []float64
		target []int
		want   float64
	}{
		{"two rows", []float64{0.8, 0.2, 0.4, 0.6}, []int{0, 1}, -(math.Log(0.8) + math.Log(0.6)) / 2},
		{"renormalised", []float64{0.2, 0.6}, []int{1}, -math.Log(0.75)},
		// A zero probability is clipped to 2⁻⁵², then the row renormalised.
		{"clipped", []float64{1, 0}, []int{1}, -math.Log(0x1p-52 / (1 - 0x1p-52 + 0x1p-52))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := metrics.LogLoss(tc.probs, tc.target, 2); !near(got, tc.want) {
				t.Errorf("LogLoss = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRegressionByHand(t *testing.T) {
	pred := []float64{2, 2, 5, 7}
	target := []float64{1, 3, 5, 7} // mean 4, SS_tot = 9+1+1+9 = 20
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"MSE", metrics.MSE(pred, target), 2.0 / 4},
		{"RMSE", metrics.RMSE(pred, target), math.Sqrt(0.5)},
		{"MAE", metrics.MAE(pred, target), 2.0 / 4},
		{"R2", metrics.R2(pred, target), 1 - 2.0/20},
		{"R2 constant perfect", metrics.R2([]float64{0.1, 0.1, 0.1}, []float64{0.1, 0.1, 0.1}), 1},
		{"R2 constant wrong", metrics.R2([]float64{0.1, 0.2, 0.1}, []float64{0.1, 0.1, 0.1}), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !near(tc.got, tc.want) {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

// TestEmpty checks the NaNs scikit-learn gives for metrics of too few rows.
func TestEmpty(t *testing.T) {
	for name, got := range map[string]float64{
		"Accuracy":           metrics.Accuracy(nil, nil),
		"Confusion.Accuracy": metrics.NewConfusion(nil, nil, 2).Accuracy(),
		"LogLoss":            metrics.LogLoss(nil, nil, 3),
		"MSE":                metrics.MSE(nil, nil),
		"MAE":                metrics.MAE(nil, nil),
		"R2 one row":         metrics.R2([]float64{1}, []float64{2}),
	} {
		if !math.IsNaN(got) {
			t.Errorf("%s = %v, want NaN", name, got)
		}
	}
}

func TestFormat(t *testing.T) {
	c := metrics.NewConfusion([]int{0, 1, 1}, []int{0, 1, 0}, 2)
	got := c.Format([]string{"cat", "dog"})
	want := "" +
		"true\\pred cat dog\n" +
		"      cat   1   1\n" +
		"      dog   0   1\n"
	if got != want {
		t.Errorf("Format =\n%s\nwant\n%s", got, want)
	}
}

func TestPanics(t *testing.T) {
	c := metrics.NewConfusion([]int{0, 1}, []int{1, 1}, 2)
	for _, tc := range []struct {
		name, want string
		f          func()
	}{
		{"Accuracy lengths", "metrics: Accuracy: len(pred) 2 != len(target) 3", func() { metrics.Accuracy([]int{0, 1}, []int{0, 1, 1}) }},
		{"NewConfusion lengths", "metrics: NewConfusion: len(pred) 1 != len(target) 2", func() { metrics.NewConfusion([]int{0}, []int{0, 1}, 2) }},
		{"NewConfusion pred", "metrics: NewConfusion: pred[1] 2 outside [0, 2)", func() { metrics.NewConfusion([]int{0, 2}, []int{0, 1}, 2) }},
		{"NewConfusion target", "metrics: NewConfusion: target[0] -1 outside [0, 2)", func() { metrics.NewConfusion([]int{0, 1}, []int{-1, 1}, 2) }},
		{"NewConfusion classes", "metrics: NewConfusion: classes 0 < 1", func() { metrics.NewConfusion(nil, nil, 0) }},
		{"Precision", "metrics: Confusion.Precision: class 2 outside [0, 2)", func() { c.Precision(2) }},
		{"Recall", "metrics: Confusion.Recall: class -1 outside [0, 2)", func() { c.Recall(-1) }},
		{"F1", "metrics: Confusion.F1: class 5 outside [0, 2)", func() { c.F1(5) }},
		{"Format", "metrics: Confusion.Format: len(names) 1 != len(classes) 2", func() { _ = c.Format([]string{"a"}) }},
		{"ROCAUC lengths", "metrics: ROCAUC: len(scores) 2 != len(positive) 1", func() { _, _ = metrics.ROCAUC([]float64{1, 2}, []bool{true}) }},
		{"MacroROCAUC lengths", "metrics: MacroROCAUC: len(probs) 5 != len(target·classes) 6", func() { _, _ = metrics.MacroROCAUC(make([]float64, 5), []int{0, 1}, 3) }},
		{"MacroROCAUC target", "metrics: MacroROCAUC: target[1] 3 outside [0, 3)", func() { _, _ = metrics.MacroROCAUC(make([]float64, 6), []int{0, 3}, 3) }},
		{"LogLoss lengths", "metrics: LogLoss: len(probs) 3 != len(target·classes) 4", func() { metrics.LogLoss(make([]float64, 3), []int{0, 1}, 2) }},
		{"LogLoss target", "metrics: LogLoss: target[0] 2 outside [0, 2)", func() { metrics.LogLoss(make([]float64, 4), []int{2, 1}, 2) }},
		{"MSE", "metrics: MSE: len(pred) 1 != len(target) 2", func() { metrics.MSE([]float64{1}, []float64{1, 2}) }},
		{"RMSE", "metrics: RMSE: len(pred) 1 != len(target) 2", func() { metrics.RMSE([]float64{1}, []float64{1, 2}) }},
		{"MAE", "metrics: MAE: len(pred) 1 != len(target) 2", func() { metrics.MAE([]float64{1}, []float64{1, 2}) }},
		{"R2", "metrics: R2: len(pred) 3 != len(target) 2", func() { metrics.R2([]float64{1, 2, 3}, []float64{1, 2}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != tc.want {
					t.Errorf("panic %q, want %q", r, tc.want)
				}
			}()
			tc.f()
		})
	}
}
