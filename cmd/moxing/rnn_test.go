package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRNNLanguageModel prepares a small corpus, pretrains a character LSTM
// and a GRU on it, and scores text with the checkpoint.
func TestRNNLanguageModel(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus.txt")
	os.WriteFile(corpus, []byte(strings.Repeat("the cat sat on the mat. the dog sat on the log. ", 200)), 0o644)
	prep := filepath.Join(dir, "prep")
	if code, _, stderr := moxing(t, context.Background(), "prepare", "--input", corpus, "--tokenizer", "char", "--out", prep); code != 0 {
		t.Fatalf("prepare: %s", stderr)
	}
	for _, kind := range []string{"lstm", "gru"} {
		run := filepath.Join(dir, kind)
		code, stdout, stderr := moxing(t, context.Background(), "pretrain", "--arch", kind, "--data", prep, "--layers", "1",
			"--embd", "16", "--hidden", "32", "--seq", "32", "--batch-size", "8", "--steps", "120", "--lr", "0.01", "--run", run)
		if code != 0 {
			t.Fatalf("%s pretrain: %s", kind, stderr)
		}
		var loss float64
		if _, err := fmt.Sscanf(stdout, "best validation loss %f", &loss); err != nil {
			t.Fatalf("%s: output %q", kind, stdout)
		}
		// Uniform over the 16 characters is ln 16 = 2.77; the text is
		// highly regular.
		if loss > 1.2 {
			t.Errorf("%s: validation loss %.3f after 120 steps, want < 1.2", kind, loss)
		}
		code, stdout, stderr = moxing(t, context.Background(), "eval", "--model", filepath.Join(run, "best.safetensors"), "--text", corpus)
		if code != 0 || !strings.Contains(stdout, "cross-entropy") {
			t.Fatalf("%s eval --text: %s %s", kind, stdout, stderr)
		}
		code, stdout, stderr = moxing(t, context.Background(), "generate", "--model", filepath.Join(run, "best.safetensors"),
			"--prompt", "the cat ", "--max-tokens", "40", "--temperature", "0")
		if code != 0 || !strings.HasPrefix(stdout, "the cat ") || len(stdout) < 40 {
			t.Fatalf("%s generate: %q %s", kind, stdout, stderr)
		}
		t.Logf("%s: %q", kind, strings.TrimSpace(stdout))
	}
}

// TestRNNTextClassifier trains a recurrent classifier and a bag-of-n-grams
// one through the CLI on a separable toy set, then classifies and evaluates
// with their checkpoints.
func TestRNNTextClassifier(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	good := []string{"great", "lovely", "excellent", "superb", "wonderful"}
	bad := []string{"awful", "terrible", "boring", "dreadful", "horrible"}
	for i := 0; i < 200; i++ {
		w, label := good[i%5], "pos"
		if i%2 == 1 {
			w, label = bad[i%5], "neg"
		}
		text := fmt.Sprintf("the film was %s and the cast %s", w, []string{"too", "as well", "indeed"}[i%3])
		line, _ := json.Marshal(map[string]string{"text": text, "label": label})
		b.Write(append(line, '\n'))
	}
	path := filepath.Join(dir, "reviews.jsonl")
	os.WriteFile(path, []byte(b.String()), 0o644)
	var best string
	for _, args := range [][]string{
		{"--arch", "lstm", "--vocab", "300", "--embd", "16", "--hidden", "16", "--epochs", "15", "--lr", "0.01", "--bidirectional"},
		{"--arch", "bow", "--char-ngrams", "2,4", "--epochs", "30", "--lr", "0.01"},
	} {
		run := filepath.Join(dir, args[1])
		code, _, stderr := moxing(t, context.Background(), append([]string{"train", "--data", path, "--run", run}, args...)...)
		if code != 0 {
			t.Fatalf("train %s: %s", args[1], stderr)
		}
		best = filepath.Join(run, "best.safetensors")
		code, stdout, stderr := moxing(t, context.Background(), "eval", "--model", best, "--data", path, "--json")
		if code != 0 {
			t.Fatalf("eval %s: %s", args[1], stderr)
		}
		var ev struct {
			Metrics map[string]float64 `json:"metrics"`
		}
		if err := json.Unmarshal([]byte(stdout), &ev); err != nil || ev.Metrics["accuracy"] < 0.95 {
			t.Errorf("%s: accuracy on its own training texts: %v %v", args[1], ev.Metrics, err)
		}
		code, stdout, stderr = moxing(t, context.Background(), "classify", "--model", best, "--text", "the film was superb and the cast too")
		if code != 0 || !strings.HasPrefix(stdout, "pos\n") {
			t.Errorf("%s classify: exit %d, %q %s", args[1], code, stdout, stderr)
		}
	}
	// A classifier is not a language model.
	code, _, stderr := moxing(t, context.Background(), "generate", "--model", best, "--prompt", "the")
	if code == 0 || strings.Contains(stderr, "panic") {
		t.Errorf("generate with a classifier: exit %d, %s", code, stderr)
	}
}
