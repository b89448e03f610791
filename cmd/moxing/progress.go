package main

import (
	"fmt"
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/moxing/moxing/metrics"
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
	line := fmt.Sprintf("epoch %d  train_loss %.4f  %s", e.Epoch, e.TrainLoss, metrics.Format(shown))
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
