// Package progress reports a training loop as it runs: a train.Observer
// that shows, on a terminal, a bar of the current epoch's batches (or of a
// language model's steps) with its rate and ETA, and prints each
// evaluation's line above it, where it stays; elsewhere (a file, a pipe) it
// prints the lines alone. The moxing commands use it; a Go program that
// trains with package recipe or train can too.
package progress

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/moxing/moxing/metrics"
	"github.com/moxing/moxing/train"
)

// Progress reports training to a writer; see the package doc. With early
// stopping the bar says how much of the patience is used, since the run may
// end long before its last epoch. It is for one loop at a time.
type Progress struct {
	w        io.Writer
	bar      *progressbar.ProgressBar // nil when not a terminal
	width    int                      // the terminal's columns
	steps    bool                     // a language model's loop: one bar over every step
	epochs   int                      // the most epochs (or steps) the run may take; 0 before the first batch
	patience int                      // epochs without improvement that stop the run; 0: none
	bad      int                      // epochs since the best
	start    time.Time                // the first step's end, to estimate the rest
}

// New reports a supervised loop to w, stopped early after patience epochs
// without improvement (0: never). Its bar starts with the first batch,
// which says how many epochs and batches there are.
func New(w io.Writer, patience int) *Progress {
	return &Progress{w: w, patience: patience, width: terminalWidth(w)}
}

// NewSteps reports a language model's loop to w; its bar starts with the
// first step, which says how many there are.
func NewSteps(w io.Writer) *Progress {
	return &Progress{w: w, steps: true, width: terminalWidth(w)}
}

// terminalWidth is w's width in columns when w is a terminal, else 0.
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0
	}
	cols, _, err := term.GetSize(int(f.Fd()))
	if err != nil || cols < 40 {
		return 80
	}
	return cols
}

// newBar is a bar of total steps that fits the terminal: the description,
// count, rate and ETA take about 60 columns, the bar the rest (10 to 40).
func (p *Progress) newBar(total int, desc string) *progressbar.ProgressBar {
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("steps"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(min(40, max(10, p.width-len(desc)-50))),
		progressbar.OptionThrottle(100_000_000), // 0.1 s
		progressbar.OptionClearOnFinish(),
	)
}

// describe is the bar's description for epoch.
func (p *Progress) describe(epoch int) string {
	if p.patience > 0 {
		return fmt.Sprintf("epoch %d (patience %d/%d)", epoch, p.bad, p.patience)
	}
	return fmt.Sprintf("epoch %d/%d", epoch, p.epochs)
}

// Batch advances the bar. A language model's loop of many steps gets a
// line with the time the run will take, from its first steps.
func (p *Progress) Batch(b train.Batch) {
	if p.epochs == 0 {
		p.begin(b)
	}
	if p.bar != nil {
		p.bar.Add(1)
	}
	const first, timed = 1, 5
	switch {
	case !p.steps || p.epochs < 50:
	case b.Batch == first:
		p.start = time.Now()
	case b.Batch == first+timed && !p.start.IsZero():
		per := time.Since(p.start) / timed
		p.println(fmt.Sprintf("%d steps took %.1fs: about %s for the %d steps", timed, (per * timed).Seconds(),
			(per * time.Duration(p.epochs-b.Batch)).Round(time.Second), p.epochs-b.Batch))
	}
}

// begin sizes the report from the run's first batch, and on a terminal
// starts the bar: the epoch's batches, or every step.
func (p *Progress) begin(b train.Batch) {
	p.epochs = b.Epochs
	desc := p.describe(b.Epoch)
	if p.steps {
		p.epochs, desc = b.Batches, "training"
	}
	if p.width > 0 {
		p.bar = p.newBar(b.Batches, desc)
	}
}

// println prints a line, above the bar on a terminal.
func (p *Progress) println(line string) {
	if p.bar != nil {
		p.bar.Clear()
	}
	fmt.Fprintln(p.w, line)
	if p.bar != nil {
		p.bar.RenderBlank()
	}
}

// Epoch prints the evaluation's line (above the bar on a terminal) and
// starts the next epoch's bar.
func (p *Progress) Epoch(e train.Epoch) {
	var line string
	if p.steps {
		line = fmt.Sprintf("step %d  train_loss %.4f  val_loss %.4f  lr %.2g", e.Epoch, e.TrainLoss, e.Val["val_loss"], e.LR)
	} else {
		shown := map[string]float64{}
		for _, k := range []string{"val_loss", "val_accuracy", "val_f1", "val_auc", "val_rmse", "val_r2"} {
			if v, ok := e.Val[k]; ok {
				shown[k] = v
			}
		}
		line = fmt.Sprintf("epoch %d  train_loss %.4f  %s", e.Epoch, e.TrainLoss, metrics.Format(shown))
	}
	p.bad++
	if e.Best {
		line += "  *"
		p.bad = 0
	}
	if p.bar == nil {
		fmt.Fprintf(p.w, "%s  (%.1fs)\n", line, e.Seconds)
		return
	}
	if !p.steps {
		p.bar.Clear()
		p.bar.Reset()
		p.bar.Describe(p.describe(e.Epoch + 1))
	}
	p.println(line)
}

// Finish ends the bar; call it when the loop returns.
func (p *Progress) Finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
