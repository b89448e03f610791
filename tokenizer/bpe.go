package tokenizer

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// BPE is a byte-level byte-pair-encoding tokenizer, as GPT-2's. Text is
// first split into pieces by GPT-2's pattern (words with their leading
// space, numbers, runs of punctuation, runs of whitespace); each piece's
// bytes are then joined into tokens by rank. The 256 single bytes are always
// tokens, so every text round-trips exactly.
//
// Every multi-byte token is made by a merge of two earlier tokens; its rank
// is the position of the first merge that makes it. A piece that is itself
// a token becomes that token; otherwise, starting from its single bytes, the
// adjacent pair whose bytes together spell the lowest-ranked token is
// joined, leftmost first, until no pair spells a token. This is tiktoken's
// rule, which GPT-2's vocabulary needs to come out byte-identical to
// OpenAI's. It looks at the bytes a pair spells, not at which merge made a
// token, so it may join a pair that no merge lists (as "a"+"bc" where the
// merge was "ab"+"c"); for GPT-2's vocabulary that is what OpenAI does.
//
// Special tokens (GPT-2's <|endoftext|>) have ids of their own and are
// produced only by EncodeSpecial.
type BPE struct {
	tokens   [][]byte         // id -> bytes
	ids      map[string]int32 // bytes -> id, for all but the special tokens
	byteIDs  [256]int32       // byte -> id
	merges   [][2]int         // pairs of ids, in rank order
	rank     []int32          // id -> the first merge that makes it; -1 for single bytes and special tokens
	pairs    map[uint64]int32 // pairKey(left, right) -> id of the token that their bytes spell together
	special  map[string]int   // special token text -> id
	specials []string         // special token texts, longest first
}

func pairKey(left, right int32) uint64 { return uint64(uint32(left))<<32 | uint64(uint32(right)) }

// newVocab checks and indexes the tokens; ranks, merges and pairs are left
// for the caller. Special tokens may hold any non-empty UTF-8; the others
// must be distinct and include all 256 single bytes.
func newVocab(tokens [][]byte, special []int) (*BPE, error) {
	if len(tokens) > math.MaxInt32 {
		return nil, fmt.Errorf("%d tokens is too many", len(tokens))
	}
	b := &BPE{
		tokens:  tokens,
		ids:     make(map[string]int32, len(tokens)),
		rank:    make([]int32, len(tokens)),
		special: map[string]int{},
	}
	for _, id := range special {
		if id < 0 || id >= len(tokens) {
			return nil, fmt.Errorf("special token id %d is outside [0, %d)", id, len(tokens))
		}
		text := string(tokens[id])
		if text == "" || !utf8.ValidString(text) {
			return nil, fmt.Errorf("special token %d %q is empty or not valid UTF-8", id, text)
		}
		if _, dup := b.special[text]; dup {
			return nil, fmt.Errorf("special token %d %q is listed twice", id, text)
		}
		b.special[text] = id
		b.specials = append(b.specials, text)
	}
	sortSpecials(b.specials)
	for id, tok := range tokens {
		b.rank[id] = -1
		if b.isSpecial(id) {
			continue
		}
		if len(tok) == 0 {
			return nil, fmt.Errorf("token %d is empty", id)
		}
		if prev, dup := b.ids[string(tok)]; dup {
			return nil, fmt.Errorf("tokens %d and %d are both %q", prev, id, tok)
		}
		b.ids[string(tok)] = int32(id)
	}
	for c := range 256 {
		id, ok := b.ids[string([]byte{byte(c)})]
		if !ok {
			return nil, fmt.Errorf("byte 0x%02x is not in the vocabulary", c)
		}
		b.byteIDs[c] = id
	}
	return b, nil
}

// sortSpecials puts longer special tokens first, so that the longest wins
// where two start at the same place.
func sortSpecials(s []string) {
	slices.SortFunc(s, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
}

// newBPE checks and indexes a vocabulary: tokens by id, the merges that make
// its multi-byte tokens in rank order (each a pair of ids), and the ids of
// its special tokens.
func newBPE(tokens [][]byte, merges [][2]int, special []int) (*BPE, error) {
	b, err := newVocab(tokens, special)
	if err != nil {
		return nil, err
	}
	for r, m := range merges {
		for _, id := range m {
			if id < 0 || id >= len(tokens) {
				return nil, fmt.Errorf("merge %d refers to token %d, which is not in the vocabulary of %d tokens", r, id, len(tokens))
			}
			if b.isSpecial(id) {
				return nil, fmt.Errorf("merge %d refers to special token %d %q", r, id, tokens[id])
			}
		}
		made := string(tokens[m[0]]) + string(tokens[m[1]])
		id, ok := b.ids[made]
		if !ok {
			return nil, fmt.Errorf("merge %d (%q + %q) makes %q, which is not in the vocabulary", r, tokens[m[0]], tokens[m[1]], made)
		}
		if b.rank[id] < 0 {
			b.rank[id] = int32(r) // a later merge that makes the same token changes nothing
		}
	}
	for r, m := range merges {
		for _, id := range m {
			if b.rank[id] >= int32(r) {
				return nil, fmt.Errorf("merge %d uses token %d %q, which only the later merge %d makes", r, id, tokens[id], b.rank[id])
			}
		}
	}
	for id, tok := range tokens {
		if len(tok) > 1 && b.rank[id] < 0 && !b.isSpecial(id) {
			return nil, fmt.Errorf("token %d %q is made by no merge", id, tok)
		}
	}
	b.merges = merges
	b.indexPairs()
	return b, nil
}

func (b *BPE) isSpecial(id int) bool {
	s, ok := b.special[string(b.tokens[id])]
	return ok && s == id
}

// indexPairs fills b.pairs: every way to split a multi-byte token into two
// tokens, which is what tiktoken's rule looks up.
func (b *BPE) indexPairs() {
	b.pairs = make(map[uint64]int32, 4*len(b.tokens))
	for id, tok := range b.tokens {
		if b.rank[id] < 0 {
			continue
		}
		for k := 1; k < len(tok); k++ {
			l, okl := b.ids[string(tok[:k])]
			r, okr := b.ids[string(tok[k:])]
			if okl && okr {
				b.pairs[pairKey(l, r)] = int32(id)
			}
		}
	}
}

// Encode returns the ids of text's tokens. Special tokens' text is encoded
// as ordinary text, as tiktoken's encode_ordinary does.
func (b *BPE) Encode(text string) ([]int, error) {
	if err := checkUTF8(text); err != nil {
		return nil, err
	}
	return b.encode(make([]int, 0, len(text)/3), text, map[string][]int{}), nil
}

// EncodeSpecial is Encode, except that the text of a special token (GPT-2's
// <|endoftext|>) becomes its id. A BPE has special tokens only when GPT2,
// FromHF, Load or AddSpecial gave it some.
func (b *BPE) EncodeSpecial(text string) ([]int, error) {
	if err := checkUTF8(text); err != nil {
		return nil, err
	}
	out := make([]int, 0, len(text)/3)
	cache := map[string][]int{}
	at := make([]int, len(b.specials)) // where each special token next occurs at or after start; -1 if it does not
	for i, s := range b.specials {
		at[i] = strings.Index(text, s)
	}
	start := 0
	for {
		next := -1
		for i, a := range at {
			if a >= 0 && (next < 0 || a < at[next]) {
				next = i
			}
		}
		if next < 0 {
			return b.encode(out, text[start:], cache), nil
		}
		out = b.encode(out, text[start:at[next]], cache)
		out = append(out, b.special[b.specials[next]])
		start = at[next] + len(b.specials[next])
		for i, s := range b.specials {
			if at[i] >= 0 && at[i] < start {
				if at[i] = strings.Index(text[start:], s); at[i] >= 0 {
					at[i] += start
				}
			}
		}
	}
}

// encode appends the tokens of text, valid UTF-8, to out. cache holds the
// tokens of the pieces seen so far that are not tokens themselves.
func (b *BPE) encode(out []int, text string, cache map[string][]int) []int {
	for p := range pieces(text) {
		if id, ok := b.ids[p]; ok {
			out = append(out, int(id))
			continue
		}
		if ids, ok := cache[p]; ok {
			out = append(out, ids...)
			continue
		}
		n := len(out)
		out = b.merge(out, p, math.MaxInt32)
		cache[p] = slices.Clone(out[n:])
	}
	return out
}

// candidate is a pair of adjacent parts of a piece that spell a token.
type candidate struct {
	rank        int32 // of the token they spell
	left, right int32 // byte offsets where the parts start
	l, r        int32 // their tokens when the candidate was found
	tok         int32 // the token they spell
}

// merge appends the tokens of piece (not empty) by the rule in BPE's doc,
// joining only pairs that spell a token ranked below maxRank. A heap of
// candidate pairs keeps it O(n log n) in the piece's length.
func (b *BPE) merge(out []int, piece string, maxRank int32) []int {
	n := int32(len(piece))
	tok := make([]int32, n)  // token of the part that starts at byte i; -1 inside a part
	next := make([]int32, n) // start of the part after the one at i; n for the last
	prev := make([]int32, n) // start of the part before the one at i; -1 for the first
	for i := range n {
		tok[i], next[i], prev[i] = b.byteIDs[piece[i]], i+1, i-1
	}
	var h heap[candidate]
	consider := func(left int32) {
		if left < 0 || next[left] >= n {
			return
		}
		right := next[left]
		if t, ok := b.pairs[pairKey(tok[left], tok[right])]; ok && b.rank[t] < maxRank {
			h.push(candidate{rank: b.rank[t], left: left, right: right, l: tok[left], r: tok[right], tok: t})
		}
	}
	for i := range n - 1 {
		consider(i)
	}
	for h.len() > 0 {
		c := h.pop()
		if tok[c.left] != c.l || next[c.left] != c.right || tok[c.right] != c.r {
			continue // a part changed since the candidate was found
		}
		tok[c.left], tok[c.right] = c.tok, -1
		next[c.left] = next[c.right]
		if next[c.left] < n {
			prev[next[c.left]] = c.left
		}
		consider(prev[c.left])
		consider(c.left)
	}
	for i := int32(0); i < n; i = next[i] {
		out = append(out, int(tok[i]))
	}
	return out
}

// less orders candidates for merge: by rank, then by position.
func (a candidate) less(b candidate) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.left < b.left
}

// Decode joins the bytes of ids' tokens.
func (b *BPE) Decode(ids []int) (string, error) {
	var sb strings.Builder
	for i, id := range ids {
		if id < 0 || id >= len(b.tokens) {
			return "", fmt.Errorf("tokenizer: id %d at position %d is outside [0, %d)", id, i, len(b.tokens))
		}
		sb.Write(b.tokens[id])
	}
	return sb.String(), nil
}

// TokenBytes returns the bytes of token id, or nil if id is out of range.
// The caller must not modify them.
func (b *BPE) TokenBytes(id int) []byte {
	if id < 0 || id >= len(b.tokens) {
		return nil
	}
	return b.tokens[id]
}

// VocabSize is the number of tokens: 256 bytes, one per merge, and the
// special tokens.
func (b *BPE) VocabSize() int { return len(b.tokens) }

// AddSpecial adds a special token with the next free id, VocabSize() before
// the call, and returns that id. EncodeSpecial turns its text into the id.
// It fails on empty or invalid UTF-8 text and on a special token that is
// already there. It must not run while b is in use by other goroutines.
func (b *BPE) AddSpecial(text string) (int, error) {
	if text == "" {
		return 0, fmt.Errorf("tokenizer: AddSpecial: empty token")
	}
	if err := checkUTF8(text); err != nil {
		return 0, fmt.Errorf("tokenizer: AddSpecial %q: %w", text, err)
	}
	if id, ok := b.special[text]; ok {
		return 0, fmt.Errorf("tokenizer: AddSpecial: %q is already special token %d", text, id)
	}
	id := len(b.tokens)
	b.tokens = append(b.tokens, []byte(text))
	b.rank = append(b.rank, -1)
	b.special[text] = id
	b.specials = append(b.specials, text)
	sortSpecials(b.specials)
	return id, nil
}
