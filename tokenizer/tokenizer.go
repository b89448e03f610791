// Package tokenizer turns text into token ids and back.
//
// Two kinds implement [Tokenizer]: [Char], one token per Unicode code point,
// and [BPE], GPT-2's byte-level byte-pair encoding, either trained here
// ([TrainBPE]), OpenAI's GPT-2 vocabulary ([GPT2]) or loaded from Hugging
// Face's files ([FromHF], [FromHFJSON]). [Save] and [Load] write and read
// both in one JSON format; [WriteHF] and [WriteHFJSON] write them as Hugging
// Face's vocab.json and merges.txt or tokenizer.json. [Stream] decodes generated ids one at a time into printable text,
// ending at stop strings.
//
// Text is UTF-8. Everything that takes user input returns an error naming
// what is wrong and where; nothing here panics on bad input. A tokenizer is
// read-only once built (BPE.AddSpecial aside) and safe for concurrent use.
package tokenizer

import (
	"fmt"
	"unicode/utf8"
)

// Tokenizer turns text into token ids and back.
type Tokenizer interface {
	// Encode returns the ids of text's tokens. It fails on invalid UTF-8,
	// naming the byte offset, and, for a Char, on a character that is not in
	// the vocabulary, naming it and its offset.
	Encode(text string) ([]int, error)
	// Decode joins the tokens' bytes. It fails on an id outside
	// [0, VocabSize). The text is valid UTF-8 when ids is the whole output of
	// Encode; a slice of it may cut a character in two.
	Decode(ids []int) (string, error)
	// TokenBytes returns the bytes of one token, which may end inside a
	// UTF-8 sequence (a byte-level BPE splits rare characters): streaming
	// output should buffer them until they form whole characters. It returns
	// nil for an id outside [0, VocabSize). The caller must not modify them.
	TokenBytes(id int) []byte
	// VocabSize is the number of ids: they run from 0 to VocabSize()-1.
	VocabSize() int
}

// checkUTF8 names the first byte of s that is not valid UTF-8.
func checkUTF8(s string) error {
	if utf8.ValidString(s) {
		return nil
	}
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return fmt.Errorf("tokenizer: invalid UTF-8 at byte %d (0x%02x)", i, s[i])
			}
		}
	}
	return fmt.Errorf("tokenizer: invalid UTF-8")
}
