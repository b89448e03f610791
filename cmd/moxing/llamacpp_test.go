package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moxing/moxing/gguf"
	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/sample"
)

// llamaCpp returns the folder of tools/llama-cpp (llama.cpp, prebuilt, in
// npm's node-llama-cpp), or skips the test without it; under CI=true,
// where scripts/test.sh installs it, it fails.
func llamaCpp(t *testing.T) string {
	dir, _ := filepath.Abs("../../tools/llama-cpp")
	_, err := exec.LookPath("node")
	if _, statErr := os.Stat(filepath.Join(dir, "node_modules", "@node-llama-cpp", "linux-x64")); err != nil || statErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no node or no node-llama-cpp: scripts/test.sh runs npm ci --prefix tools/llama-cpp")
		}
		t.Skip("no node or no node-llama-cpp: npm ci --prefix tools/llama-cpp --ignore-scripts --omit=optional")
	}
	return dir
}

// llamaGreedy is llama.cpp's greedy continuation of prompt (token ids)
// on the GGUF file model.
func llamaGreedy(t *testing.T, dir, model string, prompt []int, n int) []int {
	ids, _ := json.Marshal(prompt)
	cmd := exec.Command("node", filepath.Join(dir, "generate.mjs"), model, string(ids), fmt.Sprint(n))
	cmd.Env = append(os.Environ(), "UV_THREADPOOL_SIZE=1")
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("llama.cpp on %s: %v\n%s", model, err, stderr)
	}
	var res struct{ Tokens []int }
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("llama.cpp's answer %q: %v", out, err)
	}
	return res.Tokens
}

// llamaQuantizer builds tools/llama-cpp/quantize.c against the prebuilt
// libllama, with the llama.h of the exact sources node-llama-cpp ships.
func llamaQuantizer(t *testing.T, tools string) string {
	src := filepath.Join(t.TempDir(), "llama.cpp")
	if out, err := exec.Command("git", "clone", "-q", filepath.Join(tools, "node_modules/node-llama-cpp/llama/gitRelease.bundle"), src).CombinedOutput(); err != nil {
		t.Fatalf("the llama.cpp sources: %v\n%s", err, out)
	}
	lib := filepath.Join(tools, "node_modules/@node-llama-cpp/linux-x64/bins/linux-x64")
	bin := filepath.Join(t.TempDir(), "quantize")
	cc := exec.Command("gcc", "-O1", "-I", filepath.Join(src, "include"), "-I", filepath.Join(src, "ggml/include"), filepath.Join(tools, "quantize.c"),
		"-o", bin, "-L", lib, "-l:libllama.v0.5.0.so", "-Wl,-rpath,"+lib)
	if out, err := cc.CombinedOutput(); err != nil {
		t.Fatalf("building quantize.c: %v\n%s", err, out)
	}
	return bin
}

// ggufTensors reads every tensor of a GGUF file: its type and bytes.
func ggufTensors(t *testing.T, path string) map[string]string {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Read(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for i := range f.Tensors {
		data, err := f.TensorData(&f.Tensors[i])
		if err != nil {
			t.Fatal(err)
		}
		out[f.Tensors[i].Name] = f.Tensors[i].Type.String() + ":" + string(data)
	}
	return out
}

// llama.cpp runs the GGUF files moxing export writes (f32, f16, bf16, q8_0) and
// continues a prompt with the tokens moxing does, greedily; moxing reads
// the files back.
func TestLlamaCpp(t *testing.T) {
	tools := llamaCpp(t)
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus.txt")
	os.WriteFile(corpus, []byte(strings.Repeat("the cat sat on the mat, and the dog lay by the door. ", 300)), 0o644)
	prepared := filepath.Join(dir, "data")
	if code, _, e := moxing(t, context.Background(), "prepare", "--input", corpus, "--tokenizer", "bpe", "--vocab", "300", "--out", prepared); code != 0 {
		t.Fatal(e)
	}
	run := filepath.Join(dir, "run")
	if code, _, e := moxing(t, context.Background(), "pretrain", "--data", prepared, "--layers", "2", "--heads", "2", "--embd", "64", "--seq", "64",
		"--steps", "150", "--lr", "3e-3", "--run", run); code != 0 {
		t.Fatal(e)
	}
	m, err := load.Open(run)
	if err != nil {
		t.Fatal(err)
	}
	prompt, _ := m.GPT.Tokenizer.Encode("the cat sat")
	const n = 24
	for _, typ := range []string{"f32", "f16", "bf16", "q8_0"} {
		file := filepath.Join(dir, "model-"+typ+".gguf")
		if code, _, e := moxing(t, context.Background(), "export", "--format", "gguf", "--type", typ, run, file); code != 0 {
			t.Fatal(e)
		}
		back, err := load.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		lm, err := back.LanguageModel() // a q8_0 file runs on its Q8_0 weights
		if err != nil {
			t.Fatal(err)
		}
		var ours []int
		for id := range lm.Model.Generate(context.Background(), prompt, n, sample.New(sample.Config{}, nil)) {
			ours = append(ours, id)
		}
		theirs := llamaGreedy(t, tools, file, prompt, n)
		if !slices.Equal(ours, theirs) {
			t.Fatalf("%s: moxing continues %v with %v, llama.cpp with %v", typ, prompt, ours, theirs)
		}
		text, _ := back.GPT.Tokenizer.Decode(ours)
		t.Logf("%s: both continue %q with %q", typ, "the cat sat", text)
	}

	// llama.cpp's own quantizer, from moxing's f32 file, writes the bytes
	// moxing's q8_0 export does, and moxing reads its file.
	theirs := filepath.Join(dir, "llama-q8_0.gguf")
	if out, err := exec.Command(llamaQuantizer(t, tools), filepath.Join(dir, "model-f32.gguf"), theirs).CombinedOutput(); err != nil {
		t.Fatalf("llama_model_quantize: %v\n%s", err, out)
	}
	a, b := ggufTensors(t, filepath.Join(dir, "model-q8_0.gguf")), ggufTensors(t, theirs)
	if len(a) != len(b) {
		t.Fatalf("moxing's q8_0 file has %d tensors, llama.cpp's %d", len(a), len(b))
	}
	for name, ours := range a {
		if b[name] != ours {
			t.Errorf("tensor %s: moxing wrote %s, llama.cpp %s (%d and %d bytes)", name, strings.SplitN(ours, ":", 2)[0], strings.SplitN(b[name], ":", 2)[0], len(ours), len(b[name]))
		}
	}
	q8 := 0
	for _, v := range a {
		if strings.HasPrefix(v, "q8_0:") {
			q8++
		}
	}
	if q8 < 5 {
		t.Fatalf("only %d of %d tensors are q8_0", q8, len(a))
	}
	t.Logf("llama.cpp's quantizer and moxing's wrote the same bytes for all %d tensors (%d of them q8_0)", len(a), q8)
	if _, err := load.Open(theirs); err != nil {
		t.Fatalf("llama.cpp's q8_0 file: %v", err)
	}
}
