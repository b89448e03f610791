package load_test

import (
	"bytes"
	"testing"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
)

// FuzzRead checks that opening a checkpoint returns an error, never panics
// or allocates what a hostile card asks for, on any file.
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
	f.Fuzz(func(t *testing.T, b []byte) {
		load.Read(bytes.NewReader(b), int64(len(b)), "fuzz.safetensors")
	})
}
