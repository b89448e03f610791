package gpt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/tokenizer"
)

// LoadHF loads a Hugging Face GPT-2 folder: config.json (vocab_size,
// n_positions, n_embd, n_layer, n_head; other fields are ignored),
// model.safetensors (names with or without "transformer.", with or without
// lm_head.weight), and, when present, the tokenizer's vocab.json and
// merges.txt (tok is nil when both are absent). Errors name the file and
// what is wrong: a missing or mismatched tensor, a tokenizer larger than the
// model's vocabulary.
func LoadHF(fsys fs.FS) (m *Model, tok *tokenizer.BPE, err error) {
	raw, err := fs.ReadFile(fsys, "config.json")
	if err != nil {
		return nil, nil, fmt.Errorf("gpt: %w", err)
	}
	var cfg Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, nil, fmt.Errorf("gpt: config.json: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("config.json: %w", err)
	}
	weights, err := fs.ReadFile(fsys, "model.safetensors")
	if err != nil {
		return nil, nil, fmt.Errorf("gpt: %w", err)
	}
	f, err := checkpoint.Read(bytes.NewReader(weights), int64(len(weights)))
	if err != nil {
		return nil, nil, fmt.Errorf("model.safetensors: %w", err)
	}
	if m, err = New(cfg, rand.New(rand.NewPCG(0, 0))); err != nil {
		return nil, nil, err
	}
	if err := m.LoadTensors(f.Tensors); err != nil {
		return nil, nil, fmt.Errorf("model.safetensors: %w", err)
	}
	vocab, verr := fs.ReadFile(fsys, "vocab.json")
	merges, merr := fs.ReadFile(fsys, "merges.txt")
	switch {
	case errors.Is(verr, fs.ErrNotExist) && errors.Is(merr, fs.ErrNotExist):
		return m, nil, nil
	case verr != nil:
		return nil, nil, fmt.Errorf("gpt: tokenizer: %w", verr)
	case merr != nil:
		return nil, nil, fmt.Errorf("gpt: tokenizer: %w", merr)
	}
	if tok, err = tokenizer.FromHF(bytes.NewReader(vocab), bytes.NewReader(merges)); err != nil {
		return nil, nil, err
	}
	if tok.VocabSize() > cfg.VocabSize {
		return nil, nil, fmt.Errorf("gpt: vocab.json has %d tokens, more than the model's vocab_size %d", tok.VocabSize(), cfg.VocabSize)
	}
	return m, tok, nil
}
