// Package gpttest writes test fixtures for GPT models: a Hugging Face GPT-2
// folder, as their libraries save one. Tests only.
package gpttest

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
)

// ByteSymbols is GPT-2's bytes_to_unicode: the printable character that
// stands for each byte in vocab.json and merges.txt.
func ByteSymbols() [256]string {
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

// WriteHF writes m into dir as a Hugging Face GPT-2 folder: config.json,
// model.safetensors (names with "transformer.", and lm_head.weight), and a
// byte-level tokenizer of the 256 bytes plus the merges "Ġt" and "he"
// (ids 256 and 257; m's vocabulary must hold them).
func WriteHF(dir string, m *gpt.Model) error {
	cfg, _ := json.Marshal(map[string]any{"model_type": "gpt2", "vocab_size": m.Config.VocabSize,
		"n_positions": m.Config.BlockSize, "n_embd": m.Config.NEmbd, "n_layer": m.Config.NLayer, "n_head": m.Config.NHead, "n_ctx": m.Config.BlockSize})
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
		return err
	}
	ts := map[string]*tensor.Tensor{"lm_head.weight": m.Wte.Weight}
	for _, p := range nn.Params(m) {
		ts["transformer."+p.Name] = p.Tensor
	}
	if err := checkpoint.Save(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	sym := ByteSymbols()
	vocab := map[string]int{}
	for b, s := range sym {
		vocab[s] = b
	}
	vocab[sym[' ']+"t"], vocab["he"] = 256, 257
	vj, _ := json.Marshal(vocab)
	if err := os.WriteFile(filepath.Join(dir, "vocab.json"), vj, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "merges.txt"), []byte("#version: 0.2\n"+sym[' ']+" t\nh e\n"), 0o644)
}
