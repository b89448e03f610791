package gpt_test

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/quant"
	"github.com/moxing/moxing/tokenizer"
)

// A checkpoint SaveQuantized writes loads as a model whose inference runs
// on exactly the weights QuantizeWeights gives the original: the logits of
// a prompt are the same bits. The file is the size its format says.
func TestSaveQuantized(t *testing.T) {
	tok, err := tokenizer.NewChar("abcdefgh ")
	if err != nil {
		t.Fatal(err)
	}
	cfg := gpt.Config{VocabSize: tok.VocabSize(), BlockSize: 32, NEmbd: 64, NLayer: 2, NHead: 4}
	dir := t.TempDir()
	f32 := filepath.Join(dir, "f32.safetensors")
	base := newModel(t, cfg)
	card, err := (&gpt.Pretrained{LM: base, Tokenizer: tok}).Card()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.SaveParams(f32, nn.Params(base), card.Metadata(checkpoint.MetaCard)); err != nil {
		t.Fatal(err)
	}
	matrices := 0
	for _, prm := range nn.Params(base) {
		if strings.HasSuffix(prm.Name, "weight") && len(prm.Shape()) == 2 && !strings.HasPrefix(prm.Name, "wpe") {
			matrices += prm.Numel()
		}
	}
	prompt := []int{1, 2, 3, 4, 5, 6, 7, 8, 0, 1}
	for _, typ := range []quant.Type{quant.Q8_0, quant.F16, quant.BF16} {
		path := filepath.Join(dir, typ.String()+".safetensors")
		if err := gpt.SaveQuantized(path, &gpt.Pretrained{LM: newModel(t, cfg), Tokenizer: tok}, typ); err != nil {
			t.Fatal(err)
		}
		want := newModel(t, cfg)
		if err := want.QuantizeWeights(typ); err != nil {
			t.Fatal(err)
		}
		h, err := checkpoint.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		c, err := checkpoint.ReadCard(h.Metadata, checkpoint.MetaCard)
		if err != nil {
			t.Fatal(err)
		}
		back, err := gpt.Load(c, h)
		h.Close()
		if err != nil {
			t.Fatalf("%v: %v", typ, err)
		}
		if back.Quant != typ {
			t.Fatalf("%v: the loaded model runs as %v", typ, back.Quant)
		}
		got := nn.Detach(back.LM)
		nn.Eval(got)
		if err := got.QuantizeWeights(back.Quant); err != nil {
			t.Fatal(err)
		}
		pw, pg := nn.Params(want), nn.Params(got)
		for i := range pw {
			if typ == quant.Q8_0 && pw[i].Name != "wte.weight" {
				continue // a Q8_0 projection's float32 copy is not read
			}
			for j := range pw[i].Data {
				if pw[i].Data[j] != pg[i].Data[j] {
					t.Fatalf("%v: %s[%d] is %v from the file, %v quantized in memory", typ, pw[i].Name, j, pg[i].Data[j], pw[i].Data[j])
				}
			}
		}
		a, b := logits(want, prompt), logits(got, prompt)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%v: logit %d is %v from the file, %v quantized in memory", typ, i, b[i], a[i])
			}
		}
		st, _ := os.Stat(path)
		sf, _ := os.Stat(f32)
		saved := sf.Size() - st.Size()
		if want := int64(4*matrices - typ.Bytes(matrices)); saved < want-4096 || saved > want+4096 {
			t.Errorf("%v: the file is %d bytes smaller than float32's, want about %d", typ, saved, want)
		}
	}
	if err := gpt.SaveQuantized(filepath.Join(dir, "x"), &gpt.Pretrained{LM: base, Tokenizer: tok}, quant.F32); err == nil || !strings.Contains(err.Error(), "want q8_0") {
		t.Errorf("SaveQuantized as f32: %v", err)
	}
}

// newModel is the same random GPT every call.
func newModel(t *testing.T, cfg gpt.Config) *gpt.Model {
	m, err := gpt.New(cfg, rand.New(rand.NewPCG(7, 8)))
	if err != nil {
		t.Fatal(err)
	}
	m = nn.Detach(m)
	nn.Eval(m)
	return m
}

// logits returns m's logits for the last token of prompt, through the
// decoding path.
func logits(m *gpt.Model, prompt []int) []float32 {
	return m.Step([]gpt.Segment{{Slot: 0, Tokens: prompt}}, m.NewCache(1)).Data
}
