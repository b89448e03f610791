package tokenizer_test

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/moxing/moxing/tokenizer"
)

// FuzzEncode checks that any valid UTF-8 round-trips through a trained BPE
// and that invalid UTF-8 is an error, never a panic.
func FuzzEncode(f *testing.F) {
	for _, tt := range roundTripTexts {
		f.Add(tt.text)
	}
	f.Add("ab\xffc")
	b := smallBPE(f)
	if _, err := b.AddSpecial("<|endoftext|>"); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, encode := range []func(string) ([]int, error){b.Encode, b.EncodeSpecial} {
			ids, err := encode(text)
			if !utf8.ValidString(text) {
				if err == nil {
					t.Fatalf("no error for invalid UTF-8 %q", text)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, err := b.Decode(ids); err != nil || got != text {
				t.Fatalf("Decode(Encode(%q)) = %q, %v", text, got, err)
			}
		}
	})
}

// FuzzLoad checks that Load returns an error, never panics, on any input,
// and that what it accepts saves again.
func FuzzLoad(f *testing.F) {
	var buf bytes.Buffer
	if err := tokenizer.Save(&buf, smallBPE(f)); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.String())
	f.Add(`{"kind":"char","chars":"abc"}`)
	f.Add(`{"kind":"bpe","tokens":[],"merges":[[0,1]],"special":[3]}`)
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := tokenizer.Load(strings.NewReader(s))
		if err != nil {
			return
		}
		if err := tokenizer.Save(&bytes.Buffer{}, tok); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzFromHFJSON checks that reading a Hugging Face tokenizer.json returns
// an error, never panics, on any input, and that what it accepts encodes.
func FuzzFromHFJSON(f *testing.F) {
	var buf bytes.Buffer
	if err := tokenizer.WriteHFJSON(&buf, smallBPE(f)); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.String())
	f.Add(`{"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":[]}}`)
	f.Add(`{"model":{"type":"Unigram"}}`)
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := tokenizer.FromHFJSON(strings.NewReader(s))
		if err != nil {
			return
		}
		tokenizer.NewLossy(tok).Encode("hello, world")
	})
}
