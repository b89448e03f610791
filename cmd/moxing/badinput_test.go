package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/tensor"
)

// Every kind of bad input gives one clear error line naming the file, line
// and column or field, a non-zero exit, no stack trace and no output file.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := toyCSV(t, dir, 60)
	runDir := filepath.Join(dir, "run")
	if code, _, e := moxing(t, context.Background(), "train", "--data", good, "--run", runDir, "--epochs", "3"); code != 0 {
		t.Fatal(e)
	}
	best := filepath.Join(runDir, "best.safetensors")
	raw, _ := os.ReadFile(best)
	truncated := write("truncated.safetensors", string(raw[:len(raw)/2]))
	foreign := filepath.Join(dir, "foreign.safetensors")
	if err := checkpoint.Save(foreign, map[string]*tensor.Tensor{"w": tensor.Ones(2)}, nil); err != nil {
		t.Fatal(err)
	}
	gptLike := filepath.Join(dir, "gpt.safetensors")
	if err := checkpoint.Save(gptLike, map[string]*tensor.Tensor{"wte.weight": tensor.Ones(2, 2)}, map[string]string{checkpoint.MetaCard: `{"kind":"gpt"}`}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.csv")

	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string // all must appear in the one error line
	}{
		{"non_numeric", []string{"train", "--data", write("a.csv", "x,y\n1,0\n2,1\nabc,0\n3,1\n")}, 1, []string{"a.csv line 4", `column "x"`, `"abc" is not a number`}},
		{"ragged", []string{"train", "--data", write("b.csv", "x,y\n1,0\n2\n")}, 1, []string{"b.csv line 3", "1 fields, want 2"}},
		{"empty", []string{"train", "--data", write("c.csv", "")}, 1, []string{"c.csv", "no rows"}},
		{"missing_target", []string{"train", "--data", good, "--target", "species"}, 1, []string{`no column "species"`}},
		{"one_class", []string{"train", "--data", write("d.csv", "x,y\n1,0\n2,0\n3,0\n")}, 1, []string{"d.csv", `target column "y" has one class only`}},
		{"nan", []string{"train", "--data", write("e.csv", "x,y\n1,0\n2,1\n3,0\n4,1\n5,0\n6,1\ninf,0\n8,1\n")}, 1, []string{"e.csv line 8", `"inf" is not a finite number`}},
		{"missing_cell", []string{"train", "--data", write("f.csv", "x,y\n1,0\n,1\n3,0\n4,1\n5,0\n6,1\n7,0\n8,1\n")}, 1, []string{"f.csv line 3", `column "x"`, "missing value", "--impute mean"}},
		{"missing_file", []string{"train", "--data", filepath.Join(dir, "nope.csv")}, 1, []string{"nope.csv", "no such file"}},
		{"no_data_flag", []string{"train"}, 2, []string{"--data is required"}},
		{"bad_flag", []string{"train", "--bogus"}, 2, []string{"unknown flag: --bogus", "moxing train --help"}},
		{"bad_optimizer", []string{"train", "--data", good, "--optimizer", "lion"}, 2, []string{`--optimizer "lion"`}},
		{"bad_hidden", []string{"train", "--data", good, "--hidden", "8,x"}, 2, []string{`--hidden "8,x"`}},
		{"unseen_label", []string{"eval", "--model", best, "--data", write("g.csv", "x1,x2,colour,label\n1,2,red,cow\n")}, 1, []string{"g.csv line 2", `label "cow" was never seen in training`}},
		{"unseen_category", []string{"predict", "--model", best, "--data", write("h.csv", "x1,x2,colour\n1,2,mauve\n"), "--out", out}, 1, []string{"h.csv line 2", `column "colour"`, `category "mauve" was not seen`}},
		{"missing_feature", []string{"predict", "--model", best, "--data", write("i.csv", "x1,colour\n1,red\n"), "--out", out}, 1, []string{"i.csv", `feature column "x2" is missing`}},
		{"truncated_checkpoint", []string{"predict", "--model", truncated, "--data", good, "--out", out}, 1, []string{"truncated.safetensors"}},
		{"not_safetensors", []string{"eval", "--model", good, "--data", good}, 1, []string{"toy.csv", "not a safetensors file"}},
		{"foreign_checkpoint", []string{"eval", "--model", foreign, "--data", good}, 1, []string{"foreign.safetensors", "not a moxing model (no moxing.model metadata)"}},
		{"other_model", []string{"predict", "--model", gptLike, "--data", good, "--out", out}, 1, []string{"gpt.safetensors", `a "gpt" model, not one of mlp, cnn`}},
		{"run_not_empty", []string{"train", "--data", good, "--run", runDir}, 1, []string{"run folder", "is not empty", "--resume"}},
		{"plot_no_run", []string{"plot", "--run", filepath.Join(dir, "nothing")}, 1, []string{"metrics.jsonl"}},
		{"unknown_command", []string{"fly"}, 2, []string{`unknown command "fly"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := moxing(t, context.Background(), tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
				t.Fatalf("stack trace in stderr:\n%s", stderr)
			}
			errLine := ""
			for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
				if strings.HasPrefix(l, "moxing") {
					if errLine != "" {
						t.Fatalf("more than one error line:\n%s", stderr)
					}
					errLine = l
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(errLine, w) {
					t.Fatalf("error line %q lacks %q (stderr:\n%s)", errLine, w, stderr)
				}
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatalf("%s was written despite the error", out)
			}
		})
	}
}
