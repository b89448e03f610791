package plot_test

import (
	"bytes"
	"image/png"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/moxing/moxing/plot"
)

const metricsJSONL = `{"epoch":1,"train_loss":0.9,"val_loss":1.0,"val_accuracy":0.5,"lr":0.001,"best":true,"note":"x"}
{"epoch":2,"train_loss":0.5,"val_loss":0.7,"val_accuracy":0.75,"lr":0.001,"best":false}
`

func TestReadMetrics(t *testing.T) {
	epochs, err := plot.ReadMetrics(strings.NewReader(metricsJSONL), "metrics.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if len(epochs) != 2 || epochs[1]["epoch"] != 2 || epochs[1]["val_accuracy"] != 0.75 {
		t.Errorf("ReadMetrics = %v", epochs)
	}
	if _, ok := epochs[0]["note"]; ok || epochs[0]["best"] != 1 || epochs[1]["best"] != 0 {
		t.Errorf("ReadMetrics kept a field that is neither a number nor a boolean, or lost best: %v", epochs)
	}
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "run/metrics.jsonl: no epochs recorded"},
		{"bad line", `{"epoch":1}` + "\n" + `{"epoch":` + "\n", "run/metrics.jsonl line 2: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := plot.ReadMetrics(strings.NewReader(tc.in), "run/metrics.jsonl"); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadMetrics: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// decodePNG returns the width and height of the PNG in b.
func decodePNG(t *testing.T, b []byte) (w, h int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	return img.Bounds().Dx(), img.Bounds().Dy()
}

func TestCurves(t *testing.T) {
	epochs, err := plot.ReadMetrics(strings.NewReader(metricsJSONL), "metrics.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := plot.Curves(&buf, epochs); err != nil {
		t.Fatal(err)
	}
	w2, h := decodePNG(t, buf.Bytes())
	if w2 <= h || h == 0 {
		t.Errorf("curves are %d×%d pixels, want wider than high", w2, h)
	}
	// A language model's records are by step and have no metrics but the
	// loss: one panel, not an empty second one.
	lm, err := plot.ReadMetrics(strings.NewReader(`{"step":100,"train_loss":3,"val_loss":3.1,"best":true}`+"\n"+`{"step":200,"train_loss":2,"val_loss":2.5,"best":true}`), "lm")
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := plot.Curves(&buf, lm); err != nil {
		t.Fatal(err)
	}
	if w1, _ := decodePNG(t, buf.Bytes()); 2*w1 != w2 {
		t.Errorf("a language model's curves are %d pixels wide, want one panel (half of %d)", w1, w2)
	}
}

func TestConfusion(t *testing.T) {
	var buf bytes.Buffer
	if err := plot.Confusion(&buf, [][]int{{5, 1}, {2, 7}}, []string{"cat", "dog"}); err != nil {
		t.Fatal(err)
	}
	if w, h := decodePNG(t, buf.Bytes()); w == 0 || h == 0 {
		t.Errorf("confusion matrix is %d×%d pixels", w, h)
	}
	for _, tc := range []struct {
		name    string
		counts  [][]int
		classes []string
	}{
		{"empty", nil, nil},
		{"names", [][]int{{1, 0}, {0, 1}}, []string{"cat"}},
		{"ragged", [][]int{{1, 0}, {0}}, []string{"cat", "dog"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := plot.Confusion(&bytes.Buffer{}, tc.counts, tc.classes); err == nil {
				t.Error("no error")
			}
		})
	}
}

// Values no chart can show (a diverged run's loss) are left out instead of
// stalling the axis code; a run with no finite loss at all is an error.
func TestCurvesSkipsHugeValues(t *testing.T) {
	epochs, err := plot.ReadMetrics(strings.NewReader(`{"epoch":1,"train_loss":1e308,"val_loss":-1e308}
{"epoch":2,"train_loss":0.5,"val_loss":0.7}
`), "m")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- plot.Curves(io.Discard, epochs) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Curves did not finish on ±1e308")
	}
	only, _ := plot.ReadMetrics(strings.NewReader(`{"epoch":1,"train_loss":1e308}`), "m")
	if err := plot.Curves(io.Discard, only); err == nil {
		t.Fatal("drew a run with no finite loss")
	}
}
