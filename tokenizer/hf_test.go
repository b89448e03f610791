package tokenizer_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/moxing/moxing/tokenizer"
)

// saved is t in moxing's own JSON, to compare two tokenizers whole.
func saved(t *testing.T, tok tokenizer.Tokenizer) string {
	t.Helper()
	var buf bytes.Buffer
	if err := tokenizer.Save(&buf, tok); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// specialBPE is smallBPE with GPT-2's <|endoftext|>.
func specialBPE(t *testing.T) *tokenizer.BPE {
	b := smallBPE(t)
	if _, err := b.AddSpecial(tokenizer.EndOfText); err != nil {
		t.Fatal(err)
	}
	return b
}

// WriteHF's vocab.json and merges.txt read back, through FromHF, into the
// same tokenizer, special tokens included; so do GPT-2's own.
func TestWriteHFRoundTrip(t *testing.T) {
	gpt2, err := tokenizer.GPT2()
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]*tokenizer.BPE{"trained": specialBPE(t), "gpt2": gpt2} {
		t.Run(name, func(t *testing.T) {
			var vocab, merges bytes.Buffer
			if err := tokenizer.WriteHF(&vocab, &merges, b); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(merges.String(), "#version: 0.2\n") || !strings.Contains(vocab.String(), `"<|endoftext|>"`) {
				t.Fatalf("merges.txt starts %q; vocab.json has no <|endoftext|>", merges.String()[:20])
			}
			got, err := tokenizer.FromHF(&vocab, &merges)
			if err != nil {
				t.Fatal(err)
			}
			if saved(t, got) != saved(t, b) {
				t.Fatal("FromHF(WriteHF(b)) is not b")
			}
		})
	}
}

// WriteHFJSON's tokenizer.json reads back, through FromHFJSON, into the
// same tokenizer: a byte-level BPE and a character tokenizer.
func TestWriteHFJSONRoundTrip(t *testing.T) {
	char, err := tokenizer.NewChar("hello, 世界\n\x00\"<&>")
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]tokenizer.Tokenizer{"bpe": specialBPE(t), "char": char} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tokenizer.WriteHFJSON(&buf, tok); err != nil {
				t.Fatal(err)
			}
			got, err := tokenizer.FromHFJSON(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if saved(t, got) != saved(t, tok) {
				t.Fatalf("FromHFJSON(WriteHFJSON(t)) is %s, want %s", saved(t, got), saved(t, tok))
			}
		})
	}
}

// hfGPT2JSON is a tokenizer.json as the tokenizers library writes GPT-2's,
// cut to the 256 bytes, two merges and <|endoftext|>; merges is the value
// of model.merges.
func hfGPT2JSON(merges string) string {
	var vocab strings.Builder
	for b := range 256 {
		sym := tokenizerSymbols[b]
		vocab.WriteString(`"` + strings.ReplaceAll(strings.ReplaceAll(sym, `\`, `\\`), `"`, `\"`) + `":` + itoa(b) + ",")
	}
	vocab.WriteString(`"Ġt":256,"Ġth":257,"<|endoftext|>":258`)
	return `{"version":"1.0","truncation":null,"padding":null,
"added_tokens":[{"id":258,"content":"<|endoftext|>","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":true}],
"normalizer":null,
"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},
"post_processor":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":false,"use_regex":true},
"decoder":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true},
"model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":"","end_of_word_suffix":"","fuse_unk":false,"byte_fallback":false,
"vocab":{` + vocab.String() + `},"merges":` + merges + `}}`
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		if n /= 10; n == 0 {
			return string(b)
		}
	}
}

// tokenizerSymbols is GPT-2's byte alphabet, written out independently of
// the package's.
var tokenizerSymbols = func() [256]string {
	var out [256]string
	n := 0
	for b := range 256 {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			out[b] = string(rune(b))
		} else {
			out[b] = string(rune(256 + n))
			n++
		}
	}
	return out
}()

// A tokenizer.json as Hugging Face writes GPT-2's reads as a byte-level BPE,
// with merges as strings (tokenizers < 0.20) or as pairs.
func TestFromHFJSONGPT2(t *testing.T) {
	for name, merges := range map[string]string{"strings": `["Ġ t","Ġt h"]`, "pairs": `[["Ġ","t"],["Ġt","h"]]`} {
		t.Run(name, func(t *testing.T) {
			tok, err := tokenizer.FromHFJSON(strings.NewReader(hfGPT2JSON(merges)))
			if err != nil {
				t.Fatal(err)
			}
			b, ok := tok.(*tokenizer.BPE)
			if !ok {
				t.Fatalf("a %T, want a *BPE", tok)
			}
			ids, err := b.EncodeSpecial(" the<|endoftext|>")
			if err != nil || len(ids) != 3 || ids[0] != 257 || ids[1] != 'e' || ids[2] != 258 {
				t.Fatalf("ids %v, %v; want [257 101 258]", ids, err)
			}
		})
	}
}

// What moxing cannot run exactly is refused, naming the field.
func TestFromHFJSONBad(t *testing.T) {
	good := hfGPT2JSON(`["Ġ t","Ġt h"]`)
	for _, tc := range []struct{ name, old, new, want string }{
		{"unigram", `"model":{"type":"BPE"`, `"model":{"type":"Unigram"`, `model.type "Unigram"`},
		{"wordpiece", `"model":{"type":"BPE"`, `"model":{"type":"WordPiece"`, `model.type "WordPiece"`},
		{"normalizer", `"normalizer":null`, `"normalizer":{"type":"NFC"}`, `normalizer of type "NFC"`},
		{"prefix space", `"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false`, `"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":true`, "pre_tokenizer.add_prefix_space"},
		{"other pre-tokenizer", `"pre_tokenizer":{"type":"ByteLevel"`, `"pre_tokenizer":{"type":"Whitespace"`, `pre_tokenizer of type "Whitespace"`},
		{"no regex", `"use_regex":true},
"post`, `"use_regex":false},
"post`, "pre_tokenizer.use_regex"},
		{"not special", `"normalized":true,"special":true`, `"normalized":true,"special":false`, "added_tokens[0]"},
		{"dropout", `"dropout":null`, `"dropout":0.1`, "model.dropout"},
		{"bad merge", `"Ġt h"]`, `"Ġt x y"]`, "model.merges[1]"},
		{"merge of unknown", `"Ġt h"]`, `"Ġt 一"]`, "model.vocab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(good, tc.old) {
				t.Fatalf("fixture lacks %q", tc.old)
			}
			_, err := tokenizer.FromHFJSON(strings.NewReader(strings.Replace(good, tc.old, tc.new, 1)))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "tokenizer.json") {
				t.Fatalf("err = %v, want it to name tokenizer.json and %q", err, tc.want)
			}
		})
	}
}
