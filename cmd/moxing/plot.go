package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/moxing/moxing/internal/atomicfile"
)

const plotExample = `  moxing plot --run runs/cancer      # writes runs/cancer/curves.png and confusion.png`

func runPlot(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var runDir, outDir string
	fs := newFlags("plot", "Draws a run's learning curves (train and validation loss; validation metrics) from its\n"+
		"metrics.jsonl into curves.png, and, for classification, the test split's confusion matrix from\n"+
		"test_metrics.json into confusion.png.", plotExample, stderr)
	fs.StringVar(&runDir, "run", "", "run folder written by moxing train")
	fs.StringVar(&outDir, "out", "", "folder for the PNG files (default: the run folder)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if runDir == "" {
		return usagef("--run is required; see --help")
	}
	if outDir == "" {
		outDir = runDir
	}
	epochs, err := readMetrics(filepath.Join(runDir, "metrics.jsonl"))
	if err != nil {
		return err
	}
	curves := filepath.Join(outDir, "curves.png")
	if err := plotCurves(curves, epochs); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "wrote", curves)

	raw, err := os.ReadFile(filepath.Join(runDir, "test_metrics.json"))
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return err
	}
	var test struct {
		Confusion [][]int  `json:"confusion"`
		Classes   []string `json:"classes"`
	}
	if err := json.Unmarshal(raw, &test); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(runDir, "test_metrics.json"), err)
	}
	if test.Confusion == nil {
		return nil
	}
	cm := filepath.Join(outDir, "confusion.png")
	if err := plotConfusion(cm, test.Confusion, test.Classes); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "wrote", cm)
	return nil
}

// readMetrics reads metrics.jsonl: one JSON object of numbers per line.
func readMetrics(path string) ([]map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []map[string]float64
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		var raw map[string]any
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		m := map[string]float64{}
		for k, v := range raw {
			if x, ok := v.(float64); ok {
				m[k] = x
			}
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no epochs recorded", path)
	}
	return out, nil
}

// series returns the (epoch, m[key]) points of the epochs that have key.
func series(epochs []map[string]float64, key string) plotter.XYs {
	var xy plotter.XYs
	for _, e := range epochs {
		if v, ok := e[key]; ok {
			xy = append(xy, plotter.XY{X: e["epoch"], Y: v})
		}
	}
	return xy
}

func plotCurves(path string, epochs []map[string]float64) error {
	loss := plot.New()
	loss.Title.Text = "loss"
	loss.X.Label.Text = "epoch"
	if err := plotutil.AddLines(loss, "train", series(epochs, "train_loss"), "validation", series(epochs, "val_loss")); err != nil {
		return err
	}
	scores := plot.New()
	scores.Title.Text = "validation metrics"
	scores.X.Label.Text = "epoch"
	var lines []any
	for _, k := range []string{"val_accuracy", "val_f1", "val_auc", "val_r2"} {
		if xy := series(epochs, k); len(xy) > 0 {
			lines = append(lines, strings.TrimPrefix(k, "val_"), xy)
		}
	}
	if err := plotutil.AddLines(scores, lines...); err != nil {
		return err
	}
	for _, p := range []*plot.Plot{loss, scores} {
		p.Legend.Top = true
		p.Add(plotter.NewGrid())
	}
	const w, h = 10 * vg.Inch, 4 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 6, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	c := plot.Align([][]*plot.Plot{{loss, scores}}, tiles, dc)
	loss.Draw(c[0][0])
	scores.Draw(c[0][1])
	return writePNG(path, img)
}

// confusionGrid shows counts[t][p] with predicted classes left to right and
// true classes top to bottom.
type confusionGrid [][]int

func (g confusionGrid) Dims() (c, r int)   { return len(g), len(g) }
func (g confusionGrid) Z(c, r int) float64 { return float64(g[len(g)-1-r][c]) }
func (g confusionGrid) X(c int) float64    { return float64(c) }
func (g confusionGrid) Y(r int) float64    { return float64(r) }

func plotConfusion(path string, counts [][]int, classes []string) error {
	n := len(counts)
	if n == 0 || len(classes) != n {
		return fmt.Errorf("confusion matrix of %d classes with %d class names", n, len(classes))
	}
	p := plot.New()
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
	return writePNG(path, img)
}

func writePNG(path string, img *vgimg.Canvas) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
		return err
	})
}
