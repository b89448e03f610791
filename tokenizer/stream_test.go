package tokenizer_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/moxing/moxing/tokenizer"
)

// byteBPE returns a byte-level BPE trained on multi-byte text, with at
// least one token that ends inside a character.
func byteBPE(t *testing.T) *tokenizer.BPE {
	t.Helper()
	tok, err := tokenizer.TrainBPE(context.Background(), strings.Repeat("café naïve 日本語 über ", 40), 300)
	if err != nil {
		t.Fatal(err)
	}
	split := 0
	for id := range tok.VocabSize() {
		if b := tok.TokenBytes(id); len(b) > 1 && !utf8.Valid(b) {
			split++
		}
	}
	if split == 0 {
		t.Fatal("no merged token splits a character: the test would prove nothing")
	}
	return tok
}

// streamAll feeds ids to a Stream and returns what it emitted chunk by
// chunk, whether it stopped, and the chunks.
func streamAll(tok tokenizer.Tokenizer, ids []int, stops ...string) (string, bool, []string) {
	s := tokenizer.NewStream(tok, stops...)
	var chunks []string
	for _, id := range ids {
		text, stop := s.Next(id)
		chunks = append(chunks, text)
		if stop {
			return strings.Join(chunks, ""), true, chunks
		}
	}
	text, stop := s.Flush()
	chunks = append(chunks, text)
	return strings.Join(chunks, ""), stop, chunks
}

// reference is what a Stream must emit in all: the text before the first
// stop string.
func reference(text string, stops []string) (string, bool) {
	first := -1
	for _, s := range stops {
		if i := strings.Index(text, s); s != "" && i >= 0 && (first < 0 || i < first) {
			first = i
		}
	}
	if first < 0 {
		return text, false
	}
	return text[:first], true
}

func TestStream(t *testing.T) {
	tok := byteBPE(t)
	for _, tc := range []struct {
		name  string
		text  string
		stops []string
	}{
		{"plain", "café naïve 日本語 über alles", nil},
		{"no_match", "café naïve 日本語", []string{"xyz"}},
		{"ascii_stop", "café\n\nnaïve", []string{"\n\n"}},
		{"multibyte_stop", "voilà 日本語 über", []string{"本語"}},
		{"stop_at_start", "über café", []string{"über"}},
		{"stop_at_end", "café naïve", []string{"naïve"}},
		{"first_of_several", "one two three", []string{"three", "two"}},
		{"overlapping_stops", "abcabd", []string{"abd", "cab"}},
		{"false_start", "aab aabb", []string{"abb"}},
		{"empty_stop_ignored", "café", []string{""}},
		{"whole_text", "café", []string{"café"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, err := tok.Encode(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			want, wantStop := reference(tc.text, tc.stops)
			check := func(how string, ids []int) {
				got, stop, chunks := streamAll(tok, ids, tc.stops...)
				if got != want || stop != wantStop {
					t.Errorf("%s: got %q (stop %v), want %q (stop %v)", how, got, stop, want, wantStop)
				}
				for _, c := range chunks {
					if !utf8.ValidString(c) {
						t.Errorf("%s: chunk %q is not valid UTF-8", how, c)
					}
				}
			}
			check("BPE tokens", ids)
			// One token per byte: every multi-byte character and every stop
			// string arrives split across tokens.
			var bytes []int
			for _, b := range []byte(tc.text) {
				bytes = append(bytes, int(b))
			}
			check("byte tokens", bytes)
		})
	}
}

// Text is released as soon as it is safe: a character as soon as it is
// whole, and text as soon as it can no longer begin a stop string.
func TestStreamReleasesEarly(t *testing.T) {
	tok := byteBPE(t)
	for _, tc := range []struct {
		name  string
		in    string // fed one byte per token
		stops []string
		want  []string // Next's results, then Flush's
	}{
		{"utf8", "aé日", nil, []string{"a", "", "é", "", "", "日", ""}},
		{"stop_prefix_held", "xab.", []string{"abc"}, []string{"x", "", "", "ab.", ""}},
		{"stop_found", "xabc!", []string{"abc"}, []string{"x", "", "", ""}},
		{"held_until_flush", "xab", []string{"abc"}, []string{"x", "", "", "ab"}},
		{"shorter_stop_releases_less", "xab", []string{"abc", "b"}, []string{"x", "", "a"}},
		{"multibyte_stop_prefix", "é日", []string{"日本"}, []string{"", "é", "", "", "", "日"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ids []int
			for _, b := range []byte(tc.in) {
				ids = append(ids, int(b))
			}
			_, _, chunks := streamAll(tok, ids, tc.stops...)
			if fmt.Sprintf("%q", chunks) != fmt.Sprintf("%q", tc.want) {
				t.Errorf("chunks %q, want %q", chunks, tc.want)
			}
		})
	}
}

// Bytes that never form a character become U+FFFD, mid-stream and at the
// end; ids the tokenizer does not know add nothing.
func TestStreamInvalid(t *testing.T) {
	tok := byteBPE(t)
	for _, tc := range []struct {
		name  string
		ids   []int
		stops []string
		want  string
		stop  bool
	}{
		{"stray_continuation", []int{'a', 0xa9, 'b'}, nil, "a\uFFFDb", false},
		{"truncated_then_ascii", []int{0xe6, 0x97, 'b'}, nil, "\uFFFD\uFFFDb", false},
		{"truncated_at_end", []int{'a', 0xe6, 0x97}, nil, "a\uFFFD\uFFFD", false},
		{"never_valid", []int{0xff, 0xfe}, nil, "\uFFFD\uFFFD", false},
		{"unknown_ids", []int{'o', -1, tok.VocabSize(), 1 << 40, 'k'}, nil, "ok", false},
		{"stop_after_invalid", []int{0xff, 's', 't', 'o', 'p', 'x'}, []string{"stop"}, "\uFFFD", true},
		{"replacement_completes_stop", []int{'a', 0xe6}, []string{"a\uFFFD"}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, stop, chunks := streamAll(tok, tc.ids, tc.stops...)
			if got != tc.want || stop != tc.stop {
				t.Errorf("got %q (stop %v), want %q (stop %v)", got, stop, tc.want, tc.stop)
			}
			for _, c := range chunks {
				if !utf8.ValidString(c) {
					t.Errorf("chunk %q is not valid UTF-8", c)
				}
			}
		})
	}
}

// Random byte soups (whole, cut and invalid characters) cut into random
// tokens, with random stops: the stream emits the per-byte decoding of all
// the bytes up to the first stop, in valid UTF-8 chunks.
func TestStreamRandom(t *testing.T) {
	tok := byteBPE(t)
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "b", "ab", "é", "日", "本", "\xe6", "\x97", "\xa9", "\xff", "\n"}
	soup := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	for i := range 2000 {
		text := soup(1 + rng.IntN(12))
		var stops []string
		for range rng.IntN(3) {
			stops = append(stops, strings.ToValidUTF8(soup(1+rng.IntN(3)), ""))
		}
		var decoded strings.Builder
		for b := []byte(text); len(b) > 0; {
			r, n := utf8.DecodeRune(b)
			decoded.WriteRune(r) // RuneError for an invalid byte
			b = b[n:]
		}
		want, wantStop := reference(decoded.String(), stops)
		var ids []int
		for _, c := range []byte(text) {
			ids = append(ids, int(c))
		}
		got, stop, chunks := streamAll(tok, ids, stops...)
		if got != want || stop != wantStop {
			t.Fatalf("case %d: %q with stops %q: got %q (stop %v), want %q (stop %v)", i, text, stops, got, stop, want, wantStop)
		}
		for _, c := range chunks {
			if !utf8.ValidString(c) {
				t.Fatalf("case %d: chunk %q is not valid UTF-8", i, c)
			}
		}
	}
}

// After a stop, the stream stays stopped and emits nothing.
func TestStreamAfterStop(t *testing.T) {
	tok := byteBPE(t)
	s := tokenizer.NewStream(tok, "b")
	if text, stop := s.Next('a'); text != "a" || stop {
		t.Fatalf("Next('a') = %q, %v", text, stop)
	}
	if text, stop := s.Next('b'); text != "" || !stop {
		t.Fatalf("Next('b') = %q, %v", text, stop)
	}
	if text, stop := s.Next('c'); text != "" || !stop {
		t.Fatalf("Next after the stop = %q, %v", text, stop)
	}
	if text, stop := s.Flush(); text != "" || !stop {
		t.Fatalf("Flush after the stop = %q, %v", text, stop)
	}
}

// A character tokenizer streams each token as it comes.
func TestStreamChar(t *testing.T) {
	tok, err := tokenizer.NewChar("héllo wörld")
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := tok.Encode("wörld héllo")
	got, stop, chunks := streamAll(tok, ids, "llo")
	if got != "wörld hé" || !stop || chunks[1] != "ö" {
		t.Errorf("got %q (stop %v), chunks %q", got, stop, chunks)
	}
}

func ExampleStream() {
	tok, _ := tokenizer.NewChar("Hello, world!\n")
	ids, _ := tok.Encode("Hello!\n\nworld")
	s := tokenizer.NewStream(tok, "\n\n")
	for _, id := range ids {
		text, stop := s.Next(id)
		fmt.Print(text)
		if stop {
			break
		}
	}
	text, _ := s.Flush()
	fmt.Print(text)
	// Output: Hello!
}
