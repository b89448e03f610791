package gpt_test

import (
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/models/gpt/gpttest"
	"github.com/moxing/moxing/nn"
)

// writeHF writes m as a Hugging Face GPT-2 folder (see gpttest.WriteHF).
func writeHF(t *testing.T, dir string, m *gpt.Model) {
	t.Helper()
	if err := gpttest.WriteHF(dir, m); err != nil {
		t.Fatal(err)
	}
}

func TestLoadHF(t *testing.T) {
	m, err := gpt.New(gpt.Config{VocabSize: 260, BlockSize: 8, NEmbd: 16, NLayer: 1, NHead: 2}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeHF(t, dir, m)
	p, err := gpt.LoadHF(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	got := p.LM
	ids, err := p.Tokenizer.Encode(" the")
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
			os.WriteFile(filepath.Join(d, "config.json"), []byte(`{"model_type": "gpt2", "vocab_size": 260, "n_positions": 8, "n_layer": 1, "n_embd": 10, "n_head": 3}`), 0o644)
		}, "n_embd 10"},
		{"missing tensor", func(d string) {
			f, _ := checkpoint.Load(filepath.Join(d, "model.safetensors"))
			delete(f.Tensors, "transformer.h.0.mlp.c_fc.weight")
			checkpoint.Save(filepath.Join(d, "model.safetensors"), f.Tensors, nil)
		}, "h.0.mlp.c_fc.weight"},
		{"other architecture", func(d string) {
			os.WriteFile(filepath.Join(d, "config.json"), []byte(`{"model_type": "gpt2", "vocab_size": 260, "n_positions": 8, "n_embd": 32, "n_layer": 1, "n_head": 2}`), 0o644)
		}, "parameters"},
		{"merges without vocab", func(d string) { os.Remove(filepath.Join(d, "vocab.json")) }, "vocab.json"},
		{"not safetensors", func(d string) { os.WriteFile(filepath.Join(d, "model.safetensors"), []byte("PK\x03\x04 a zip"), 0o644) }, "model.safetensors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			writeHF(t, d, m)
			tc.breaks(d)
			_, err := gpt.LoadHF(os.DirFS(d))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// FuzzLoadHFConfig: a Hugging Face folder whose config.json is anything
// either loads a model that matches the config or fails with an error; a
// config that describes a huge model is refused from the weights' headers,
// before anything is allocated. Nothing panics.
func FuzzLoadHFConfig(f *testing.F) {
	m, err := gpt.New(gpt.Config{VocabSize: 260, BlockSize: 8, NEmbd: 16, NLayer: 1, NHead: 2}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		f.Fatal(err)
	}
	dir := f.TempDir()
	if err := gpttest.WriteHF(dir, m); err != nil {
		f.Fatal(err)
	}
	folder := fstest.MapFS{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		folder[e.Name()] = &fstest.MapFile{Data: raw}
	}
	f.Add(string(folder["config.json"].Data))
	f.Add(`{"model_type": "gpt2", "vocab_size": 2147483647, "n_positions": 8, "n_layer": 1, "n_embd": 16, "n_head": 2}`)
	f.Add(`{"model_type": "gpt2", "architectures": ["GPT2ForSequenceClassification"], "id2label": {"0": "a"}}`)
	f.Fuzz(func(t *testing.T, config string) {
		fsys := maps.Clone(folder)
		fsys["config.json"] = &fstest.MapFile{Data: []byte(config)}
		p, err := gpt.LoadHF(fsys)
		if err != nil {
			return
		}
		if c := p.LM.Config; int(c.NumParams()) != nn.NumParams(nn.Params(p.LM)) {
			t.Fatalf("config %+v describes %v parameters, the model has %d", c, c.NumParams(), nn.NumParams(nn.Params(p.LM)))
		}
	})
}
