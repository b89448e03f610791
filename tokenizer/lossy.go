package tokenizer

import (
	"sync/atomic"
	"unicode/utf8"
)

// Lossy is a Tokenizer whose Encode does not fail on a character a
// character vocabulary lacks: it encodes it as Unknown (or, for a
// vocabulary without Unknown, drops it) and counts it, so that a caller
// can say how many it replaced. A byte-level BPE encodes every text, so
// over one Lossy changes nothing. Invalid UTF-8 is still an error. Decode,
// TokenBytes and VocabSize are the wrapped tokenizer's. Safe for
// concurrent use.
type Lossy struct {
	Tokenizer
	replaced atomic.Int64
}

// NewLossy wraps tok.
func NewLossy(tok Tokenizer) *Lossy { return &Lossy{Tokenizer: tok} }

// Encode encodes text as the wrapped tokenizer does, replacing (or
// dropping) the characters a Char vocabulary lacks.
func (l *Lossy) Encode(text string) ([]int, error) {
	c, ok := l.Tokenizer.(*Char)
	if !ok {
		return l.Tokenizer.Encode(text)
	}
	if err := checkUTF8(text); err != nil {
		return nil, err
	}
	ids := make([]int, 0, utf8.RuneCountInString(text))
	for _, r := range text {
		if _, known := c.ids[r]; !known {
			l.replaced.Add(1)
		}
		if id, ok := c.id(r, true); ok {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// Replaced is the number of characters replaced or dropped so far.
func (l *Lossy) Replaced() int { return int(l.replaced.Load()) }
