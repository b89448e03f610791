package tokenizer

import (
	"fmt"
	"slices"
	"unicode/utf8"
)

// Char is a character-level tokenizer: one token per Unicode code point, so
// Chinese, emoji and accented letters are single characters, not bytes.
// Token ids follow code-point order.
type Char struct {
	chars []rune       // id -> character, ascending
	ids   map[rune]int // character -> id
}

// Unknown is the character that stands for those a Char's vocabulary
// lacks: U+FFFD, the Unicode replacement character. NewChar puts it in
// every vocabulary it builds; see Lossy.
const Unknown = '\uFFFD'

// NewChar builds a Char whose vocabulary is the distinct code points of
// corpus and Unknown, sorted. It fails on invalid UTF-8 or an empty corpus.
func NewChar(corpus string) (*Char, error) {
	if corpus == "" {
		return nil, fmt.Errorf("tokenizer: NewChar: empty corpus")
	}
	if err := checkUTF8(corpus); err != nil {
		return nil, fmt.Errorf("tokenizer: NewChar: corpus: %w", err)
	}
	seen := map[rune]bool{Unknown: true}
	for _, r := range corpus {
		seen[r] = true
	}
	chars := make([]rune, 0, len(seen))
	for r := range seen {
		chars = append(chars, r)
	}
	slices.Sort(chars)
	return newChar(chars), nil
}

// newChar builds a Char over chars, which must be distinct and ascending.
func newChar(chars []rune) *Char {
	ids := make(map[rune]int, len(chars))
	for i, r := range chars {
		ids[r] = i
	}
	return &Char{chars: chars, ids: ids}
}

// Encode returns one id per character of text.
func (c *Char) Encode(text string) ([]int, error) {
	if err := checkUTF8(text); err != nil {
		return nil, err
	}
	ids := make([]int, 0, utf8.RuneCountInString(text))
	for i, r := range text {
		id, ok := c.id(r, false)
		if !ok {
			return nil, fmt.Errorf("tokenizer: character %q (U+%04X) at byte %d is not in the vocabulary", r, r, i)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// Decode returns the characters of ids.
func (c *Char) Decode(ids []int) (string, error) {
	buf := make([]byte, 0, len(ids))
	for i, id := range ids {
		if id < 0 || id >= len(c.chars) {
			return "", fmt.Errorf("tokenizer: id %d at position %d is outside [0, %d)", id, i, len(c.chars))
		}
		buf = utf8.AppendRune(buf, c.chars[id])
	}
	return string(buf), nil
}

// TokenBytes returns the UTF-8 encoding of character id, or nil if id is out
// of range.
func (c *Char) TokenBytes(id int) []byte {
	if id < 0 || id >= len(c.chars) {
		return nil
	}
	return utf8.AppendRune(nil, c.chars[id])
}

// VocabSize is the number of distinct characters.
func (c *Char) VocabSize() int { return len(c.chars) }

// id returns the id of r, or of Unknown when the vocabulary lacks r and
// lossy (ok false when it lacks both).
func (c *Char) id(r rune, lossy bool) (id int, ok bool) {
	if id, ok = c.ids[r]; ok || !lossy {
		return id, ok
	}
	id, ok = c.ids[Unknown]
	return id, ok
}
