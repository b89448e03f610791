package load_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/models/bow"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/quant"
	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/tokenizer"
)

// FuzzRead checks that opening a checkpoint or a GGUF file returns an
// error, never panics or allocates what a hostile card or header asks for,
// on any file.
func FuzzRead(f *testing.F) {
	g := tinyGPT(f)
	card, err := g.Card()
	if err != nil {
		f.Fatal(err)
	}
	tensors := map[string]*tensor.Tensor{}
	for _, p := range nn.Params(g.LM) {
		tensors[p.Name] = p.Tensor
	}
	var buf bytes.Buffer
	if err := checkpoint.Write(&buf, tensors, card.Metadata(checkpoint.MetaCard)); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	buf.Reset()
	checkpoint.Write(&buf, map[string]*tensor.Tensor{"0.weight": tensor.Zeros(2, 3)}, map[string]string{checkpoint.MetaCard: `{"kind":"mlp","config":{"inputs":3,"hidden":[200000,200000],"outputs":2}}`})
	f.Add(buf.Bytes())
	// A GGUF GPT-2 with a byte-level BPE of 260 tokens.
	tok, err := tokenizer.TrainBPE(context.Background(), "hello world, the quick brown fox", 260)
	if err != nil {
		f.Fatal(err)
	}
	m, err := gpt.New(gpt.Config{VocabSize: tok.VocabSize(), BlockSize: 8, NEmbd: 32, NLayer: 1, NHead: 2}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		f.Fatal(err)
	}
	buf.Reset()
	if err := gpt.WriteGGUF(&buf, &gpt.Pretrained{LM: m, Tokenizer: tok}, quant.Q8_0, "fuzz"); err != nil {
		f.Fatal(err)
	}
	if _, err := load.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "seed.gguf"); err != nil {
		f.Fatalf("the GGUF seed: %v", err)
	}
	f.Add(buf.Bytes())
	// A Q8_0 checkpoint of the same GPT, and a bag-of-n-grams classifier.
	dir := f.TempDir()
	if err := gpt.SaveQuantized(filepath.Join(dir, "q8.safetensors"), &gpt.Pretrained{LM: m, Tokenizer: tok}, quant.Q8_0); err != nil {
		f.Fatal(err)
	}
	q8, _ := os.ReadFile(filepath.Join(dir, "q8.safetensors"))
	f.Add(q8)
	vec, err := bow.Fit(bow.Features{Words: [2]int{1, 2}, Chars: [2]int{2, 3}, Sublinear: true}, []string{"good food", "bad food"})
	if err != nil {
		f.Fatal(err)
	}
	bm, _ := bow.New(bow.Config{Features: vec.Len(), Classes: 2, Dim: 3}, rand.New(rand.NewPCG(1, 2)))
	bcard, _ := (&bow.Pretrained{Model: bm, Vectorizer: vec, Labels: []string{"neg", "pos"}}).Card()
	tensors = map[string]*tensor.Tensor{}
	for _, p := range nn.Params(bm) {
		tensors[p.Name] = p.Tensor
	}
	buf.Reset()
	checkpoint.Write(&buf, tensors, bcard.Metadata(checkpoint.MetaCard))
	if _, err := load.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "seed.safetensors"); err != nil {
		f.Fatalf("the bag-of-n-grams seed: %v", err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		load.Read(bytes.NewReader(b), int64(len(b)), "fuzz.safetensors")
	})
}
