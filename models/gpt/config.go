package gpt

import "fmt"

// Config describes a GPT-2 style model. The JSON names are Hugging Face's
// GPT-2 config.json names, so their config files read directly.
type Config struct {
	VocabSize int     `json:"vocab_size"`  // V: tokens in the vocabulary
	BlockSize int     `json:"n_positions"` // T max: the context window
	NEmbd     int     `json:"n_embd"`      // C: channels
	NLayer    int     `json:"n_layer"`     // transformer blocks
	NHead     int     `json:"n_head"`      // H: attention heads, C/H channels each
	Dropout   float32 `json:"dropout"`     // on embeddings, attention and residual branches, in training
}

// Tiny is a small model for quick runs on a CPU: 4 layers, 4 heads, 128
// channels, a 256-token window. Set VocabSize to the tokenizer's size.
func Tiny() Config { return Config{BlockSize: 256, NEmbd: 128, NLayer: 4, NHead: 4} }

// GPT2Small is GPT-2 small (124M parameters).
func GPT2Small() Config {
	return Config{VocabSize: 50257, BlockSize: 1024, NEmbd: 768, NLayer: 12, NHead: 12}
}

// GPT2Medium is GPT-2 medium (350M parameters).
func GPT2Medium() Config {
	return Config{VocabSize: 50257, BlockSize: 1024, NEmbd: 1024, NLayer: 24, NHead: 16}
}

// GPT2Large is GPT-2 large (774M parameters).
func GPT2Large() Config {
	return Config{VocabSize: 50257, BlockSize: 1024, NEmbd: 1280, NLayer: 36, NHead: 20}
}

// GPT2XL is GPT-2 XL (1558M parameters).
func GPT2XL() Config {
	return Config{VocabSize: 50257, BlockSize: 1024, NEmbd: 1600, NLayer: 48, NHead: 25}
}

// Preset returns the configuration called name, "tiny" (Tiny, whose
// VocabSize is 0: set it) or "gpt2-small" (GPT2Small), the presets the
// command line offers, and whether name is one of them.
func Preset(name string) (Config, bool) {
	switch name {
	case "tiny":
		return Tiny(), true
	case "gpt2-small":
		return GPT2Small(), true
	}
	return Config{}, false
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	switch {
	case c.VocabSize < 1:
		return fmt.Errorf("gpt: vocab_size %d, want at least 1", c.VocabSize)
	case c.BlockSize < 1:
		return fmt.Errorf("gpt: n_positions %d, want at least 1", c.BlockSize)
	case c.NLayer < 1:
		return fmt.Errorf("gpt: n_layer %d, want at least 1", c.NLayer)
	case c.NHead < 1 || c.NEmbd < 1 || c.NEmbd%c.NHead != 0:
		return fmt.Errorf("gpt: n_embd %d must be a positive multiple of n_head %d", c.NEmbd, c.NHead)
	case c.Dropout < 0 || c.Dropout >= 1:
		return fmt.Errorf("gpt: dropout %v outside [0, 1)", c.Dropout)
	}
	return nil
}
