package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/pkoukk/tiktoken-go-loader/assets"
)

// EndOfText is GPT-2's special token that separates documents.
const EndOfText = "<|endoftext|>"

// GPT2 returns OpenAI's GPT-2 tokenizer, r50k_base: 50,256 byte-level BPE
// tokens plus <|endoftext|> = 50256. Its Encode gives the same ids as
// tiktoken's encode_ordinary. The ranks come from the offline copy in
// github.com/pkoukk/tiktoken-go-loader; the merges, which the .tiktoken file
// does not list, are recovered by encoding each token with the tokens ranked
// below it. Each call builds a new BPE (about a quarter of a second).
func GPT2() (*BPE, error) {
	data, err := assets.Assets.ReadFile("r50k_base.tiktoken")
	if err != nil {
		return nil, fmt.Errorf("tokenizer: GPT2: %w", err)
	}
	b, err := fromTiktoken(data, []string{EndOfText})
	if err != nil {
		return nil, fmt.Errorf("tokenizer: GPT2: r50k_base.tiktoken: %w", err)
	}
	return b, nil
}

// fromTiktoken reads a .tiktoken file, lines of "base64(token) rank" whose
// ranks run from 0 without gaps and are the ids; the special tokens follow.
func fromTiktoken(data []byte, special []string) (*BPE, error) {
	var tokens [][]byte
	for i, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		tok64, rank, ok := bytes.Cut(line, []byte(" "))
		if !ok {
			return nil, fmt.Errorf("line %d: want \"token rank\", got %q", i+1, line)
		}
		tok, err := base64.StdEncoding.DecodeString(string(tok64))
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if r, err := strconv.Atoi(string(rank)); err != nil || r != len(tokens) {
			return nil, fmt.Errorf("line %d: rank %q, want %d", i+1, rank, len(tokens))
		}
		tokens = append(tokens, tok)
	}
	var specialIDs []int
	for _, s := range special {
		specialIDs = append(specialIDs, len(tokens))
		tokens = append(tokens, []byte(s))
	}
	b, err := newVocab(tokens, specialIDs)
	if err != nil {
		return nil, err
	}
	// Ranks 0-255 are the single bytes; the merges come after.
	for id := range tokens {
		if id >= 256 && !b.isSpecial(id) {
			b.rank[id] = int32(id - 256)
		}
	}
	for c, id := range b.byteIDs {
		if id >= 256 {
			return nil, fmt.Errorf("byte 0x%02x has rank %d, want below 256", c, id)
		}
	}
	b.indexPairs()
	// The merge that makes a token joins the two parts that its bytes come
	// to when only lower-ranked tokens may form.
	for id, r := range b.rank {
		if r < 0 {
			continue
		}
		parts := b.merge(nil, string(tokens[id]), r)
		if len(parts) != 2 {
			return nil, fmt.Errorf("token %d %q is not two lower-ranked tokens (%d parts)", id, tokens[id], len(parts))
		}
		b.merges = append(b.merges, [2]int{parts[0], parts[1]})
	}
	return b, nil
}

// GPT-2 writes token bytes as text with one printable character per byte:
// the printable bytes of Latin-1 stand for themselves, and the others (0-32,
// 127-160, 173) map in order to U+0100 on.
var byteRune, runeByte = byteAlphabet()

func byteAlphabet() ([256]rune, map[rune]byte) {
	var br [256]rune
	rb := map[rune]byte{}
	next := rune(256)
	for c := range 256 {
		r := rune(c)
		if c <= ' ' || c >= 127 && c <= 160 || c == 173 {
			r, next = next, next+1
		}
		br[c], rb[r] = r, byte(c)
	}
	return br, rb
}

// encodeBytes writes b in GPT-2's byte alphabet.
func encodeBytes(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		sb.WriteRune(byteRune[c])
	}
	return sb.String()
}

// decodeBytes reads s, written in GPT-2's byte alphabet.
func decodeBytes(s string) ([]byte, error) {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		c, ok := runeByte[r]
		if !ok {
			return nil, fmt.Errorf("%q: character %q is not in GPT-2's byte alphabet", s, r)
		}
		b = append(b, c)
	}
	return b, nil
}

// FromHF loads a GPT-2 style tokenizer in Hugging Face's files: vocab.json,
// an object from token (in GPT-2's byte alphabet) to id, with ids running
// from 0 without gaps, and merges.txt, one merge per line, "left right", in
// rank order, after an optional "#version" line. A multi-byte token that no
// merge makes, such as GPT-2's <|endoftext|>, is a special token.
//
// Pieces are then joined by tiktoken's rule (see BPE): for GPT-2's files
// that gives GPT2's ids. Hugging Face's own tokenizer looks up merges, not
// the tokens pairs spell, so on other vocabularies the two may differ on
// rare pieces.
func FromHF(vocabJSON, mergesTXT io.Reader) (*BPE, error) {
	var vocab map[string]int
	if err := json.NewDecoder(vocabJSON).Decode(&vocab); err != nil {
		return nil, fmt.Errorf("tokenizer: FromHF: vocab.json: %w", err)
	}
	var merges [][2]string
	var lines []int // merges.txt line of each merge
	sc := bufio.NewScanner(mergesTXT)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimRight(sc.Text(), "\r")
		if text == "" || line == 1 && strings.HasPrefix(text, "#version") {
			continue
		}
		f := strings.Split(text, " ")
		if len(f) != 2 {
			return nil, fmt.Errorf("tokenizer: FromHF: merges.txt line %d: want two tokens separated by a space, got %q", line, text)
		}
		merges = append(merges, [2]string{f[0], f[1]})
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokenizer: FromHF: merges.txt: %w", err)
	}
	b, err := fromVocab(vocab, "vocab.json", merges, func(i int) string { return fmt.Sprintf("merges.txt line %d", lines[i]) }, nil)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: FromHF: %w", err)
	}
	return b, nil
}
