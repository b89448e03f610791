package metrics_test

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/moxing/moxing/metrics"
)

// golden is testdata/metrics.json, written by tools/reference/metrics.py.
type golden struct {
	Classification []struct {
		Name           string
		Classes        int
		Pred, Target   []int
		Accuracy       float64
		Confusion      [][]int
		Precision      []float64
		Recall         []float64
		F1             []float64
		MacroPrecision float64 `json:"macro_precision"`
		MacroRecall    float64 `json:"macro_recall"`
		MacroF1        float64 `json:"macro_f1"`
	}
	BinaryAUC []struct {
		Name     string
		Scores   []float64
		Positive []bool
		ROCAUC   *float64 `json:"roc_auc"`
		AUCError bool     `json:"roc_auc_error"`
	} `json:"binary_auc"`
	Probabilistic []struct {
		Name     string
		Classes  int
		Probs    []float64
		Target   []int
		LogLoss  float64  `json:"log_loss"`
		ROCAUC   *float64 `json:"roc_auc"`
		AUCError bool     `json:"roc_auc_error"`
	}
	Regression []struct {
		Name               string
		Pred, Target       []float64
		MSE, RMSE, MAE, R2 float64
	}
}

func loadGolden(t *testing.T) golden {
	t.Helper()
	f, err := os.Open("../testdata/metrics.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var g golden
	if err := json.NewDecoder(f).Decode(&g); err != nil {
		t.Fatal(err)
	}
	if len(g.Classification) == 0 || len(g.BinaryAUC) == 0 || len(g.Probabilistic) == 0 || len(g.Regression) == 0 {
		t.Fatal("testdata/metrics.json: a section is empty; regenerate with /usr/bin/python3 tools/reference/metrics.py")
	}
	return g
}

// near reports whether got matches want to 1e-9 relative (1e-12 absolute
// near zero).
func near(got, want float64) bool {
	return math.Abs(got-want) <= 1e-9*math.Max(math.Abs(want), 1e-3)
}

func check(t *testing.T, what string, got, want float64) {
	t.Helper()
	if !near(got, want) {
		t.Errorf("%s = %.17g, scikit-learn %.17g", what, got, want)
	}
}

func TestGoldenClassification(t *testing.T) {
	for _, c := range loadGolden(t).Classification {
		t.Run(c.Name, func(t *testing.T) {
			m := metrics.NewConfusion(c.Pred, c.Target, c.Classes)
			if m.Classes() != c.Classes {
				t.Fatalf("Classes() = %d, want %d", m.Classes(), c.Classes)
			}
			if !slices.EqualFunc(m.Counts, c.Confusion, slices.Equal) {
				t.Errorf("Counts = %v, scikit-learn %v", m.Counts, c.Confusion)
			}
			check(t, "Accuracy", metrics.Accuracy(c.Pred, c.Target), c.Accuracy)
			check(t, "Confusion.Accuracy", m.Accuracy(), c.Accuracy)
			for k := range c.Classes {
				check(t, "Precision("+itoa(k)+")", m.Precision(k), c.Precision[k])
				check(t, "Recall("+itoa(k)+")", m.Recall(k), c.Recall[k])
				check(t, "F1("+itoa(k)+")", m.F1(k), c.F1[k])
			}
			check(t, "MacroPrecision", m.MacroPrecision(), c.MacroPrecision)
			check(t, "MacroRecall", m.MacroRecall(), c.MacroRecall)
			check(t, "MacroF1", m.MacroF1(), c.MacroF1)
		})
	}
}

func TestGoldenBinaryAUC(t *testing.T) {
	for _, c := range loadGolden(t).BinaryAUC {
		t.Run(c.Name, func(t *testing.T) {
			got, err := metrics.ROCAUC(c.Scores, c.Positive)
			switch {
			case c.AUCError && err == nil:
				t.Errorf("ROCAUC = %v, nil; scikit-learn raises", got)
			case !c.AUCError && err != nil:
				t.Errorf("ROCAUC: %v; scikit-learn %v", err, *c.ROCAUC)
			case !c.AUCError:
				check(t, "ROCAUC", got, *c.ROCAUC)
			}
		})
	}
}

func TestGoldenProbabilistic(t *testing.T) {
	for _, c := range loadGolden(t).Probabilistic {
		t.Run(c.Name, func(t *testing.T) {
			check(t, "LogLoss", metrics.LogLoss(c.Probs, c.Target, c.Classes), c.LogLoss)
			if c.ROCAUC == nil && !c.AUCError {
				return // scikit-learn rejects these scores for ROC AUC (rows do not sum to 1)
			}
			got, err := metrics.MacroROCAUC(c.Probs, c.Target, c.Classes)
			switch {
			case c.AUCError && err == nil:
				t.Errorf("MacroROCAUC = %v, nil; scikit-learn raises", got)
			case !c.AUCError && err != nil:
				t.Errorf("MacroROCAUC: %v; scikit-learn %v", err, *c.ROCAUC)
			case !c.AUCError:
				check(t, "MacroROCAUC", got, *c.ROCAUC)
			}
		})
	}
}

func TestGoldenRegression(t *testing.T) {
	for _, c := range loadGolden(t).Regression {
		t.Run(c.Name, func(t *testing.T) {
			check(t, "MSE", metrics.MSE(c.Pred, c.Target), c.MSE)
			check(t, "RMSE", metrics.RMSE(c.Pred, c.Target), c.RMSE)
			check(t, "MAE", metrics.MAE(c.Pred, c.Target), c.MAE)
			check(t, "R2", metrics.R2(c.Pred, c.Target), c.R2)
		})
	}
}
