// Command llama times moxing and llama.cpp side by side on the same GGUF
// files: GPT-2 small with random weights (the GPT-2 tokenizer's 50,257
// tokens), written by moxing as f32, f16 and q8_0, then batch-1 decoding
// (tokens after a 16-token prompt, greedy) and the processing of a longer
// prompt, on 1 and 2 threads. llama.cpp is npm's node-llama-cpp (prebuilt,
// tools/llama-cpp: npm install --prefix tools/llama-cpp --ignore-scripts
// --omit=optional). Run it on a quiet machine:
//
//	go run ./bench/llama
//
// The table's ratios are moxing ÷ llama.cpp, from the same run.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/sample"
	"github.com/moxing/moxing/tokenizer"
)

func main() {
	types := flag.String("types", "f32,f16,bf16,q8_0", "GGUF storage types to time")
	threads := flag.String("threads", "1,2", "thread counts")
	prompt := flag.Int("prompt", 256, "tokens of the prompt timed for prompt processing")
	tokens := flag.Int("tokens", 128, "tokens decoded")
	tools := flag.String("llama", "tools/llama-cpp", "the folder of node-llama-cpp and bench.mjs")
	flag.Parse()
	if err := run(strings.Split(*types, ","), strings.Split(*threads, ","), *prompt, *tokens, *tools); err != nil {
		fmt.Fprintln(os.Stderr, "llama:", err)
		os.Exit(1)
	}
}

func run(types, threads []string, promptLen, gen int, tools string) error {
	tok, err := tokenizer.GPT2()
	if err != nil {
		return err
	}
	cfg, _ := gpt.Preset("gpt2-small")
	cfg.VocabSize = tok.VocabSize()
	m, err := gpt.New(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "moxing-llama-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Printf("GPT-2 small, random weights; %d tokens decoded after a 16-token prompt; a %d-token prompt; %d CPUs\n\n", gen, promptLen, runtime.NumCPU())
	fmt.Println("| type | threads | moxing decode tok/s | llama.cpp decode tok/s | ratio | moxing prompt tok/s | llama.cpp prompt tok/s | ratio |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, typ := range types {
		file := filepath.Join(dir, typ+".gguf")
		if err := gpt.SaveGGUF(file, &gpt.Pretrained{LM: m, Tokenizer: tok}, typ); err != nil {
			return err
		}
		mod, err := load.Open(file)
		if err != nil {
			return err
		}
		lm, err := mod.LanguageModel()
		if err != nil {
			return err
		}
		for _, th := range threads {
			var n int
			fmt.Sscan(th, &n)
			runtime.GOMAXPROCS(n)
			promptRate(lm, promptLen) // warm-up: the first prompt after loading pays for allocations
			ours := decodeRate(lm, gen)
			oursPrompt := promptRate(lm, promptLen)
			theirs, err := llamaCpp(tools, file, n, promptLen, gen)
			if err != nil {
				return err
			}
			fmt.Printf("| %s | %d | %.1f | %.1f | %.2f | %.0f | %.0f | %.2f |\n", typ, n, ours, theirs.Decode, ours/theirs.Decode, oursPrompt, theirs.Prompt, oursPrompt/theirs.Prompt)
		}
	}
	return nil
}

// ids are the fixed token ids bench.mjs uses too.
func ids(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = 100 + (i*37)%1000
	}
	return out
}

// decodeRate is moxing's decoding speed: tokens from the first to the
// last, after a 16-token prompt.
func decodeRate(lm *load.LanguageModel, gen int) float64 {
	var first time.Time
	n := 0
	for range lm.Model.Generate(context.Background(), ids(16), gen, sample.New(sample.Config{}, nil)) {
		if n++; n == 1 {
			first = time.Now()
		}
	}
	return float64(n-1) / time.Since(first).Seconds()
}

// promptRate is moxing's prompt processing: a prompt of n tokens and the
// first token after it.
func promptRate(lm *load.LanguageModel, n int) float64 {
	start := time.Now()
	for range lm.Model.Generate(context.Background(), ids(n), 1, sample.New(sample.Config{}, nil)) {
	}
	return float64(n) / time.Since(start).Seconds()
}

type rates struct {
	Prompt float64 `json:"prompt_tps"`
	Decode float64 `json:"decode_tps"`
}

// llamaCpp runs bench.mjs.
func llamaCpp(tools, file string, threads, prompt, gen int) (rates, error) {
	cmd := exec.Command("node", filepath.Join(tools, "bench.mjs"), file, fmt.Sprint(threads), fmt.Sprint(prompt), fmt.Sprint(gen))
	cmd.Env = append(os.Environ(), "UV_THREADPOOL_SIZE=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return rates{}, fmt.Errorf("llama.cpp: %w", err)
	}
	var r rates
	return r, json.Unmarshal(out, &r)
}
