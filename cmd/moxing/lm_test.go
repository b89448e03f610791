package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moxing/moxing/data"
)

// The demo runs end to end on a small budget, and its checkpoint generates.
func TestDemoAndGenerate(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small GPT")
	}
	dir := t.TempDir()
	run := filepath.Join(dir, "demo")
	code, stdout, stderr := moxing(t, context.Background(), "demo", "--steps", "4", "--batch-size", "2", "--seq", "32",
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
		{[]string{"eval", "--model", best, "--data", filepath.Join(dir, "toy.csv")}, `a "gpt" model, not one of mlp, cnn, gpt-classifier, rnn-classifier`},
	} {
		code, _, stderr := moxing(t, context.Background(), tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q, want one line with %q", tc.args, code, stderr, tc.want)
		}
	}
}

// prepare → pretrain → eval --text, and their bad inputs.
func TestPreparePretrainEvalText(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus.txt")
	os.WriteFile(corpus, []byte(strings.Repeat("Call me Ishmael. Some years ago, never mind how long precisely. ", 40)), 0o644)
	prepared := filepath.Join(dir, "prepared")
	if code, out, e := moxing(t, context.Background(), "prepare", "--input", corpus, "--tokenizer", "bpe", "--vocab", "300", "--out", prepared); code != 0 ||
		!strings.Contains(out, "1 files") {
		t.Fatalf("prepare exit %d: %s %s", code, out, e)
	}
	run := filepath.Join(dir, "run")
	code, out, e := moxing(t, context.Background(), "pretrain", "--data", prepared, "--layers", "1", "--heads", "2", "--embd", "16",
		"--seq", "16", "--steps", "6", "--batch-size", "2", "--eval-every", "3", "--run", run)
	if code != 0 || !strings.Contains(out, "best validation loss") {
		t.Fatalf("pretrain exit %d: %s %s", code, out, e)
	}
	if code, out, e := moxing(t, context.Background(), "pretrain", "--resume", run); code != 0 || !strings.Contains(out, "best validation loss") {
		t.Fatalf("pretrain --resume exit %d: %s %s", code, out, e)
	}
	// --resume --steps extends the run: three more evaluations in its
	// metrics, the last at step 12.
	if code, out, e := moxing(t, context.Background(), "pretrain", "--resume", run, "--steps", "12"); code != 0 || !strings.Contains(out, "best validation loss") {
		t.Fatalf("pretrain --resume --steps 12: exit %d: %s %s", code, out, e)
	}
	metrics, _ := os.ReadFile(filepath.Join(run, "metrics.jsonl"))
	if lines := strings.Split(strings.TrimSpace(string(metrics)), "\n"); len(lines) != 4 || !strings.Contains(lines[3], `"step":12`) {
		t.Fatalf("metrics after extending to 12 steps:\n%s", metrics)
	}
	if code, _, e := moxing(t, context.Background(), "pretrain", "--resume", run, "--lr", "1"); code != 2 || !strings.Contains(e, "--lr cannot change when resuming") {
		t.Fatalf("pretrain --resume --lr: exit %d: %s", code, e)
	}
	if code, _, e := moxing(t, context.Background(), "pretrain", "--data", prepared, "--seq", "16", "--run", run); code == 0 || !strings.Contains(e, "--resume") {
		t.Fatalf("pretrain into a used run folder: exit %d, %s", code, e)
	}
	sample := filepath.Join(dir, "sample.txt")
	os.WriteFile(sample, []byte("Call me Ishmael. Some years ago."), 0o644)
	code, out, e = moxing(t, context.Background(), "eval", "--model", filepath.Join(run, "best.safetensors"), "--text", sample, "--per-token")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || !strings.Contains(lines[len(lines)-1], "perplexity") {
		t.Fatalf("eval --text exit %d: %s %s", code, out, e)
	}
	var scored int
	fmt.Sscanf(lines[len(lines)-1][strings.Index(lines[len(lines)-1], ": ")+2:], "%d", &scored)
	if scored < 2 || len(lines)-1 != scored {
		t.Fatalf("%d per-token lines for %d scored tokens", len(lines)-1, scored)
	}

	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, nil, 0o644)
	short := filepath.Join(dir, "short")
	os.WriteFile(filepath.Join(dir, "short.txt"), []byte("tiny"), 0o644)
	moxing(t, context.Background(), "prepare", "--input", filepath.Join(dir, "short.txt"), "--out", short)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"prepare", "--input", empty, "--out", filepath.Join(dir, "x")}, "the corpus is empty"},
		{[]string{"prepare", "--input", filepath.Join(dir, "nope*.txt"), "--out", filepath.Join(dir, "x")}, "no such file"},
		{[]string{"pretrain", "--data", short, "--seq", "16", "--layers", "1", "--embd", "8", "--heads", "2", "--steps", "1"}, "fewer than one window"},
		{[]string{"pretrain", "--data", filepath.Join(dir, "missing")}, "tokenizer.json"},
	} {
		code, _, stderr := moxing(t, context.Background(), tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, stderr, tc.want)
		}
	}
	if _, err := os.Stat("runs"); err == nil {
		t.Error("a failed pretrain left a run folder in the working directory")
	}
}

// The stop string ends the output even when it arrives split across
// tokens, and none of it is printed.
func TestGenerateStop(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "demo")
	if code, _, e := moxing(t, context.Background(), "demo", "--steps", "2", "--batch-size", "2", "--seq", "32", "--corpus-kb", "32", "--generate", "5", "--run", run); code != 0 {
		t.Fatal(e)
	}
	best := filepath.Join(run, "best.safetensors")
	_, full, _ := moxing(t, context.Background(), "generate", "--model", best, "--prompt", "func ", "--max-tokens", "60", "--seed", "9")
	gen := strings.TrimSuffix(strings.TrimPrefix(full, "func "), "\n")
	if len([]rune(gen)) < 10 {
		t.Fatalf("generated %q", gen)
	}
	r := []rune(gen)
	stop := string(r[5:7]) // two characters: they arrive as two tokens
	want := gen[:strings.Index(gen, stop)]
	_, got, _ := moxing(t, context.Background(), "generate", "--model", best, "--prompt", "func ", "--max-tokens", "60", "--seed", "9", "--stop", stop)
	if got != "func "+want+"\n" {
		t.Fatalf("with --stop %q: %q, want %q", stop, got, "func "+want+"\n")
	}
}

// generate also loads a pretraining run's last.safetensors, whose optimizer
// state it ignores.
func TestGenerateFromLastCheckpoint(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "c.txt")
	os.WriteFile(corpus, []byte(strings.Repeat("abc def ghi. ", 50)), 0o644)
	prepared, run := filepath.Join(dir, "p"), filepath.Join(dir, "run")
	if code, _, e := moxing(t, context.Background(), "prepare", "--input", corpus, "--out", prepared); code != 0 {
		t.Fatal(e)
	}
	if code, _, e := moxing(t, context.Background(), "pretrain", "--data", prepared, "--layers", "1", "--heads", "1", "--embd", "8",
		"--seq", "8", "--steps", "2", "--batch-size", "2", "--run", run); code != 0 {
		t.Fatal(e)
	}
	if code, out, e := moxing(t, context.Background(), "generate", "--model", filepath.Join(run, "last.safetensors"), "--prompt", "abc", "--max-tokens", "5"); code != 0 || !strings.HasPrefix(out, "abc") {
		t.Fatalf("exit %d: %q %s", code, out, e)
	}
}

// prepare mixes formats, one per --input item, and every item gives the end
// of its own text to validation.
func TestPrepareMixedFormats(t *testing.T) {
	dir := t.TempDir()
	brown := filepath.Join(dir, "ca01") // a Brown-corpus file: word/tag tokens, no .txt
	os.WriteFile(brown, []byte(strings.Repeat("The/at dog/nn barked/vbd ./. ", 30)+"Last/ap word/nn ./.\n"), 0o644)
	speeches := filepath.Join(dir, "speeches")
	os.MkdirAll(speeches, 0o755)
	os.WriteFile(filepath.Join(speeches, "1790.txt"), []byte(strings.Repeat("Fellow citizens, ", 30)+"qqq"), 0o644)
	out := filepath.Join(dir, "prepared")
	code, stdout, e := moxing(t, context.Background(), "prepare", "--input", "brown:"+brown+","+speeches, "--val", "0.2", "--out", out)
	if code != 0 || !strings.Contains(stdout, "2 files") {
		t.Fatalf("prepare exit %d: %s %s", code, stdout, e)
	}
	tok, trainIDs, valIDs, err := data.ReadPrepared(out)
	if err != nil {
		t.Fatal(err)
	}
	train, _ := tok.Decode(trainIDs.Ints())
	val, _ := tok.Decode(valIDs.Ints())
	if strings.Contains(train+val, "/nn") || !strings.Contains(train, "The dog barked") {
		t.Errorf("the brown: item kept its tags or lost its words: %q", train[:60])
	}
	if !strings.Contains(val, "Last word") || !strings.Contains(val, "qqq") || strings.Contains(train, "qqq") {
		t.Errorf("validation is not the end of each item: %q", val)
	}
	if code, _, e := moxing(t, context.Background(), "prepare", "--input", "brown:"+filepath.Join(dir, "none*"), "--out", out); code == 0 ||
		!strings.Contains(e, "none*") {
		t.Errorf("a missing brown: item: exit %d, %s", code, e)
	}
}
