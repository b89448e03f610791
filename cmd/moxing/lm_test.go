package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The demo runs end to end on a small budget, and its checkpoint generates.
func TestDemoAndGenerate(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small GPT")
	}
	dir := t.TempDir()
	run := filepath.Join(dir, "demo")
	code, stdout, stderr := moxing(t, context.Background(), "demo", "--steps", "4", "--batch", "2", "--seq", "32",
		"--corpus-kb", "64", "--generate", "30", "--run", run)
	if code != 0 {
		t.Fatalf("demo exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(stdout, "func ") || !strings.Contains(stderr, "best validation loss") {
		t.Fatalf("demo output:\n%s\nstderr:\n%s", stdout, stderr)
	}
	best := filepath.Join(run, "best.safetensors")
	if _, err := os.Stat(best); err != nil {
		t.Fatal(err)
	}
	gen := func(seed string) string {
		code, out, e := moxing(t, context.Background(), "generate", "--model", best, "--prompt", "package ", "--max-tokens", "40", "--seed", seed)
		if code != 0 {
			t.Fatalf("generate exit %d: %s", code, e)
		}
		return out
	}
	a, b := gen("3"), gen("3")
	if a != b || !strings.HasPrefix(a, "package ") || len([]rune(a)) < len("package ")+30 {
		t.Fatalf("generation not reproducible or too short:\n%q\n%q", a, b)
	}

	// Bad input: one clear error line each.
	tabular := filepath.Join(dir, "tab")
	if c, _, e := moxing(t, context.Background(), "train", "--data", toyCSV(t, dir, 60), "--run", tabular, "--epochs", "2"); c != 0 {
		t.Fatal(e)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"generate", "--model", best, "--prompt", "caf\xe9"}, "invalid UTF-8"},
		{[]string{"generate", "--model", best, "--prompt", "x", "--top-p", "2"}, "top-p"},
		{[]string{"generate", "--model", filepath.Join(tabular, "best.safetensors"), "--prompt", "x"}, `a "mlp" model, not a GPT`},
		{[]string{"eval", "--model", best, "--data", filepath.Join(dir, "toy.csv")}, `a "gpt" model, not a tabular MLP`},
	} {
		code, _, stderr := moxing(t, context.Background(), tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q, want one line with %q", tc.args, code, stderr, tc.want)
		}
	}
}
