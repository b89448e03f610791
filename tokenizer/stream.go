package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// Stream decodes generated tokens one at a time into text that is safe to
// show as it comes:
//
//   - it holds back bytes until they form whole UTF-8 characters (a
//     byte-level BPE splits rare characters across tokens), and turns each
//     byte that can never be part of a character into U+FFFD, so every
//     string it returns is valid UTF-8;
//   - with stop strings, it holds back text that could be the beginning of
//     one, and when one appears it reports the stop and returns only the
//     text before it: no stop string is ever emitted.
//
// The concatenation of what Next and Flush return is the decoded text (each
// invalid byte replaced) up to the first occurrence of any stop string. A
// Stream is for one sequence; it is not safe for concurrent use.
type Stream struct {
	tok     Tokenizer
	stops   []string
	pending []byte // bytes of an unfinished character
	held    string // whole characters that could begin a stop string
	stopped bool
}

// NewStream returns a Stream that decodes tok's ids and ends at the first
// of stops to appear in the text. Empty stop strings are ignored.
func NewStream(tok Tokenizer, stops ...string) *Stream {
	s := &Stream{tok: tok}
	for _, stop := range stops {
		if stop != "" {
			s.stops = append(s.stops, stop)
		}
	}
	return s
}

// Next adds the token id and returns the text that is now safe to emit, and
// whether a stop string has appeared: then text is what came before it, the
// generation should end, and later calls return "", true. An id without
// bytes (outside the tokenizer's vocabulary, which a model's may exceed)
// adds nothing.
func (s *Stream) Next(id int) (text string, stopped bool) {
	if s.stopped {
		return "", true
	}
	s.pending = append(s.pending, s.tok.TokenBytes(id)...)
	n := completePrefix(s.pending)
	s.held += validText(s.pending[:n])
	s.pending = s.pending[n:]
	return s.release(false)
}

// Flush ends the stream: bytes of an unfinished character become U+FFFD,
// and the text held back is returned, cut before a stop string if one
// appears in it (then stopped is true). Later calls return "" and the same
// stopped.
func (s *Stream) Flush() (text string, stopped bool) {
	if s.stopped {
		return "", true
	}
	s.held += validText(s.pending)
	s.pending = nil
	return s.release(true)
}

// release returns the held text that can no longer become part of a stop
// string (all of it at the end), or the text before the first stop string.
func (s *Stream) release(end bool) (string, bool) {
	first := -1
	for _, stop := range s.stops {
		if i := strings.Index(s.held, stop); i >= 0 && (first < 0 || i < first) {
			first = i
		}
	}
	if first >= 0 {
		text := s.held[:first]
		s.held, s.stopped = "", true
		return text, true
	}
	keep := len(s.held)
	if !end {
		keep = s.stopPrefix()
	}
	text := s.held[:keep]
	s.held = s.held[keep:]
	return text, false
}

// stopPrefix returns the start of the longest suffix of the held text that
// is a proper prefix of a stop string, or len(held) when there is none.
func (s *Stream) stopPrefix() int {
	for i := range len(s.held) {
		for _, stop := range s.stops {
			if strings.HasPrefix(stop, s.held[i:]) {
				return i
			}
		}
	}
	return len(s.held)
}

// completePrefix returns the length of the longest prefix of b that does
// not end inside a UTF-8 sequence that later bytes could complete (invalid
// bytes count as complete).
func completePrefix(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if utf8.FullRune(b[i:]) {
				return len(b)
			}
			return i
		}
	}
	return len(b)
}

// validText returns b as a string with each byte that does not belong to a
// valid UTF-8 sequence replaced by U+FFFD. Applied to the pieces that
// completePrefix cuts, it gives what it gives on the whole.
func validText(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			sb.WriteRune(utf8.RuneError)
		} else {
			sb.Write(b[:n])
		}
		b = b[n:]
	}
	return sb.String()
}
