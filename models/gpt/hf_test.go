package gpt

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
)

// byteSymbols is GPT-2's bytes_to_unicode: the printable character that
// stands for each byte in vocab.json and merges.txt.
func byteSymbols() [256]string {
	var out [256]string
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			out[b] = string(rune(b))
		} else {
			out[b] = string(rune(256 + n))
			n++
		}
	}
	return out
}

// writeHF writes m as a Hugging Face GPT-2 folder with a byte-level
// tokenizer of the 256 bytes plus "Ġt" and "he".
func writeHF(t *testing.T, dir string, m *Model) {
	t.Helper()
	cfg, _ := json.Marshal(map[string]any{"model_type": "gpt2", "vocab_size": m.Config.VocabSize,
		"n_positions": m.Config.BlockSize, "n_embd": m.Config.NEmbd, "n_layer": m.Config.NLayer, "n_head": m.Config.NHead, "n_ctx": m.Config.BlockSize})
	os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644)
	ts := map[string]*tensor.Tensor{"lm_head.weight": m.Wte.Weight}
	for _, p := range nn.Params(m) {
		ts["transformer."+p.Name] = p.Tensor
	}
	if err := checkpoint.Save(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	sym := byteSymbols()
	vocab := map[string]int{}
	for b, s := range sym {
		vocab[s] = b
	}
	vocab[sym[' ']+"t"], vocab["he"] = 256, 257
	vj, _ := json.Marshal(vocab)
	os.WriteFile(filepath.Join(dir, "vocab.json"), vj, 0o644)
	os.WriteFile(filepath.Join(dir, "merges.txt"), []byte("#version: 0.2\n"+sym[' ']+" t\nh e\n"), 0o644)
}

func TestLoadHF(t *testing.T) {
	m, err := New(Config{VocabSize: 260, BlockSize: 8, NEmbd: 16, NLayer: 1, NHead: 2}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeHF(t, dir, m)
	got, tok, err := LoadHF(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := tok.Encode(" the")
	if err != nil || len(ids) != 2 || ids[0] != 256 || ids[1] != 257 { // "Ġt" + "he"
		t.Fatalf("tokenizer: %v %v", ids, err)
	}
	ids = append(ids, int(' '), int('x'))
	want, _ := nn.Detach(m).Forward(ids, 1, 4, nil)
	have, _ := nn.Detach(got).Forward(ids, 1, 4, nil)
	for i := range want.Data {
		if want.Data[i] != have.Data[i] {
			t.Fatalf("logit %d: %v loaded, %v saved", i, have.Data[i], want.Data[i])
		}
	}

	// Bad folders: one clear error each.
	for _, tc := range []struct {
		name   string
		breaks func(dir string)
		want   string
	}{
		{"no config", func(d string) { os.Remove(filepath.Join(d, "config.json")) }, "config.json"},
		{"bad config", func(d string) {
			os.WriteFile(filepath.Join(d, "config.json"), []byte(`{"vocab_size": 260, "n_positions": 8, "n_layer": 1, "n_embd": 10, "n_head": 3}`), 0o644)
		}, "n_embd 10"},
		{"missing tensor", func(d string) {
			f, _ := checkpoint.Load(filepath.Join(d, "model.safetensors"))
			delete(f.Tensors, "transformer.h.0.mlp.c_fc.weight")
			checkpoint.Save(filepath.Join(d, "model.safetensors"), f.Tensors, nil)
		}, "h.0.mlp.c_fc.weight"},
		{"other architecture", func(d string) {
			os.WriteFile(filepath.Join(d, "config.json"), []byte(`{"vocab_size": 260, "n_positions": 8, "n_embd": 32, "n_layer": 1, "n_head": 2}`), 0o644)
		}, "shape"},
		{"merges without vocab", func(d string) { os.Remove(filepath.Join(d, "vocab.json")) }, "vocab.json"},
		{"not safetensors", func(d string) { os.WriteFile(filepath.Join(d, "model.safetensors"), []byte("PK\x03\x04 a zip"), 0o644) }, "model.safetensors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			writeHF(t, d, m)
			tc.breaks(d)
			_, _, err := LoadHF(os.DirFS(d))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
