package tokenizer

import (
	"fmt"
	"strings"
)

// ByteLevel is a byte-level BPE as GGUF's tokenizer.ggml.* keys (and
// GPT-2's vocab.json and merges.txt) spell it: each token in GPT-2's byte
// alphabet, by id; whether it is special (a control token); and the
// merges in rank order, "left right".
type ByteLevel struct {
	Tokens  []string
	Special []bool
	Merges  []string
}

// ByteLevel returns b in that form. It fails, as WriteHF does, when the
// form cannot say what b is.
func (b *BPE) ByteLevel() (*ByteLevel, error) {
	if _, err := b.vocabJSON(false); err != nil { // the same checks
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	bl := &ByteLevel{Tokens: make([]string, len(b.tokens)), Special: make([]bool, len(b.tokens)), Merges: make([]string, len(b.merges))}
	for id, tok := range b.tokens {
		bl.Tokens[id], bl.Special[id] = encodeBytes(tok), b.isSpecial(id)
	}
	for i, m := range b.merges {
		bl.Merges[i] = encodeBytes(b.tokens[m[0]]) + " " + encodeBytes(b.tokens[m[1]])
	}
	return bl, nil
}

// FromByteLevel builds the BPE bl spells; name says where it came from,
// for errors.
func FromByteLevel(bl *ByteLevel, name string) (*BPE, error) {
	vocab := make(map[string]int, len(bl.Tokens))
	var special []int
	for id, tok := range bl.Tokens {
		if _, dup := vocab[tok]; dup {
			return nil, fmt.Errorf("tokenizer: %s: token %d %q appears twice", name, id, tok)
		}
		vocab[tok] = id
		if id < len(bl.Special) && bl.Special[id] {
			special = append(special, id)
		}
	}
	merges := make([][2]string, len(bl.Merges))
	for i, m := range bl.Merges {
		l, r, ok := strings.Cut(m, " ")
		if !ok || strings.Contains(r, " ") {
			return nil, fmt.Errorf("tokenizer: %s: merge %d %q: want two tokens separated by a space", name, i, m)
		}
		merges[i] = [2]string{l, r}
	}
	b, err := fromVocab(vocab, name+" tokens", merges, func(i int) string { return fmt.Sprintf("%s merge %d", name, i) }, special)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return b, nil
}
