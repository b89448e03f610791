package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// moxing runs the CLI in-process and returns its exit status and output.
func moxing(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return moxingIn(t, ctx, "", args...)
}

// moxingIn is moxing with stdin as standard input.
func moxingIn(t *testing.T, ctx context.Context, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(ctx, args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// toyCSV writes a separable 3-class table with a categorical column.
func toyCSV(t *testing.T, dir string, rows int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("x1,x2,colour,label\n")
	for i := 0; i < rows; i++ {
		k := i % 3
		colour := []string{"red", "green", "blue"}[(i/3)%3]
		fmt.Fprintf(&b, "%.3f,%.3f,%s,%s\n", float64(k)*2+0.1*float64(i%7), float64(i%5)*0.1-float64(k), colour, []string{"cat", "dog", "eel"}[k])
	}
	path := filepath.Join(dir, "toy.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTrainEvalPredictPlot(t *testing.T) {
	dir := t.TempDir()
	csvPath := toyCSV(t, dir, 120)
	runDir := filepath.Join(dir, "run")
	code, stdout, stderr := moxing(t, context.Background(), "train", "--data", csvPath, "--run", runDir, "--epochs", "30", "--hidden", "16", "--lr", "0.01")
	if code != 0 {
		t.Fatalf("train exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "test (") || !strings.Contains(stdout, "accuracy") {
		t.Fatalf("train output lacks test metrics:\n%s", stdout)
	}
	for _, f := range []string{"config.json", "split.json", "metrics.jsonl", "best.safetensors", "last.safetensors", "test_metrics.json"} {
		if _, err := os.Stat(filepath.Join(runDir, f)); err != nil {
			t.Errorf("run folder lacks %s", f)
		}
	}
	if n := countLines(t, filepath.Join(runDir, "metrics.jsonl")); n < 1 || n > 30 {
		t.Errorf("metrics.jsonl has %d lines", n)
	}

	best := filepath.Join(runDir, "best.safetensors")
	code, stdout, stderr = moxing(t, context.Background(), "eval", "--model", best, "--data", csvPath)
	if code != 0 || !strings.Contains(stdout, "accuracy 1.0000") || !strings.Contains(stdout, "cat") {
		t.Fatalf("eval exit %d, stdout:\n%s\nstderr: %s", code, stdout, stderr)
	}

	out := filepath.Join(dir, "pred.csv")
	if code, _, stderr = moxing(t, context.Background(), "predict", "--model", best, "--data", csvPath, "--out", out); code != 0 {
		t.Fatalf("predict exit %d: %s", code, stderr)
	}
	f, _ := os.Open(out)
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(recs[0], ","); got != "x1,x2,colour,label,prediction,prob_cat,prob_dog,prob_eel" {
		t.Fatalf("header %s", got)
	}
	if len(recs) != 121 {
		t.Fatalf("%d prediction rows, want 120", len(recs)-1)
	}
	for _, r := range recs[1:] {
		if r[3] != r[4] {
			t.Fatalf("row %v: prediction differs from the label on separable data", r)
		}
	}

	if code, stdout, stderr = moxing(t, context.Background(), "plot", "--run", runDir); code != 0 {
		t.Fatalf("plot exit %d: %s", code, stderr)
	}
	for _, f := range []string{"curves.png", "confusion.png"} {
		b, err := os.ReadFile(filepath.Join(runDir, f))
		if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Errorf("%s is not a PNG: %v", f, err)
		}
	}
}

// Resuming a run gives exactly the epochs an uninterrupted run gives.
func TestResumeMatchesStraightRun(t *testing.T) {
	dir := t.TempDir()
	csvPath := toyCSV(t, dir, 90)
	common := []string{"--data", csvPath, "--hidden", "8", "--dropout", "0.1", "--patience", "0", "--batch-size", "16"}
	straight, split := filepath.Join(dir, "straight"), filepath.Join(dir, "split")
	if code, _, e := moxing(t, context.Background(), append([]string{"train", "--run", straight, "--epochs", "6"}, common...)...); code != 0 {
		t.Fatal(e)
	}
	if code, _, e := moxing(t, context.Background(), append([]string{"train", "--run", split, "--epochs", "4"}, common...)...); code != 0 {
		t.Fatal(e)
	}
	if code, _, e := moxing(t, context.Background(), "train", "--resume", split, "--epochs", "6"); code != 0 {
		t.Fatal(e)
	}
	a, b := epochsWithoutTime(t, filepath.Join(straight, "metrics.jsonl")), epochsWithoutTime(t, filepath.Join(split, "metrics.jsonl"))
	if len(a) != 6 || strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatalf("straight run:\n%s\nresumed run:\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
}

// A cancelled run (Ctrl-C) saves last.safetensors, says how to resume, and
// can be resumed.
func TestInterruptSavesAndResumes(t *testing.T) {
	dir := t.TempDir()
	csvPath := toyCSV(t, dir, 60)
	runDir := filepath.Join(dir, "run")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, _, stderr := moxing(t, ctx, "train", "--data", csvPath, "--run", runDir, "--epochs", "3")
	if code != 1 || !strings.Contains(stderr, "interrupted") || !strings.Contains(stderr, "--resume "+runDir) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(runDir, "last.safetensors")); err != nil {
		t.Fatal("no last.safetensors after an interrupt")
	}
	if code, _, stderr = moxing(t, context.Background(), "train", "--resume", runDir); code != 0 {
		t.Fatalf("resume exit %d: %s", code, stderr)
	}
	if n := countLines(t, filepath.Join(runDir, "metrics.jsonl")); n != 3 {
		t.Fatalf("%d epochs after resuming, want 3", n)
	}
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	return len(epochsWithoutTime(t, path))
}

// epochsWithoutTime reads metrics.jsonl with the wall-clock field removed.
func epochsWithoutTime(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, `"seconds":`); i >= 0 {
			j := strings.IndexAny(line[i:], ",}")
			line = line[:i] + line[i+j:]
		}
		out = append(out, line)
	}
	return out
}
