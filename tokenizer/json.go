package tokenizer

import (
	"encoding/json"
	"fmt"
	"io"
)

// file is the JSON form of a tokenizer. A Char lists its characters in
// order; a BPE lists its tokens by id in GPT-2's byte alphabet (as Hugging
// Face's vocab.json), its merges in rank order as pairs of ids, and the ids
// of its special tokens.
//
//	{"kind":"char","chars":"\n !,.?abc"}
//	{"kind":"bpe","tokens":["!","\"",…],"merges":[[220,83],…],"special":[50256]}
type file struct {
	Kind    string   `json:"kind"`
	Chars   string   `json:"chars,omitempty"`
	Tokens  []string `json:"tokens,omitempty"`
	Merges  [][]int  `json:"merges,omitempty"`
	Special []int    `json:"special,omitempty"`
}

// Save writes t, a *Char or a *BPE, as JSON.
func Save(w io.Writer, t Tokenizer) error {
	var f file
	switch t := t.(type) {
	case *Char:
		f = file{Kind: "char", Chars: string(t.chars)}
	case *BPE:
		f = file{Kind: "bpe", Tokens: make([]string, len(t.tokens)), Merges: make([][]int, len(t.merges))}
		for id, tok := range t.tokens {
			f.Tokens[id] = encodeBytes(tok)
			if t.isSpecial(id) {
				f.Special = append(f.Special, id)
			}
		}
		for r, m := range t.merges {
			f.Merges[r] = m[:]
		}
	default:
		return fmt.Errorf("tokenizer: Save: cannot save a %T", t)
	}
	if err := json.NewEncoder(w).Encode(f); err != nil {
		return fmt.Errorf("tokenizer: Save: %w", err)
	}
	return nil
}

// Load reads a tokenizer that Save wrote, a *Char or a *BPE as the JSON's
// "kind" says. It checks everything: a BPE must hold all 256 bytes, and each
// merge must join two existing tokens into an existing token.
func Load(r io.Reader) (Tokenizer, error) {
	var f file
	if err := json.NewDecoder(r).Decode(&f); err != nil {
		return nil, fmt.Errorf("tokenizer: Load: %w", err)
	}
	switch f.Kind {
	case "char":
		return loadChar(f)
	case "bpe":
		return loadBPE(f)
	}
	return nil, fmt.Errorf("tokenizer: Load: kind %q, want \"char\" or \"bpe\"", f.Kind)
}

func loadChar(f file) (*Char, error) {
	if f.Chars == "" {
		return nil, fmt.Errorf("tokenizer: Load: char tokenizer with no characters")
	}
	chars := []rune(f.Chars)
	for i, r := range chars {
		if i > 0 && r <= chars[i-1] {
			return nil, fmt.Errorf("tokenizer: Load: character %d %q is not after %q: characters must be distinct and ascending", i, r, chars[i-1])
		}
	}
	return newChar(chars), nil
}

func loadBPE(f file) (*BPE, error) {
	tokens := make([][]byte, len(f.Tokens))
	for id, s := range f.Tokens {
		tok, err := decodeBytes(s)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: Load: token %d: %w", id, err)
		}
		tokens[id] = tok
	}
	merges := make([][2]int, len(f.Merges))
	for r, m := range f.Merges {
		if len(m) != 2 {
			return nil, fmt.Errorf("tokenizer: Load: merge %d has %d ids, want 2", r, len(m))
		}
		merges[r] = [2]int{m[0], m[1]}
	}
	b, err := newBPE(tokens, merges, f.Special)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: Load: %w", err)
	}
	return b, nil
}
