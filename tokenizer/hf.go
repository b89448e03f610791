package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// This file reads and writes Hugging Face's tokenizer files: GPT-2's
// vocab.json and merges.txt (FromHF, WriteHF), and the tokenizers library's
// tokenizer.json (FromHFJSON, WriteHFJSON).

// WriteHF writes b as GPT-2's tokenizer files, as Hugging Face's
// GPT2Tokenizer saves them: vocab.json, an object from each token in GPT-2's
// byte alphabet to its id, in id order, and merges.txt, a "#version: 0.2"
// line and then one merge per line, "left right", in rank order. FromHF
// reads them back into the same tokenizer. It fails when the files cannot
// say what b is: a special token of one byte, or two tokens with the same
// bytes.
func WriteHF(vocabJSON, mergesTXT io.Writer, b *BPE) error {
	vocab, err := b.vocabJSON(true)
	if err != nil {
		return fmt.Errorf("tokenizer: WriteHF: vocab.json: %w", err)
	}
	if _, err := vocabJSON.Write(append(vocab, '\n')); err != nil {
		return fmt.Errorf("tokenizer: WriteHF: vocab.json: %w", err)
	}
	w := bufio.NewWriter(mergesTXT)
	w.WriteString("#version: 0.2\n")
	for _, m := range b.merges {
		fmt.Fprintf(w, "%s %s\n", encodeBytes(b.tokens[m[0]]), encodeBytes(b.tokens[m[1]]))
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("tokenizer: WriteHF: merges.txt: %w", err)
	}
	return nil
}

// vocabJSON returns b's vocabulary as a JSON object from token (in GPT-2's
// byte alphabet) to id, in id order. Each special token must be one that
// FromHF recognises as special (more than one byte; no merge makes it), and
// the tokens must be distinct as written.
func (b *BPE) vocabJSON(indent bool) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	seen := make(map[string]int, len(b.tokens))
	for id, tok := range b.tokens {
		if b.isSpecial(id) && len(tok) < 2 {
			return nil, fmt.Errorf("special token %d %q is a single byte, which the file cannot tell from the byte token", id, tok)
		}
		s := encodeBytes(tok)
		if prev, dup := seen[s]; dup {
			return nil, fmt.Errorf("tokens %d and %d are both %q", prev, id, tok)
		}
		seen[s] = id
		if id > 0 {
			buf.WriteByte(',')
		}
		if indent {
			buf.WriteString("\n  ")
		}
		buf.Write(jsonString(s))
		fmt.Fprintf(&buf, ":%d", id)
	}
	if indent {
		buf.WriteByte('\n')
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// jsonString returns s as a JSON string, without escaping <, > and &.
func jsonString(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// fromVocab builds a BPE from a Hugging Face vocabulary (token in GPT-2's
// byte alphabet -> id, ids from 0 without gaps) and merges (pairs of tokens,
// in rank order; where(i) names merge i and vocabName the vocabulary, for
// errors). Special tokens are
// those listed in special and, as in GPT-2's files, every multi-byte token
// that no merge makes.
func fromVocab(vocab map[string]int, vocabName string, merges [][2]string, where func(i int) string, special []int) (*BPE, error) {
	tokens := make([][]byte, len(vocab))
	for s, id := range vocab {
		if id < 0 || id >= len(vocab) {
			return nil, fmt.Errorf("%s: %q has id %d, outside [0, %d)", vocabName, s, id, len(vocab))
		}
		if tokens[id] != nil {
			return nil, fmt.Errorf("%s: id %d is given twice", vocabName, id)
		}
		tok, err := decodeBytes(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", vocabName, err)
		}
		tokens[id] = tok
	}
	ms := make([][2]int, len(merges))
	made := map[int]bool{}
	for i, m := range merges {
		for j, s := range m {
			id, ok := vocab[s]
			if !ok {
				return nil, fmt.Errorf("%s: %q is not in %s", where(i), s, vocabName)
			}
			ms[i][j] = id
		}
		id, ok := vocab[m[0]+m[1]]
		if !ok {
			return nil, fmt.Errorf("%s: %q is not in %s", where(i), m[0]+m[1], vocabName)
		}
		made[id] = true
	}
	special = slices.Clone(special)
	for id, tok := range tokens {
		if len(tok) > 1 && !made[id] && !slices.Contains(special, id) {
			special = append(special, id)
		}
	}
	slices.Sort(special)
	return newBPE(tokens, ms, special)
}

// hfJSON is the part of a Hugging Face tokenizer.json that moxing reads
// and writes. Fields are in the order the tokenizers library writes them.
type hfJSON struct {
	Version       string          `json:"version"`
	Truncation    json.RawMessage `json:"truncation"`
	Padding       json.RawMessage `json:"padding"`
	AddedTokens   []hfAddedToken  `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         json.RawMessage `json:"model"`
}

type hfAddedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// hfBPEModel is tokenizer.json's "model" of type BPE.
type hfBPEModel struct {
	Type                    string          `json:"type"`
	Dropout                 *float64        `json:"dropout"`
	UnkToken                *string         `json:"unk_token"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	FuseUnk                 bool            `json:"fuse_unk"`
	ByteFallback            bool            `json:"byte_fallback"`
	Vocab                   json.RawMessage `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
}

// hfByteLevel is GPT-2's pre-tokenizer, post-processor and decoder.
type hfByteLevel struct {
	Type           string `json:"type"`
	AddPrefixSpace bool   `json:"add_prefix_space"`
	TrimOffsets    bool   `json:"trim_offsets"`
	UseRegex       *bool  `json:"use_regex"` // absent means true
}

// FromHFJSON reads a Hugging Face tokenizers file, tokenizer.json, of one of
// the two kinds moxing runs exactly:
//
//   - byte-level BPE, as GPT-2's: model.type "BPE" with model.vocab and
//     model.merges (as "left right" strings or as pairs), pre_tokenizer
//     ByteLevel without add_prefix_space and with GPT-2's pattern
//     (use_regex), no normalizer. It returns a *BPE; the special tokens are
//     the added_tokens marked special and, as in FromHF, multi-byte tokens
//     that no merge makes.
//   - characters, as WriteHFJSON writes a *Char: model.type "BPE" with no
//     merges over single code points whose ids follow code-point order, no
//     pre_tokenizer, no normalizer, no added tokens. It returns a *Char.
//
// Anything else (another model type, a normalizer, another pre-tokenizer,
// an added token that is not special, BPE dropout, continuing-subword
// prefixes) is an error naming the field and its value.
func FromHFJSON(r io.Reader) (Tokenizer, error) {
	t, err := fromHFJSON(r)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	}
	return t, nil
}

func fromHFJSON(r io.Reader) (Tokenizer, error) {
	var f hfJSON
	if err := json.NewDecoder(r).Decode(&f); err != nil {
		return nil, err
	}
	var m hfBPEModel
	if err := json.Unmarshal(f.Model, &m); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	switch {
	case m.Type != "BPE":
		return nil, fmt.Errorf("model.type %q: moxing reads byte-level BPE (GPT-2's) and character vocabularies", m.Type)
	case !isNull(f.Normalizer):
		return nil, fmt.Errorf("normalizer %s: moxing applies none", typeOf(f.Normalizer))
	case m.Dropout != nil && *m.Dropout != 0:
		return nil, fmt.Errorf("model.dropout %v: moxing does not drop merges", *m.Dropout)
	case m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "":
		return nil, fmt.Errorf("model.continuing_subword_prefix %q: moxing has none", *m.ContinuingSubwordPrefix)
	case m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "":
		return nil, fmt.Errorf("model.end_of_word_suffix %q: moxing has none", *m.EndOfWordSuffix)
	case m.ByteFallback:
		return nil, fmt.Errorf("model.byte_fallback true: moxing's byte-level BPE needs no fallback")
	}
	var vocab map[string]int
	if err := json.Unmarshal(m.Vocab, &vocab); err != nil {
		return nil, fmt.Errorf("model.vocab: %w", err)
	}
	merges, err := parseMerges(m.Merges)
	if err != nil {
		return nil, err
	}
	var special []int
	for i, a := range f.AddedTokens {
		if !a.Special {
			return nil, fmt.Errorf("added_tokens[%d] %q is not special: moxing matches only special tokens before splitting text", i, a.Content)
		}
		special = append(special, a.ID)
	}

	if isNull(f.PreTokenizer) {
		if len(merges) > 0 || len(f.AddedTokens) > 0 {
			return nil, fmt.Errorf("pre_tokenizer null with merges or added tokens: moxing reads byte-level BPE (pre_tokenizer ByteLevel) or a character vocabulary")
		}
		return charFromVocab(vocab)
	}
	var pre hfByteLevel
	if err := json.Unmarshal(f.PreTokenizer, &pre); err != nil || pre.Type != "ByteLevel" {
		return nil, fmt.Errorf("pre_tokenizer %s: moxing splits text as GPT-2's ByteLevel does", typeOf(f.PreTokenizer))
	}
	if pre.AddPrefixSpace {
		return nil, fmt.Errorf("pre_tokenizer.add_prefix_space true: moxing adds no space before the text")
	}
	if pre.UseRegex != nil && !*pre.UseRegex {
		return nil, fmt.Errorf("pre_tokenizer.use_regex false: moxing splits text with GPT-2's pattern")
	}
	// Added tokens may follow the vocabulary (their content is then raw
	// text, not GPT-2's byte alphabet); those in it must agree with it.
	for i, a := range f.AddedTokens {
		switch {
		case a.ID == len(vocab):
			vocab[encodeBytes([]byte(a.Content))] = a.ID
		case a.ID < 0 || a.ID > len(vocab):
			return nil, fmt.Errorf("added_tokens[%d] %q has id %d; the vocabulary has %d", i, a.Content, a.ID, len(vocab))
		case !hasID(vocab, encodeBytes([]byte(a.Content)), a.ID):
			return nil, fmt.Errorf("added_tokens[%d] %q has id %d, not its id in model.vocab", i, a.Content, a.ID)
		}
	}
	return fromVocab(vocab, "model.vocab", merges, func(i int) string { return fmt.Sprintf("model.merges[%d]", i) }, special)
}

// parseMerges reads tokenizer.json's model.merges: strings "left right"
// (tokenizers before 0.20) or pairs ["left", "right"].
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("model.merges: %w", err)
	}
	merges := make([][2]string, len(items))
	for i, item := range items {
		var s string
		var pair []string
		if json.Unmarshal(item, &s) == nil {
			pair = strings.Split(s, " ")
		} else if err := json.Unmarshal(item, &pair); err != nil {
			return nil, fmt.Errorf("model.merges[%d]: want \"left right\" or [\"left\", \"right\"]", i)
		}
		if len(pair) != 2 {
			return nil, fmt.Errorf("model.merges[%d]: %d tokens, want 2", i, len(pair))
		}
		merges[i] = [2]string{pair[0], pair[1]}
	}
	return merges, nil
}

// charFromVocab reads a character vocabulary: one code point per token, ids
// from 0 in code-point order.
func charFromVocab(vocab map[string]int) (*Char, error) {
	if len(vocab) == 0 {
		return nil, fmt.Errorf("model.vocab is empty")
	}
	chars := make([]rune, len(vocab))
	seen := make([]bool, len(vocab))
	for s, id := range vocab {
		r, n := utf8.DecodeRuneInString(s)
		if s == "" || n != len(s) || (r == utf8.RuneError && n == 1) {
			return nil, fmt.Errorf("model.vocab: %q is not one character, and there is no pre_tokenizer: moxing reads a vocabulary without merges as characters", s)
		}
		if id < 0 || id >= len(vocab) || seen[id] {
			return nil, fmt.Errorf("model.vocab: %q has id %d; want ids 0 to %d, each once", s, id, len(vocab)-1)
		}
		chars[id], seen[id] = r, true
	}
	for i := 1; i < len(chars); i++ {
		if chars[i] <= chars[i-1] {
			return nil, fmt.Errorf("model.vocab: %q has id %d, after %q: a character vocabulary's ids follow code-point order", chars[i], i, chars[i-1])
		}
	}
	return newChar(chars), nil
}

// WriteHFJSON writes t as a Hugging Face tokenizers file, tokenizer.json,
// that FromHFJSON reads back into the same tokenizer:
//
//   - a *BPE as GPT-2's: model BPE with vocab and merges, ByteLevel
//     pre-tokenizer, post-processor and decoder, its special tokens as
//     added_tokens;
//   - a *Char as a BPE model with no merges whose vocabulary is the
//     characters, with no normalizer and no pre-tokenizer, so that the
//     tokenizers library splits text into characters and looks each up, as
//     Char does (a character outside the vocabulary is dropped there, an
//     error here); the decoder Fuse joins tokens without spaces.
func WriteHFJSON(w io.Writer, t Tokenizer) error {
	f := hfJSON{Version: "1.0", Truncation: null, Padding: null, AddedTokens: []hfAddedToken{},
		Normalizer: null, PreTokenizer: null, PostProcessor: null, Decoder: null}
	m := hfBPEModel{Type: "BPE", Merges: json.RawMessage("[]")}
	switch t := t.(type) {
	case *BPE:
		vocab, err := t.vocabJSON(false)
		if err != nil {
			return fmt.Errorf("tokenizer: WriteHFJSON: %w", err)
		}
		m.Vocab = vocab
		var merges bytes.Buffer
		merges.WriteByte('[')
		for r, mg := range t.merges {
			if r > 0 {
				merges.WriteByte(',')
			}
			merges.Write(jsonString(encodeBytes(t.tokens[mg[0]]) + " " + encodeBytes(t.tokens[mg[1]])))
		}
		merges.WriteByte(']')
		m.Merges = merges.Bytes()
		empty := ""
		m.ContinuingSubwordPrefix, m.EndOfWordSuffix = &empty, &empty
		for id, tok := range t.tokens {
			if t.isSpecial(id) {
				f.AddedTokens = append(f.AddedTokens, hfAddedToken{ID: id, Content: string(tok), Normalized: true, Special: true})
			}
		}
		yes := true
		f.PreTokenizer = mustJSON(hfByteLevel{Type: "ByteLevel", TrimOffsets: true, UseRegex: &yes})
		f.PostProcessor = mustJSON(hfByteLevel{Type: "ByteLevel", AddPrefixSpace: true, UseRegex: &yes})
		f.Decoder = mustJSON(hfByteLevel{Type: "ByteLevel", AddPrefixSpace: true, TrimOffsets: true, UseRegex: &yes})
	case *Char:
		var vocab bytes.Buffer
		vocab.WriteByte('{')
		for id, r := range t.chars {
			if id > 0 {
				vocab.WriteByte(',')
			}
			vocab.Write(jsonString(string(r)))
			fmt.Fprintf(&vocab, ":%d", id)
		}
		vocab.WriteByte('}')
		m.Vocab = vocab.Bytes()
		f.Decoder = json.RawMessage(`{"type":"Fuse"}`)
	default:
		return fmt.Errorf("tokenizer: WriteHFJSON: cannot write a %T", t)
	}
	f.Model = mustJSON(m)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil {
		return fmt.Errorf("tokenizer: WriteHFJSON: %w", err)
	}
	return nil
}

var null = json.RawMessage("null")

func hasID(vocab map[string]int, tok string, id int) bool {
	v, ok := vocab[tok]
	return ok && v == id
}

func isNull(raw json.RawMessage) bool {
	return len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// typeOf names a tokenizer.json component by its "type", for errors.
func typeOf(raw json.RawMessage) string {
	var c struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(raw, &c) != nil || c.Type == "" {
		return string(raw)
	}
	return fmt.Sprintf("of type %q", c.Type)
}

func mustJSON(v any) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("tokenizer: " + err.Error()) // plain structs always encode
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
