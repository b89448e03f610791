// Package plot draws a training run's charts as PNG images: its learning
// curves (train and validation loss; validation metrics by epoch) and a
// classifier's confusion matrix. The functions take the data and write to an
// io.Writer, so the CLI writes files and a server can answer a request with
// the same charts. They keep no state and are safe for concurrent use.
package plot

import (
	"bufio"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"math"
	"strings"

	gonum "gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// ReadMetrics reads a run's metrics.jsonl: one JSON object per line, one
// line per epoch ({"epoch":1,"train_loss":…,"val_loss":…,"val_accuracy":…})
// or, for a language model, per evaluation ({"step":100,…}). It keeps each
// object's numbers by name (true and false as 1 and 0: "best") and drops
// its other fields. A line
// that is not a JSON object is an error naming source (a path, say) and the
// line; so is a stream of no lines.
func ReadMetrics(r io.Reader, source string) ([]map[string]float64, error) {
	var out []map[string]float64
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		var raw map[string]any
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", source, line, err)
		}
		m := map[string]float64{}
		for k, v := range raw {
			switch x := v.(type) {
			case float64:
				m[k] = x
			case bool:
				m[k] = 0
				if x {
					m[k] = 1
				}
			}
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no epochs recorded", source)
	}
	return out, nil
}

// xKey is the records' x axis: "step" for a language model's, else
// "epoch".
func xKey(epochs []map[string]float64) string {
	if _, ok := epochs[0]["step"]; ok {
		return "step"
	}
	return "epoch"
}

// series returns the (x, m[key]) points of the records that have key,
// leaving out values no chart can show: NaN, infinities and magnitudes
// over 1e15 (a diverged run's loss).
func series(epochs []map[string]float64, x, key string) plotter.XYs {
	var xy plotter.XYs
	for _, e := range epochs {
		if v, ok := e[key]; ok && drawable(v) && drawable(e[x]) {
			xy = append(xy, plotter.XY{X: e[x], Y: v})
		}
	}
	return xy
}

func drawable(v float64) bool { return !math.IsNaN(v) && math.Abs(v) <= 1e15 }

// Curves writes a PNG of the learning curves: train_loss and val_loss by
// epoch (or step, for a language model's records), with the best record
// (the weights kept) marked, and beside it, when the records have any,
// the validation metrics (accuracy, F1, AUC, R²). Legends sit above the
// curves, in room added for them. epochs are ReadMetrics's records.
func Curves(w io.Writer, epochs []map[string]float64) error {
	if len(epochs) == 0 {
		return fmt.Errorf("plot: no records to draw")
	}
	x := xKey(epochs)
	loss := gonum.New()
	loss.Title.Text = "loss"
	loss.X.Label.Text = x
	if err := plotutil.AddLines(loss, "train", series(epochs, x, "train_loss"), "validation", series(epochs, x, "val_loss")); err != nil {
		return err
	}
	if len(series(epochs, x, "train_loss"))+len(series(epochs, x, "val_loss")) == 0 {
		return fmt.Errorf("plot: no finite loss to draw")
	}
	if err := markBest(loss, epochs, x); err != nil {
		return err
	}
	plots := []*gonum.Plot{loss}
	var lines []any
	for _, k := range []string{"val_accuracy", "val_f1", "val_auc", "val_r2"} {
		if xy := series(epochs, x, k); len(xy) > 0 {
			lines = append(lines, strings.TrimPrefix(k, "val_"), xy)
		}
	}
	if len(lines) > 0 {
		scores := gonum.New()
		scores.Title.Text = "validation metrics"
		scores.X.Label.Text = x
		if err := plotutil.AddLines(scores, lines...); err != nil {
			return err
		}
		plots = append(plots, scores)
	}
	for _, p := range plots {
		p.Legend.Top = true
		p.Add(plotter.NewGrid())
		p.Y.Max += 0.3 * (p.Y.Max - p.Y.Min) // room for the legend above the curves
	}
	width, height := 5*vg.Inch*vg.Length(len(plots)), 4*vg.Inch
	img := vgimg.New(width, height)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Millimeter * 6, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	c := gonum.Align([][]*gonum.Plot{plots}, tiles, dc)
	for i, p := range plots {
		p.Draw(c[0][i])
	}
	return writePNG(w, img)
}

// markBest marks the last record flagged best (the weights the run kept)
// on its validation loss.
func markBest(p *gonum.Plot, epochs []map[string]float64, x string) error {
	var best plotter.XYs
	for _, e := range epochs {
		if v, ok := e["val_loss"]; ok && e["best"] == 1 && drawable(v) {
			best = plotter.XYs{{X: e[x], Y: v}}
		}
	}
	if best == nil {
		return nil
	}
	s, err := plotter.NewScatter(best)
	if err != nil {
		return err
	}
	s.GlyphStyle.Shape = draw.CircleGlyph{}
	s.GlyphStyle.Radius = vg.Points(4)
	s.GlyphStyle.Color = color.RGBA{R: 200, A: 255}
	p.Add(s)
	p.Legend.Add(fmt.Sprintf("best (%s %g)", x, best[0].X), s)
	return nil
}

// confusionGrid shows counts[t][p] with predicted classes left to right and
// true classes top to bottom.
type confusionGrid [][]int

func (g confusionGrid) Dims() (c, r int)   { return len(g), len(g) }
func (g confusionGrid) Z(c, r int) float64 { return float64(g[len(g)-1-r][c]) }
func (g confusionGrid) X(c int) float64    { return float64(c) }
func (g confusionGrid) Y(r int) float64    { return float64(r) }

// Confusion writes a PNG heat map of a confusion matrix with its counts
// written in the cells: counts[t][p] is the number of rows of true class t
// predicted as p (as metrics.Confusion.Counts), classes their names. Predicted
// classes run left to right, true classes top to bottom. It returns an error
// when counts is not a square matrix of len(classes) rows.
func Confusion(w io.Writer, counts [][]int, classes []string) error {
	n := len(counts)
	if n == 0 || len(classes) != n {
		return fmt.Errorf("confusion matrix of %d classes with %d class names", n, len(classes))
	}
	for t, row := range counts {
		if len(row) != n {
			return fmt.Errorf("confusion matrix of %d classes: row %d has %d counts", n, t, len(row))
		}
	}
	p := gonum.New()
	p.Title.Text = "confusion matrix (test split)"
	p.X.Label.Text = "predicted"
	p.Y.Label.Text = "true"
	pal := moreland.SmoothBlueRed().Palette(255)
	p.Add(plotter.NewHeatMap(confusionGrid(counts), pal))
	var xys plotter.XYs
	var labels []string
	for r := 0; r < n; r++ {
		for c := 0; c < n; c++ {
			xys = append(xys, plotter.XY{X: float64(c), Y: float64(r)})
			labels = append(labels, fmt.Sprint(counts[n-1-r][c]))
		}
	}
	l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
	if err != nil {
		return err
	}
	for i := range l.TextStyle {
		l.TextStyle[i].Color = color.Black
		l.TextStyle[i].XAlign, l.TextStyle[i].YAlign = -0.5, -0.5
	}
	p.Add(l)
	rev := make([]string, n)
	for i, c := range classes {
		rev[n-1-i] = c
	}
	p.NominalX(classes...)
	p.NominalY(rev...)
	side := vg.Length(2+0.6*float64(n)) * vg.Inch
	img := vgimg.New(side+vg.Inch, side)
	p.Draw(draw.New(img))
	return writePNG(w, img)
}

func writePNG(w io.Writer, img *vgimg.Canvas) error {
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}
