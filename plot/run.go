package plot

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/moxing/moxing/internal/atomicfile"
)

// Run draws a run folder's charts into outDir (made if missing): its
// learning curves from metrics.jsonl into curves.png, and, when the run
// has a test_metrics.json with a confusion matrix, that matrix into
// confusion.png. It returns the paths it wrote; each is written whole or
// not at all.
func Run(runDir, outDir string) ([]string, error) {
	path := filepath.Join(runDir, "metrics.jsonl")
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	epochs, err := ReadMetrics(f, path)
	f.Close()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	curves := filepath.Join(outDir, "curves.png")
	if err := atomicfile.Write(curves, func(w io.Writer) error { return Curves(w, epochs) }); err != nil {
		return nil, err
	}
	wrote := []string{curves}
	path = filepath.Join(runDir, "test_metrics.json")
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return wrote, nil
	} else if err != nil {
		return wrote, err
	}
	var test struct {
		Confusion [][]int  `json:"confusion"`
		Classes   []string `json:"classes"`
	}
	if err := json.Unmarshal(raw, &test); err != nil {
		return wrote, fmt.Errorf("%s: %w", path, err)
	}
	if test.Confusion == nil {
		return wrote, nil
	}
	cm := filepath.Join(outDir, "confusion.png")
	if err := atomicfile.Write(cm, func(w io.Writer) error { return Confusion(w, test.Confusion, test.Classes) }); err != nil {
		return wrote, err
	}
	return append(wrote, cm), nil
}
