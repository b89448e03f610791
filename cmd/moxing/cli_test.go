package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moxing/moxing/internal/folderlock"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Help goes to stdout with exit 0, for CMD --help and help CMD alike, and
// shows the command's flags and examples.
func TestHelpOnStdout(t *testing.T) {
	for _, args := range [][]string{{"train", "--help"}, {"help", "train"}, {"train", "-h"}, {"--help"}, {}, {"bench", "gpt", "--help"}} {
		code, out, errOut := moxing(t, context.Background(), args...)
		if code != 0 || errOut != "" || !strings.Contains(out, "Usage:") {
			t.Errorf("%v: exit %d, stdout %d bytes, stderr %q", args, code, len(out), errOut)
		}
	}
	_, out, _ := moxing(t, context.Background(), "help", "train")
	for _, want := range []string{"--batch-size", "--arch", "Examples:", "moxing train --data"} {
		if !strings.Contains(out, want) {
			t.Errorf("moxing help train lacks %q", want)
		}
	}
}

// version and --version name moxing's version, Go's and the kernels.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, _ := moxing(t, context.Background(), args...)
		if code != 0 || !strings.HasPrefix(out, "moxing ") || !strings.Contains(out, "go1.") || !strings.Contains(out, "kernels ") {
			t.Errorf("%v: exit %d, %q", args, code, out)
		}
	}
	code, out, _ := moxing(t, context.Background(), "version", "--json")
	var v map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["go"] == "" || v["kernels"] == "" {
		t.Errorf("version --json: exit %d, %q", code, out)
	}
}

// A mistyped command or flag is one line on stderr, exit 2, with a
// suggestion or a pointer to --help, not pages of usage.
func TestMistakesAreOneLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"trian"}, []string{`unknown command "trian"`, "did you mean train?"}},
		{[]string{"genrate", "-m", "x"}, []string{"did you mean generate?"}},
		{[]string{"train", "--epoch", "3"}, []string{"unknown flag: --epoch", "moxing train --help"}},
		{[]string{"train", "--epochs", "many"}, []string{`"many"`, "--epochs", "moxing train --help"}},
		{[]string{"eval", "stray"}, []string{`unexpected argument "stray"`}},
		{[]string{"bench", "gpu"}, []string{`unknown command "gpu"`, "did you mean gpt?"}},
	} {
		code, out, errOut := moxing(t, context.Background(), tc.args...)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code != 2 || out != "" || len(lines) != 1 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q: want exit 2 and one line", tc.args, code, out, errOut)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(lines[0], w) {
				t.Errorf("%v: %q lacks %q", tc.args, lines[0], w)
			}
		}
	}
}

// One meaning per flag name across commands: --model is always a model to
// load (the architecture is --arch), --batch-size is the only batch flag,
// --warmup counts steps, --json is a switch.
func TestOneMeaningPerFlag(t *testing.T) {
	var walk func(c *cobra.Command)
	seen := 0
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			seen++
			where := c.CommandPath() + " --" + f.Name
			switch f.Name {
			case "model":
				if !strings.Contains(f.Usage, "model") || strings.Contains(f.Usage, "mlp") {
					t.Errorf("%s: %q does not read as a model to load", where, f.Usage)
				}
			case "batch", "init":
				t.Errorf("%s: use --batch-size and --model", where)
			case "warmup":
				if !strings.Contains(f.Usage, "steps") {
					t.Errorf("%s: %q is not in steps", where, f.Usage)
				}
			case "json":
				if f.Value.Type() != "bool" {
					t.Errorf("%s is a %s", where, f.Value.Type())
				}
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot())
	if seen < 100 {
		t.Fatalf("saw only %d flags", seen)
	}
}

// generate takes llama.cpp's short flags and reads a prompt of - from
// stdin; --json wraps the result.
func TestGenerateFlagsAndStdin(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small GPT")
	}
	run := filepath.Join(t.TempDir(), "demo")
	if code, _, e := moxing(t, context.Background(), "demo", "--steps", "2", "--batch-size", "2", "--seq", "32", "--corpus-kb", "32", "--generate", "5", "--run", run); code != 0 {
		t.Fatal(e)
	}
	_, long, _ := moxing(t, context.Background(), "generate", "--model", run, "--prompt", "package ", "--max-tokens", "30", "--seed", "3",
		"--temperature", "0.7", "--repetition-penalty", "1.1")
	code, short, e := moxing(t, context.Background(), "generate", "-m", run, "-p", "package ", "-n", "30", "-s", "3", "--temp", "0.7", "--repeat-penalty", "1.1")
	if code != 0 || short != long || !strings.HasPrefix(short, "package ") {
		t.Fatalf("llama.cpp flags: exit %d %q (%s), long flags %q", code, short, e, long)
	}
	code, piped, e := moxingIn(t, context.Background(), "package ", "generate", "-m", run, "-p", "-", "-n", "30", "-s", "3", "--temp", "0.7", "--repeat-penalty", "1.1")
	if code != 0 || piped != long {
		t.Fatalf("prompt from stdin: exit %d %q (%s), want %q", code, piped, e, long)
	}
	code, out, e := moxing(t, context.Background(), "generate", "-m", run, "-p", "package ", "-n", "30", "-s", "3", "--temp", "0.7", "--repeat-penalty", "1.1", "--json")
	var r struct{ Prompt, Completion string }
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.Prompt+r.Completion+"\n" != long {
		t.Fatalf("--json: exit %d %q (%s)", code, out, e)
	}
}

// Characters a character vocabulary lacks are read as the unknown
// character, with a one-line note of how many; prepare reads the
// extensions it is told and says what it skipped.
func TestUnknownTextAndExtensions(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "demo")
	if code, _, e := moxing(t, context.Background(), "demo", "--tokenizer", "char", "--steps", "2", "--batch-size", "2", "--seq", "32", "--corpus-kb", "16", "--generate", "5", "--run", run); code != 0 {
		t.Fatal(e)
	}
	code, out, e := moxing(t, context.Background(), "generate", "-m", run, "-p", "ℵ\tℶ", "-n", "5")
	if code != 0 || !strings.HasPrefix(out, "ℵ\tℶ") || !strings.Contains(e, "2 characters of the prompt") || strings.Count(e, "\n") != 1 {
		t.Fatalf("a prompt with characters outside the vocabulary: exit %d, %q, stderr %q", code, out, e)
	}

	src := filepath.Join(dir, "src")
	os.Mkdir(src, 0o755)
	os.WriteFile(filepath.Join(src, "a.go"), []byte(strings.Repeat("package a\n\nfunc A() int { return 1 }\n", 20)), 0o644)
	os.WriteFile(filepath.Join(src, "notes.txt"), []byte(strings.Repeat("some notes. ", 40)), 0o644)
	code, _, e = moxing(t, context.Background(), "prepare", "--input", src, "--out", filepath.Join(dir, "p1"))
	if code != 0 || !strings.Contains(e, "1 files in the folders were skipped") {
		t.Fatalf("prepare of a folder with a .go and a .txt file: exit %d, %q", code, e)
	}
	code, out, e = moxing(t, context.Background(), "prepare", "--input", src, "--ext", ".go,.txt", "--out", filepath.Join(dir, "p2"), "--json")
	var r struct{ Files, Skipped int }
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.Files != 2 || r.Skipped != 0 {
		t.Fatalf("prepare --ext .go,.txt: exit %d, %q %q", code, out, e)
	}
	os.Remove(filepath.Join(src, "notes.txt"))
	code, _, e = moxing(t, context.Background(), "prepare", "--input", src, "--out", filepath.Join(dir, "p3"))
	if code == 0 || !strings.Contains(e, ".go") || !strings.Contains(e, "--ext") {
		t.Fatalf("prepare of a folder of .go files only: exit %d, %q", code, e)
	}
}

// tinyDemo trains a GPT of 3 steps in dir/demo (moxing demo) and returns
// the run folder.
func tinyDemo(t *testing.T, dir string) string {
	run := filepath.Join(dir, "demo")
	if code, _, e := moxing(t, context.Background(), "demo", "--steps", "3", "--batch-size", "2", "--seq", "32", "--corpus-kb", "32", "--vocab", "300", "--generate", "5", "--run", run); code != 0 {
		t.Fatal(e)
	}
	return run
}

// goFile writes a short Go program to dir/t.go, a text to evaluate.
func goFile(t *testing.T, dir string) string {
	text := filepath.Join(dir, "t.go")
	if err := os.WriteFile(text, []byte("package main\n\nfunc main() {\n\tprintln(\"hi\")\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return text
}

// quantize writes a smaller checkpoint that generates and evaluates on its
// stored weights: the same text and perplexity as the GGUF of the same
// format (whose weights llama.cpp's test checks), and a GGUF exported from
// it holds the same values.
func TestQuantize(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small GPT")
	}
	dir := t.TempDir()
	run := tinyDemo(t, dir)
	text := goFile(t, dir)
	gen := []string{"-p", "func ", "-n", "20", "-s", "5"}
	best, _ := os.Stat(filepath.Join(run, "best.safetensors"))
	for _, typ := range []string{"q8_0", "bf16", "f16"} {
		q, g := filepath.Join(dir, typ+".safetensors"), filepath.Join(dir, typ+".gguf")
		code, out, e := moxing(t, context.Background(), "quantize", "--model", run, "--out", q, "--format", typ)
		if code != 0 || !strings.Contains(out, typ) {
			t.Fatalf("quantize --format %s: exit %d %q %q", typ, code, out, e)
		}
		if code, _, e := moxing(t, context.Background(), "export", "--format", "gguf", "--type", typ, run, g); code != 0 {
			t.Fatalf("export --type %s: %s", typ, e)
		}
		st, _ := os.Stat(q)
		if st.Size() > best.Size()*7/10 {
			t.Errorf("%s: %d bytes, the float32 checkpoint %d", typ, st.Size(), best.Size())
		}
		_, a, _ := moxing(t, context.Background(), append([]string{"generate", "-m", g}, gen...)...)
		code, b, e := moxing(t, context.Background(), append([]string{"generate", "-m", q}, gen...)...)
		if code != 0 || a != b || a == "" {
			t.Fatalf("%s: generate from the checkpoint: exit %d %q (%s), from the GGUF %q", typ, code, b, e, a)
		}
		_, pa, _ := moxing(t, context.Background(), "eval", "--model", g, "--text", text, "--json")
		_, pb, _ := moxing(t, context.Background(), "eval", "--model", q, "--text", text, "--json")
		if pa != pb || pa == "" {
			t.Fatalf("%s: perplexity from the GGUF %s, from the checkpoint %s", typ, pa, pb)
		}
		again := filepath.Join(dir, "again", typ+".gguf") // the same name: GGUF's general.name
		os.MkdirAll(filepath.Dir(again), 0o755)
		if code, _, e := moxing(t, context.Background(), "export", "--format", "gguf", "--type", typ, q, again); code != 0 {
			t.Fatalf("export of the quantized checkpoint: %s", e)
		}
		x, _ := os.ReadFile(g)
		if y, _ := os.ReadFile(again); !bytes.Equal(x, y) || len(x) == 0 {
			t.Errorf("%s: the GGUF of the quantized checkpoint differs from the run's", typ)
		}
	}
	if code, _, e := moxing(t, context.Background(), "quantize", "--model", run, "--out", filepath.Join(dir, "x"), "--format", "q4_0"); code != 2 || !strings.Contains(e, "--format q8_0, bf16 or f16") {
		t.Errorf("quantize --format q4_0: exit %d %q", code, e)
	}
}

// export --format hf writes a Hugging Face folder that moxing loads back
// to the same model: the same text from the same seed, the same perplexity.
func TestExportHFRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small GPT")
	}
	dir := t.TempDir()
	run := tinyDemo(t, dir)
	hf := filepath.Join(dir, "hf")
	code, out, e := moxing(t, context.Background(), "export", "--format", "hf", run, hf)
	if code != 0 || !strings.Contains(out, "Hugging Face") {
		t.Fatalf("export: exit %d %q %q", code, out, e)
	}
	for _, f := range []string{"config.json", "model.safetensors", "vocab.json", "merges.txt"} {
		if _, err := os.Stat(filepath.Join(hf, f)); err != nil {
			t.Errorf("the export lacks %s", f)
		}
	}
	gen := []string{"-p", "func ", "-n", "20", "-s", "5"}
	_, a, _ := moxing(t, context.Background(), append([]string{"generate", "-m", run}, gen...)...)
	code, b, e := moxing(t, context.Background(), append([]string{"generate", "-m", hf}, gen...)...)
	if code != 0 || a != b {
		t.Fatalf("generate from the export: exit %d %q (%s), from the run %q", code, b, e, a)
	}
	text := goFile(t, dir)
	_, pa, _ := moxing(t, context.Background(), "eval", "--model", run, "--text", text, "--json")
	_, pb, _ := moxing(t, context.Background(), "eval", "--model", hf, "--text", text, "--json")
	if pa != pb || pa == "" {
		t.Fatalf("perplexity from the run %s, from the export %s", pa, pb)
	}
	if code, _, e := moxing(t, context.Background(), "export", "--format", "peft", run, filepath.Join(dir, "peft")); code != 1 || !strings.Contains(e, "without adapters") {
		t.Fatalf("export --format peft of a model without adapters: exit %d %q", code, e)
	}
	if code, _, e := moxing(t, context.Background(), "export", run); code != 2 || !strings.Contains(e, "want MODEL and DIR") {
		t.Fatalf("export with one argument: exit %d %q", code, e)
	}
}

// eval on the table a run was trained on says which rows it scores, and
// --split test scores the run's test rows: the metrics train reported.
func TestEvalKnowsTheRunsSplit(t *testing.T) {
	dir := t.TempDir()
	csvPath := toyCSV(t, dir, 120)
	run := filepath.Join(dir, "run")
	if code, _, e := moxing(t, context.Background(), "train", "--data", csvPath, "--run", run, "--epochs", "5"); code != 0 {
		t.Fatal(e)
	}
	code, _, e := moxing(t, context.Background(), "eval", "--model", run, "--data", csvPath)
	if code != 0 || !strings.Contains(e, "trained on this table") || !strings.Contains(e, "scoring all of them") {
		t.Fatalf("eval on the training table: exit %d, %q", code, e)
	}
	code, out, e := moxing(t, context.Background(), "eval", "--model", run, "--data", csvPath, "--split", "test", "--json")
	var got struct {
		Rows    int
		Metrics map[string]float64
	}
	raw, _ := os.ReadFile(filepath.Join(run, "test_metrics.json"))
	var want struct {
		Rows    int
		Metrics map[string]float64
	}
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil || json.Unmarshal(raw, &want) != nil {
		t.Fatalf("eval --split test: exit %d %q %q", code, out, e)
	}
	if got.Rows != want.Rows || got.Metrics["accuracy"] != want.Metrics["accuracy"] {
		t.Fatalf("--split test scored %d rows, accuracy %v; train's test split had %d, %v", got.Rows, got.Metrics["accuracy"], want.Rows, want.Metrics["accuracy"])
	}
	code, out, e = moxing(t, context.Background(), "predict", "--model", run, "--data", csvPath, "--json")
	var recs []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &recs) != nil || len(recs) != 120 || recs[0]["prediction"] == nil {
		t.Fatalf("predict --json: exit %d, %d records (%s)", code, len(recs), e)
	}
	if _, ok := recs[0]["prob_cat"].(float64); !ok {
		t.Fatalf("predict --json: prob_cat is %T, want a number", recs[0]["prob_cat"])
	}
	code, out, _ = moxing(t, context.Background(), "plot", "--run", run, "--json")
	var wrote struct{ Wrote []string }
	if code != 0 || json.Unmarshal([]byte(out), &wrote) != nil || len(wrote.Wrote) != 2 {
		t.Fatalf("plot --json: exit %d %q", code, out)
	}
	other := filepath.Join(dir, "other.csv")
	b, _ := os.ReadFile(csvPath)
	os.WriteFile(other, b, 0o644)
	if code, _, e := moxing(t, context.Background(), "eval", "--model", run, "--data", other, "--split", "test"); code != 2 || !strings.Contains(e, "was not trained on") {
		t.Fatalf("--split on another table: exit %d %q", code, e)
	}
}

// Every numeric flag is range-checked, NaN and infinities included: one
// line naming the flag, exit 2, before any work.
func TestFlagRanges(t *testing.T) {
	for _, args := range [][]string{
		{"train", "--data", "x.csv", "--val", "NaN"},
		{"train", "--data", "x.csv", "--test", "1"},
		{"train", "--data", "x.csv", "--batch-size", "-1"},
		{"train", "--data", "x.csv", "--epochs", "0"},
		{"train", "--data", "x.csv", "--lr", "Inf"},
		{"pretrain", "--data", "d", "--batch-size", "-2"},
		{"pretrain", "--data", "d", "--grad-accum", "-1"},
		{"pretrain", "--data", "d", "--lr", "-1"},
		{"pretrain", "--data", "d", "--steps", "-1"},
		{"finetune", "--model", "m", "--data", "d", "--dropout", "1"},
		{"demo", "--seq", "1"},
		{"generate", "-m", "m", "-p", "x", "--top-p", "NaN"},
		{"generate", "-m", "m", "-p", "x", "--repetition-penalty", "NaN"},
		{"generate", "-m", "m", "-p", "x", "--max-tokens", "0"},
		{"prepare", "--input", "x", "--out", "y", "--val", "NaN"},
		{"prepare", "--input", "x", "--out", "y", "--vocab", "-5"},
	} {
		code, _, e := moxing(t, context.Background(), args...)
		flagName := args[len(args)-2]
		if code != 2 || strings.Count(strings.TrimSpace(e), "\n") != 0 || !strings.Contains(e, flagName+" ") {
			t.Errorf("%v: exit %d, %q: want exit 2 and one line naming %s", args, code, e, flagName)
		}
	}
}

// A run folder or a prepared-data folder in use by another process is
// refused with a message naming it, instead of mixing two runs' files.
func TestFolderInUse(t *testing.T) {
	dir := t.TempDir()
	csvPath := toyCSV(t, dir, 60)
	run := filepath.Join(dir, "run")
	os.Mkdir(run, 0o755)
	unlock, err := folderlock.Lock(run)
	if err != nil {
		t.Fatal(err)
	}
	code, _, e := moxing(t, context.Background(), "train", "--data", csvPath, "--run", run, "--epochs", "2")
	if code != 1 || !strings.Contains(e, "in use by process") {
		t.Fatalf("train into a folder in use: exit %d %q", code, e)
	}
	unlock()
	if code, _, e := moxing(t, context.Background(), "train", "--data", csvPath, "--run", run, "--epochs", "2"); code != 0 {
		t.Fatalf("train once the folder is free: %q", e)
	}
	corpus := filepath.Join(dir, "c.txt")
	os.WriteFile(corpus, []byte(strings.Repeat("some text to prepare. ", 50)), 0o644)
	out := filepath.Join(dir, "prepared")
	os.Mkdir(out, 0o755)
	unlock, _ = folderlock.Lock(out)
	defer unlock()
	if code, _, e := moxing(t, context.Background(), "prepare", "--input", corpus, "--out", out); code != 1 || !strings.Contains(e, "in use by process") {
		t.Fatalf("prepare into a folder in use: exit %d %q", code, e)
	}
}

// A run remembers its data's fingerprint; resuming it on changed data is
// refused instead of training on two data sets.
func TestResumeNoticesChangedData(t *testing.T) {
	dir := t.TempDir()
	csvPath := toyCSV(t, dir, 60)
	run := filepath.Join(dir, "run")
	if code, _, e := moxing(t, context.Background(), "train", "--data", csvPath, "--run", run, "--epochs", "2"); code != 0 {
		t.Fatal(e)
	}
	if code, _, e := moxing(t, context.Background(), "train", "--resume", run, "--epochs", "3"); code != 0 {
		t.Fatalf("resume on the same data: %q", e)
	}
	f, _ := os.OpenFile(csvPath, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("9.9,9.9,red,cat\n")
	f.Close()
	if code, _, e := moxing(t, context.Background(), "train", "--resume", run, "--epochs", "4"); code != 1 || !strings.Contains(e, "changed since the run") {
		t.Fatalf("resume on changed data: exit %d %q", code, e)
	}
}

// A run started with a relative --data resumes from another directory:
// config.json keeps the absolute path.
func TestResumeFromAnotherDirectory(t *testing.T) {
	dir := t.TempDir()
	toyCSV(t, dir, 60)
	t.Chdir(dir)
	if code, _, e := moxing(t, context.Background(), "train", "--data", "toy.csv", "--run", "run", "--epochs", "2"); code != 0 {
		t.Fatal(e)
	}
	t.Chdir(t.TempDir())
	if code, _, e := moxing(t, context.Background(), "train", "--resume", filepath.Join(dir, "run"), "--epochs", "3"); code != 0 {
		t.Fatalf("resume from another directory: %q", e)
	}
}
