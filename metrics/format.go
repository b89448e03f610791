package metrics

import (
	"fmt"
	"slices"
	"strings"
)

// metricOrder lists metrics in the order they are printed; others follow
// alphabetically.
var metricOrder = []string{"loss", "accuracy", "precision", "recall", "f1", "auc", "log_loss", "mse", "rmse", "mae", "r2"}

// Format writes metrics as "name value" pairs, values to 4 decimals, in a
// stable order: loss, accuracy, precision, recall, F1, AUC, log-loss,
// MSE, RMSE, MAE, R², then the rest alphabetically ("val_" prefixes are
// ignored for the order).
func Format(m map[string]float64) string {
	var names []string
	for k := range m {
		names = append(names, k)
	}
	rank := func(k string) int {
		if i := slices.Index(metricOrder, strings.TrimPrefix(k, "val_")); i >= 0 {
			return i
		}
		return len(metricOrder)
	}
	slices.SortFunc(names, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	var b strings.Builder
	for i, k := range names {
		if i > 0 {
			b.WriteString("  ")
		}
		fmt.Fprintf(&b, "%s %.4f", k, m[k])
	}
	return b.String()
}
