package tokenizer

import (
	"iter"
	"strings"
	"unicode"
	"unicode/utf8"
)

// pieces splits valid UTF-8 text as GPT-2's pattern does,
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// matched leftmost-first from the start of the text. Go's regexp has no
// lookahead, so the pattern is written out by hand: contractions, then runs
// of letters, numbers or other characters that may take one leading space,
// then runs of whitespace that leave their last character to the next piece
// when a non-space follows.
func pieces(text string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for len(text) > 0 {
			n := pieceLen(text)
			if !yield(text[:n]) {
				return
			}
			text = text[n:]
		}
	}
}

// The classes of the pattern: \p{L}, \p{N}, \s, and everything else.
const (
	letter = iota
	number
	space
	other
)

func class(r rune) int {
	switch {
	case unicode.IsLetter(r):
		return letter
	case unicode.IsNumber(r):
		return number
	case unicode.IsSpace(r):
		return space
	}
	return other
}

var contractions = []string{"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}

// pieceLen is the length in bytes of the piece that starts s (non-empty).
func pieceLen(s string) int {
	r, _ := utf8.DecodeRuneInString(s)
	if r == '\'' {
		for _, c := range contractions {
			if strings.HasPrefix(s, c) {
				return len(c)
			}
		}
	}
	// ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': a run of one class,
	// which may start with one space.
	start, cl := 0, class(r)
	if r == ' ' && len(s) > 1 {
		if c, _ := utf8.DecodeRuneInString(s[1:]); class(c) != space {
			start, cl = 1, class(c)
		}
	}
	if cl != space {
		return start + runLen(s[start:], cl)
	}
	// '\s+(?!\S)|\s+': a run of whitespace, less its last character when a
	// non-space follows, unless that leaves nothing.
	end := runLen(s, space)
	if end == len(s) {
		return end
	}
	_, last := utf8.DecodeLastRuneInString(s[:end])
	if end-last > 0 {
		return end - last
	}
	return end
}

// runLen is the length in bytes of the run of characters of class cl that
// starts s.
func runLen(s string, cl int) int {
	for i, r := range s {
		if class(r) != cl {
			return i
		}
	}
	return len(s)
}
