package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/moxing/moxing/train"
)

// progress reports training: a progress bar with rate and ETA when stderr is
// a terminal, plain log lines (one per epoch) otherwise.
type progress struct {
	w   io.Writer
	bar *progressbar.ProgressBar // nil when not a terminal
}

func newProgress(w io.Writer, epochs, batchesPerEpoch int) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(epochs*batchesPerEpoch,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("training"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("steps"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100_000_000), // 0.1 s
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

// Batch advances the bar.
func (p *progress) Batch(b train.Batch) {
	if p.bar != nil {
		p.bar.Add(1)
	}
}

// Epoch logs the epoch's metrics: as the bar's description on a terminal,
// else as a line.
func (p *progress) Epoch(e train.Epoch) {
	shown := map[string]float64{}
	for _, k := range []string{"val_loss", "val_accuracy", "val_f1", "val_auc", "val_rmse", "val_r2"} {
		if v, ok := e.Val[k]; ok {
			shown[k] = v
		}
	}
	line := fmt.Sprintf("epoch %d  train_loss %.4f  %s", e.Epoch, e.TrainLoss, formatMetrics(shown))
	if e.Best {
		line += "  *"
	}
	if p.bar != nil {
		p.bar.Describe(line)
		return
	}
	fmt.Fprintf(p.w, "%s  (%.2fs)\n", line, e.Seconds)
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}

// metricOrder lists metrics in the order they are printed; others follow
// alphabetically.
var metricOrder = []string{"loss", "accuracy", "precision", "recall", "f1", "auc", "log_loss", "mse", "rmse", "mae", "r2"}

// formatMetrics prints metrics as "name value" pairs in a stable order.
func formatMetrics(m map[string]float64) string {
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
