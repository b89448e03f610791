package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/models/gpt/gpttest"
)

// tinyLM prepares a character corpus and pretrains a one-block GPT on it
// for a few steps; it returns the checkpoint.
func tinyLM(t *testing.T, dir, name string, seed int) string {
	t.Helper()
	var b strings.Builder
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	words := []string{"the", "food", "was", "good", "bad", "service", "and", "place", "is", "very", "not"}
	for range 3000 {
		b.WriteString(words[rng.IntN(len(words))])
		b.WriteByte(' ')
	}
	corpus := filepath.Join(dir, name+".txt")
	os.WriteFile(corpus, []byte(b.String()), 0o644)
	prepared := filepath.Join(dir, name+"-data")
	if code, _, e := moxing(t, context.Background(), "prepare", "--input", corpus, "--out", prepared); code != 0 {
		t.Fatal(e)
	}
	run := filepath.Join(dir, name)
	if code, _, e := moxing(t, context.Background(), "pretrain", "--data", prepared, "--layers", "1", "--heads", "2", "--embd", "32",
		"--seq", "48", "--steps", "20", "--batch-size", "8", "--eval-every", "10", "--seed", fmt.Sprint(seed), "--run", run); code != 0 {
		t.Fatal(e)
	}
	return filepath.Join(run, "best.safetensors")
}

// sentences writes n labelled texts whose label is their last word's
// sentiment ("pos" or "neg"), as CSV.
func sentences(t *testing.T, path string, n int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	w.Write([]string{"review", "sentiment"})
	subjects := []string{"the food", "service", "the place", "food and service"}
	for i := range n {
		label, word := "pos", "good"
		if i%2 == 1 {
			label, word = "neg", "bad"
		}
		w.Write([]string{fmt.Sprintf("%s was very %s", subjects[rng.IntN(len(subjects))], word), label})
	}
	w.Flush()
	f.Close()
}

// finetune --task classify learns a separable task from a pretrained
// model, full and with LoRA adapters; classify and eval use the results;
// the adapter loads onto its base and nowhere else.
func TestFinetuneClassify(t *testing.T) {
	if testing.Short() {
		t.Skip("trains small GPTs")
	}
	dir := t.TempDir()
	base := tinyLM(t, dir, "base", 1)
	data := filepath.Join(dir, "train.csv")
	sentences(t, data, 160, 1)
	test := filepath.Join(dir, "test.csv")
	sentences(t, test, 40, 2)
	flags := []string{"--task", "classify", "--model", base, "--data", data, "--text-field", "review", "--label-field", "sentiment",
		"--epochs", "6", "--batch-size", "16", "--patience", "0", "--dropout", "0"}

	full := filepath.Join(dir, "full")
	code, out, e := moxing(t, context.Background(), append([]string{"finetune"}, append(flags, "--lr", "3e-3", "--run", full)...)...)
	if code != 0 || !strings.Contains(out, "best epoch") {
		t.Fatalf("finetune exit %d: %s %s", code, out, e)
	}
	model := filepath.Join(full, "best.safetensors")
	code, out, e = moxing(t, context.Background(), "eval", "--model", model, "--data", test, "--text-field", "review", "--label-field", "sentiment", "--json")
	if code != 0 || !strings.Contains(out, `"accuracy": 1`) {
		t.Fatalf("eval of the fine-tuned classifier: exit %d\n%s%s", code, out, e)
	}
	code, out, e = moxing(t, context.Background(), "classify", "--model", model, "--text", "the place was very bad")
	if code != 0 || !strings.HasPrefix(out, "neg\n") || !strings.Contains(out, "pos") {
		t.Fatalf("classify --text: exit %d\n%s%s", code, out, e)
	}
	long := strings.Repeat("the food was very good and ", 10) + "bad"
	code, out, e = moxing(t, context.Background(), "classify", "--model", model, "--text", long)
	if code != 0 || strings.Count(e, "longer than the model's window of 48 tokens; their first 48 tokens are used") != 1 {
		t.Fatalf("a text longer than the window: exit %d, stderr %q", code, e)
	}
	preds := filepath.Join(dir, "preds.csv")
	if code, _, e := moxing(t, context.Background(), "classify", "--model", model, "--input", test, "--text-field", "review", "--out", preds); code != 0 {
		t.Fatal(e)
	}
	raw, _ := os.ReadFile(preds)
	rows, _ := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if len(rows) != 41 || strings.Join(rows[0], ",") != "record,text,prediction,prob_neg,prob_pos" || rows[1][0] != "line 2" {
		t.Fatalf("classify --input wrote %d rows, header %v", len(rows), rows[0])
	}

	// LoRA: adapters on attention and the token embedding, a fraction of
	// the parameters.
	lora := filepath.Join(dir, "lora")
	code, out, e = moxing(t, context.Background(), append([]string{"finetune"}, append(flags, "--lora-rank", "4", "--lora-targets", "attn.c_attn,wte", "--lr", "1e-2", "--run", lora)...)...)
	if code != 0 || !strings.Contains(out, "adapter (a PEFT folder") {
		t.Fatalf("finetune --lora-rank exit %d: %s %s", code, out, e)
	}
	var trained, total int
	fmt.Sscanf(e[strings.Index(e, "classes neg, pos; ")+len("classes neg, pos; "):], "%d of %d parameters trained", &trained, &total)
	if trained == 0 || trained*10 > total {
		t.Fatalf("LoRA trained %d of %d parameters", trained, total)
	}
	adapter := filepath.Join(lora, "adapter")
	whole, _ := os.Stat(filepath.Join(lora, "best.safetensors"))
	small, _ := os.Stat(adapter)
	if small.Size()*5 > whole.Size() {
		t.Fatalf("adapter file %d bytes, whole model %d", small.Size(), whole.Size())
	}
	_, viaBest, _ := moxing(t, context.Background(), "classify", "--model", filepath.Join(lora, "best.safetensors"), "--text", "food was very good")
	code, viaAdapter, e := moxing(t, context.Background(), "classify", "--model", base, "--adapter", adapter, "--text", "food was very good")
	if code != 0 || viaAdapter != viaBest {
		t.Fatalf("base + adapter: exit %d %s\n%q\nvs best.safetensors\n%q", code, e, viaAdapter, viaBest)
	}
	code, out, e = moxing(t, context.Background(), "eval", "--model", base, "--adapter", adapter, "--data", test, "--text-field", "review", "--label-field", "sentiment")
	if code != 0 || !strings.Contains(out, "accuracy") {
		t.Fatalf("eval with --adapter: exit %d %s %s", code, out, e)
	}

	// Bad input: one clear error line each.
	other := tinyLM(t, dir, "other", 2) // same architecture, other weights: the adapter still fits
	bigger := filepath.Join(dir, "bigger")
	moxing(t, context.Background(), "pretrain", "--data", filepath.Join(dir, "base-data"), "--layers", "2", "--heads", "2", "--embd", "32",
		"--seq", "48", "--steps", "1", "--batch-size", "2", "--run", bigger)
	oneClass := filepath.Join(dir, "one.jsonl")
	os.WriteFile(oneClass, []byte("{\"text\":\"good\",\"label\":\"pos\"}\n{\"text\":\"very good\",\"label\":\"pos\"}\n"), 0o644)
	empty := filepath.Join(dir, "empty.jsonl")
	os.WriteFile(empty, []byte("{\"text\":\"good\",\"label\":\"pos\"}\n{\"text\":\" \",\"label\":\"neg\"}\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"finetune", "--model", base, "--data", data, "--run", filepath.Join(dir, "x1")}, `text field "text" is missing`},
		{[]string{"finetune", "--model", base, "--data", data, "--text-field", "review", "--label-field", "stars", "--run", filepath.Join(dir, "x2")}, `label field "stars" is missing`},
		{[]string{"finetune", "--model", base, "--data", oneClass, "--run", filepath.Join(dir, "x3")}, `every text has the label "pos"`},
		{[]string{"finetune", "--model", base, "--data", empty, "--run", filepath.Join(dir, "x4")}, "empty.jsonl line 2: empty text"},
		{[]string{"finetune", "--model", model, "--data", data, "--run", filepath.Join(dir, "x5")}, "fine-tuning starts from a language model"},
		{[]string{"finetune", "--model", base, "--data", data, "--text-field", "review", "--label-field", "sentiment", "--class-weights", "1,2,3", "--run", filepath.Join(dir, "x6")}, "3 weights for 2 classes"},
		{[]string{"generate", "--model", model, "--prompt", "the"}, "not a language model: use moxing classify"},
		{[]string{"classify", "--model", base, "--text", "good"}, "not a classifier: fine-tune one"},
		{[]string{"classify", "--model", filepath.Join(bigger, "best.safetensors"), "--adapter", adapter, "--text", "good"}, "the adapter was trained on a GPT of 1 layers"},
		{[]string{"classify", "--model", model, "--adapter", adapter, "--text", "good"}, "an adapter goes on the language model it was trained from"},
		{[]string{"classify", "--model", base, "--adapter", model, "--text", "good"}, "no moxing.adapter metadata"},
	} {
		code, _, stderr := moxing(t, context.Background(), tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q, want one line with %q", tc.args[:2], code, stderr, tc.want)
		}
	}
	if code, _, e := moxing(t, context.Background(), "classify", "--model", other, "--adapter", adapter, "--text", "good"); code != 0 {
		t.Errorf("an adapter on another model of the same shape: %s", e)
	}
}

// finetune --task lm continues a language model on a second corpus
// prepared with its tokenizer, and improves its validation loss there.
func TestFinetuneLM(t *testing.T) {
	if testing.Short() {
		t.Skip("trains small GPTs")
	}
	dir := t.TempDir()
	base := tinyLM(t, dir, "base", 1)
	second := filepath.Join(dir, "second.txt")
	os.WriteFile(second, []byte(strings.Repeat("the place is not very good and the food was bad ", 200)), 0o644)
	prepared := filepath.Join(dir, "second-data")
	if code, _, e := moxing(t, context.Background(), "prepare", "--input", second, "--tokenizer-from", base, "--out", prepared); code != 0 {
		t.Fatal(e)
	}
	code, out, e := moxing(t, context.Background(), "eval", "--model", base, "--text", second)
	var before, after float64
	fmt.Sscanf(out[strings.LastIndex(out, "cross-entropy"):], "cross-entropy %f", &before)
	run := filepath.Join(dir, "ft")
	code, out, e = moxing(t, context.Background(), "finetune", "--task", "lm", "--model", base, "--data", prepared, "--steps", "30",
		"--batch-size", "8", "--lr", "3e-3", "--freeze-embeddings", "--run", run)
	if code != 0 || !strings.Contains(out, "best validation loss") {
		t.Fatalf("finetune --task lm: exit %d %s %s", code, out, e)
	}
	fmt.Sscanf(out, "best validation loss %f", &after)
	if !(after < before-0.1) {
		t.Fatalf("validation loss on the second corpus %.3f after fine-tuning, %.3f before", after, before)
	}

	// With adapters (on attention and the token embedding): generate from
	// the run's own checkpoint and from the base with --adapter (merged on
	// load) gives the same text.
	lora := filepath.Join(dir, "lora")
	code, out, e = moxing(t, context.Background(), "finetune", "--task", "lm", "--model", base, "--data", prepared, "--steps", "10",
		"--batch-size", "8", "--lr", "1e-2", "--lora-rank", "4", "--lora-targets", "attn.c_attn,wte", "--run", lora)
	if code != 0 || !strings.Contains(out, "adapter (a PEFT folder") {
		t.Fatalf("finetune --task lm --lora-rank: exit %d %s %s", code, out, e)
	}
	gen := []string{"--prompt", "the ", "--max-tokens", "20", "--seed", "3"}
	_, viaBest, e1 := moxing(t, context.Background(), append([]string{"generate", "--model", filepath.Join(lora, "best.safetensors")}, gen...)...)
	code, viaAdapter, e2 := moxing(t, context.Background(), append([]string{"generate", "--model", base, "--adapter", filepath.Join(lora, "adapter")}, gen...)...)
	_, plain, _ := moxing(t, context.Background(), append([]string{"generate", "--model", base}, gen...)...)
	if code != 0 || viaBest == "" || viaAdapter != viaBest || viaAdapter == plain {
		t.Fatalf("generate with adapters: exit %d\n%q (%s)\nvs the run's checkpoint\n%q (%s)\nbase alone %q", code, viaAdapter, e2, viaBest, e1, plain)
	}

	// --weight-decay 0 means no decay: the same run with 0.1 ends with
	// other weights, and two runs with 0 with the same ones. (Zero once
	// became 0.1 inside the training loop, and all three were equal.)
	decayed := func(wd string) []float32 {
		run := filepath.Join(dir, "wd-"+wd+"-"+fmt.Sprint(len(wd)))
		os.RemoveAll(run)
		if code, _, e := moxing(t, context.Background(), "finetune", "--task", "lm", "--model", base, "--data", prepared, "--steps", "3",
			"--batch-size", "2", "--lr", "1e-2", "--weight-decay", wd, "--eval-every", "3", "--run", run); code != 0 {
			t.Fatalf("finetune --weight-decay %s: %s", wd, e)
		}
		f, err := checkpoint.Load(filepath.Join(run, "best.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		return f.Tensors["h.0.mlp.c_fc.weight"].Data
	}
	none, none2, some := decayed("0"), decayed("0.0"), decayed("0.1")
	if !slices.Equal(none, none2) || slices.Equal(none, some) {
		t.Fatalf("--weight-decay 0 twice equal: %v; 0 and 0.1 differ: %v", slices.Equal(none, none2), !slices.Equal(none, some))
	}

	other := filepath.Join(dir, "other-data")
	moxing(t, context.Background(), "prepare", "--input", second, "--out", other, "--tokenizer", "bpe", "--vocab", "270")
	code, _, e = moxing(t, context.Background(), "finetune", "--task", "lm", "--model", base, "--data", other, "--run", filepath.Join(dir, "x"))
	if code == 0 || !strings.Contains(e, "another tokenizer") {
		t.Fatalf("a corpus with another tokenizer: exit %d %s", code, e)
	}
}

// A Hugging Face GPT-2 folder (config.json, model.safetensors, vocab.json,
// merges.txt) is a starting point for both tasks, with its own tokenizer.
func TestFinetuneFromHuggingFace(t *testing.T) {
	dir := t.TempDir()
	m, err := gpt.New(gpt.Config{VocabSize: 260, BlockSize: 64, NEmbd: 16, NLayer: 1, NHead: 2}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	hf := filepath.Join(dir, "hf")
	os.Mkdir(hf, 0o755)
	if err := gpttest.WriteHF(hf, m); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "train.csv")
	sentences(t, data, 40, 1)
	run := filepath.Join(dir, "cls")
	code, out, e := moxing(t, context.Background(), "finetune", "--model", hf, "--data", data, "--text-field", "review",
		"--label-field", "sentiment", "--epochs", "1", "--run", run)
	if code != 0 || !strings.Contains(out, "best epoch") {
		t.Fatalf("finetune --model <Hugging Face folder>: exit %d %s %s", code, out, e)
	}
	if code, out, e := moxing(t, context.Background(), "classify", "--model", filepath.Join(run, "best.safetensors"), "--text", "the food was good"); code != 0 || out == "" {
		t.Fatalf("classify: exit %d %s", code, e)
	}
	corpus := filepath.Join(dir, "c.txt")
	os.WriteFile(corpus, []byte(strings.Repeat("the food was good, the service bad. ", 100)), 0o644)
	prepared := filepath.Join(dir, "prepared")
	if code, _, e := moxing(t, context.Background(), "prepare", "--input", corpus, "--tokenizer-from", hf, "--out", prepared); code != 0 {
		t.Fatal(e)
	}
	code, out, e = moxing(t, context.Background(), "finetune", "--task", "lm", "--model", hf, "--data", prepared, "--steps", "2",
		"--batch-size", "2", "--run", filepath.Join(dir, "lm"))
	if code != 0 || !strings.Contains(out, "best validation loss") {
		t.Fatalf("finetune --task lm --model <Hugging Face folder>: exit %d %s %s", code, out, e)
	}
}
