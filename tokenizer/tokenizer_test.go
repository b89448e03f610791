package tokenizer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/moxing/moxing/tokenizer"
)

// mobyDickPath is where scripts/fetch-data.sh installs Moby-Dick.
func mobyDickPath() string {
	dir := os.Getenv("MOXING_DATA")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "moxing", "data")
	}
	return filepath.Join(dir, "npm", "node_modules", "@stdlib", "datasets-moby-dick", "data", "data.txt")
}

// mobyDick returns the text of Moby-Dick. It skips the test when the file is
// missing, and fails it under CI=true.
func mobyDick(tb testing.TB) string {
	tb.Helper()
	b, err := os.ReadFile(mobyDickPath())
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("Moby-Dick is missing (%v): run scripts/fetch-data.sh", err)
		}
		tb.Skipf("Moby-Dick is missing (%v): run scripts/fetch-data.sh", err)
	}
	return string(b)
}

// Texts every tokenizer must round-trip.
var roundTripTexts = []struct{ name, text string }{
	{"english", "Call me Ishmael. Some years ago—never mind how long precisely—I thought I'd sail about."},
	{"chinese", "天地玄黄，宇宙洪荒。日月盈昃，辰宿列张。"},
	{"emoji", "family: 👩‍👩‍👧 and a flag 🇯🇵, skin tone 👋🏽"},
	{"whitespace", "a  \n\n\t b   "},
	{"contractions", "I'm sure they'll say it's what we've done, don't you? 'S 'LL"},
	{"numbers", "In 1851, 3.14159 × 10² ≈ ⅓ of Ⅻ"},
	{"empty", ""},
}

// randomTexts returns n strings of random bytes made valid UTF-8 and n of
// random code points, each up to maxLen long.
func randomTexts(rng *rand.Rand, n, maxLen int) []string {
	var out []string
	for range n {
		b := make([]byte, rng.IntN(maxLen))
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		out = append(out, strings.ToValidUTF8(string(b), "\uFFFD"))
	}
	for range n {
		var sb strings.Builder
		for range rng.IntN(maxLen) {
			r := rune(rng.IntN(utf8.MaxRune + 1))
			if !utf8.ValidRune(r) {
				r = ' '
			}
			sb.WriteRune(r)
		}
		out = append(out, sb.String())
	}
	return out
}

// trickyTexts returns n strings drawn from characters where GPT-2's pattern
// has its edge cases: contractions, every kind of whitespace, letters and
// numbers of other scripts, combining marks, emoji with joiners.
func trickyTexts(rng *rand.Rand, n, maxLen int) []string {
	parts := []string{
		"a", "Z", "é", "ß", "Ω", "я", "中", "文", "ا", "ह", "\u0301", "\u200d", "👩", "🏽", "‍",
		"0", "7", "²", "½", "Ⅻ", "٣", "१",
		" ", "  ", "\t", "\n", "\r\n", "\v", "\f", "\u00a0", "\u0085", "\u2028", "\u3000", "\u200b",
		"'", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "''",
		".", ",", "!", "?", "-", "—", "…", "\"", "(", ")", "$", "€", "#", "_", "\x00", "\x1f", "\x7f",
		" the", " of", "ing", "tion", "Hello", " world", "<|endoftext|>", "<|", "|>",
	}
	var out []string
	for range n {
		var sb strings.Builder
		for range rng.IntN(maxLen) {
			sb.WriteString(parts[rng.IntN(len(parts))])
		}
		out = append(out, sb.String())
	}
	return out
}

// smallBPE trains a BPE on English and Chinese text.
func smallBPE(t testing.TB) *tokenizer.BPE {
	t.Helper()
	corpus := strings.Repeat("the cat sat on the mat; the dog sat on the log. 天地玄黄，宇宙洪荒。 ", 20)
	b, err := tokenizer.TrainBPE(context.Background(), corpus, 300)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	var corpus strings.Builder
	for _, tt := range roundTripTexts {
		corpus.WriteString(tt.text)
	}
	char, err := tokenizer.NewChar(corpus.String())
	if err != nil {
		t.Fatal(err)
	}
	gpt2, err := tokenizer.GPT2()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	random := append(randomTexts(rng, 100, 200), trickyTexts(rng, 100, 50)...)
	for _, tok := range []struct {
		name   string
		t      tokenizer.Tokenizer
		random bool // byte-level: round-trips any valid UTF-8
	}{
		{"char", char, false},
		{"trained", smallBPE(t), true},
		{"gpt2", gpt2, true},
	} {
		texts := slices.Clone(roundTripTexts)
		if tok.random {
			for i, s := range random {
				texts = append(texts, struct{ name, text string }{"random" + string(rune('0'+i%10)), s})
			}
		}
		for _, tt := range texts {
			ids, err := tok.t.Encode(tt.text)
			if err != nil {
				t.Fatalf("%s: Encode(%q): %v", tok.name, tt.text, err)
			}
			got, err := tok.t.Decode(ids)
			if err != nil {
				t.Fatalf("%s: Decode(Encode(%q)): %v", tok.name, tt.text, err)
			}
			if got != tt.text {
				t.Fatalf("%s %s: Decode(Encode(%q)) = %q", tok.name, tt.name, tt.text, got)
			}
			// TokenBytes, joined, give the same text: what streaming output sees.
			var joined []byte
			for _, id := range ids {
				joined = append(joined, tok.t.TokenBytes(id)...)
			}
			if string(joined) != tt.text {
				t.Fatalf("%s %s: TokenBytes joined = %q, want %q", tok.name, tt.name, joined, tt.text)
			}
		}
	}
}

func TestCharVocabulary(t *testing.T) {
	c, err := tokenizer.NewChar("天地玄黄 abba")
	if err != nil {
		t.Fatal(err)
	}
	// Sorted code points: ' ' a b 地 天 玄 黄 and the unknown U+FFFD
	if c.VocabSize() != 8 {
		t.Errorf("VocabSize = %d, want 8", c.VocabSize())
	}
	ids, err := c.Encode("天地 ab")
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{4, 3, 0, 1, 2}; !slices.Equal(ids, want) {
		t.Errorf("Encode = %v, want %v", ids, want)
	}
	if got := string(c.TokenBytes(6)); got != "黄" {
		t.Errorf("TokenBytes(6) = %q, want 黄", got)
	}
}

func TestBadInput(t *testing.T) {
	char, err := tokenizer.NewChar("abc")
	if err != nil {
		t.Fatal(err)
	}
	bpe := smallBPE(t)
	encodeSpecial := func(s string) ([]int, error) { return bpe.EncodeSpecial(s) }
	for _, tt := range []struct {
		name string
		run  func() error
		want string // in the error
	}{
		{"char invalid utf8", func() error { _, err := char.Encode("ab\xffc"); return err }, "byte 2"},
		{"bpe invalid utf8", func() error { _, err := bpe.Encode("héllo\xc3"); return err }, "byte 6"},
		{"bpe special invalid utf8", func() error { _, err := encodeSpecial("\x80"); return err }, "byte 0"},
		{"char unknown", func() error { _, err := char.Encode("abz"); return err }, `'z' (U+007A) at byte 2`},
		{"char unknown chinese", func() error { _, err := char.Encode("a天"); return err }, `'天' (U+5929) at byte 1`},
		{"char decode negative", func() error { _, err := char.Decode([]int{0, -1}); return err }, "id -1 at position 1"},
		{"char decode too big", func() error { _, err := char.Decode([]int{4}); return err }, "outside [0, 4)"},
		{"bpe decode too big", func() error { _, err := bpe.Decode([]int{1, 300}); return err }, "id 300 at position 1"},
		{"new char empty", func() error { _, err := tokenizer.NewChar(""); return err }, "empty corpus"},
		{"new char invalid", func() error { _, err := tokenizer.NewChar("a\xff"); return err }, "byte 1"},
		{"add special empty", func() error { _, err := bpe.AddSpecial(""); return err }, "empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	for _, tok := range []tokenizer.Tokenizer{char, bpe} {
		for _, id := range []int{-1, tok.VocabSize()} {
			if b := tok.TokenBytes(id); b != nil {
				t.Errorf("%T.TokenBytes(%d) = %q, want nil", tok, id, b)
			}
		}
	}
}

func TestSaveLoad(t *testing.T) {
	char, err := tokenizer.NewChar("天地玄黄 hello\n\"\\")
	if err != nil {
		t.Fatal(err)
	}
	withSpecial := smallBPE(t)
	if _, err := withSpecial.AddSpecial("<|endoftext|>"); err != nil {
		t.Fatal(err)
	}
	gpt2, err := tokenizer.GPT2()
	if err != nil {
		t.Fatal(err)
	}
	text := "hello 天地<|endoftext|>the cat sat on the log, said Ishmael"
	for _, tt := range []struct {
		name string
		t    tokenizer.Tokenizer
		text string
	}{
		{"char", char, "hello 天地"},
		{"trained", smallBPE(t), text},
		{"trained with special", withSpecial, text},
		{"gpt2", gpt2, text},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tokenizer.Save(&buf, tt.t); err != nil {
				t.Fatal(err)
			}
			saved := buf.String()
			got, err := tokenizer.Load(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if got.VocabSize() != tt.t.VocabSize() {
				t.Errorf("VocabSize %d after Load, want %d", got.VocabSize(), tt.t.VocabSize())
			}
			encode := func(tok tokenizer.Tokenizer) []int {
				var ids []int
				var err error
				if b, ok := tok.(*tokenizer.BPE); ok {
					ids, err = b.EncodeSpecial(tt.text)
				} else {
					ids, err = tok.Encode(tt.text)
				}
				if err != nil {
					t.Fatal(err)
				}
				return ids
			}
			if a, b := encode(tt.t), encode(got); !slices.Equal(a, b) {
				t.Errorf("ids after Load %v, want %v", b, a)
			}
			for id := range tt.t.VocabSize() {
				if !bytes.Equal(got.TokenBytes(id), tt.t.TokenBytes(id)) {
					t.Fatalf("token %d is %q after Load, want %q", id, got.TokenBytes(id), tt.t.TokenBytes(id))
				}
			}
			buf.Reset()
			if err := tokenizer.Save(&buf, got); err != nil {
				t.Fatal(err)
			}
			if buf.String() != saved {
				t.Error("Save(Load(Save(t))) differs from Save(t)")
			}
		})
	}
}

func TestLoadBad(t *testing.T) {
	var buf bytes.Buffer
	if err := tokenizer.Save(&buf, smallBPE(t)); err != nil {
		t.Fatal(err)
	}
	// bpe returns the saved trained BPE with edit applied to its JSON.
	bpe := func(edit func(f map[string]any)) string {
		var f map[string]any
		if err := json.Unmarshal(buf.Bytes(), &f); err != nil {
			t.Fatal(err)
		}
		edit(f)
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	merges := func(f map[string]any) []any { return f["merges"].([]any) }
	tokens := func(f map[string]any) []any { return f["tokens"].([]any) }
	for _, tt := range []struct {
		name, json, want string
	}{
		{"garbage", "not json at all", "invalid character"},
		{"truncated", `{"kind":"bpe","tokens":["a"`, "unexpected EOF"},
		{"no kind", `{}`, `kind ""`},
		{"unknown kind", `{"kind":"wordpiece"}`, `kind "wordpiece"`},
		{"char empty", `{"kind":"char"}`, "no characters"},
		{"char unsorted", `{"kind":"char","chars":"ba"}`, "ascending"},
		{"char repeated", `{"kind":"char","chars":"abb"}`, "ascending"},
		{"bpe no tokens", `{"kind":"bpe"}`, "byte 0x00 is not in the vocabulary"},
		{"merge to missing token", bpe(func(f map[string]any) { merges(f)[3] = []any{0, 99999} }), "merge 3 refers to token 99999, which is not in the vocabulary"},
		{"merge to negative token", bpe(func(f map[string]any) { merges(f)[0] = []any{-1, 5} }), "merge 0 refers to token -1"},
		{"merge makes missing token", bpe(func(f map[string]any) { merges(f)[0] = []any{200, 201} }), "which is not in the vocabulary"},
		{"merge of three", bpe(func(f map[string]any) { merges(f)[0] = []any{1, 2, 3} }), "merge 0 has 3 ids"},
		{"merge out of order", bpe(func(f map[string]any) { m := merges(f); m[0], m[len(m)-1] = m[len(m)-1], m[0] }), "later merge"},
		{"token made by no merge", bpe(func(f map[string]any) { f["merges"] = merges(f)[:len(merges(f))-1] }), "made by no merge"},
		{"missing byte", bpe(func(f map[string]any) { tokens(f)[65] = "zz" }), "byte 0x41 is not in the vocabulary"},
		{"duplicate token", bpe(func(f map[string]any) { tokens(f)[65] = tokens(f)[66] }), "are both"},
		{"token outside alphabet", bpe(func(f map[string]any) { tokens(f)[65] = "A\u4e00" }), "not in GPT-2's byte alphabet"},
		{"special out of range", bpe(func(f map[string]any) { f["special"] = []any{1000} }), "special token id 1000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tokenizer.Load(strings.NewReader(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestAddSpecial(t *testing.T) {
	b := smallBPE(t)
	before := b.VocabSize()
	eot, err := b.AddSpecial("<|endoftext|>")
	if err != nil {
		t.Fatal(err)
	}
	if eot != before || b.VocabSize() != before+1 {
		t.Errorf("AddSpecial id %d and VocabSize %d, want %d and %d", eot, b.VocabSize(), before, before+1)
	}
	if _, err := b.AddSpecial("<|endoftext|>"); err == nil {
		t.Error("adding the same special token twice: no error")
	}
	cat, _ := b.Encode("the cat")
	ids, err := b.EncodeSpecial("the cat<|endoftext|>the cat")
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Concat(cat, []int{eot}, cat)
	if !slices.Equal(ids, want) {
		t.Errorf("EncodeSpecial = %v, want %v", ids, want)
	}
	plain, _ := b.Encode("<|endoftext|>")
	if slices.Contains(plain, eot) {
		t.Errorf("Encode produced the special token: %v", plain)
	}
}

// A Lossy tokenizer encodes the characters a character vocabulary lacks as
// the unknown token and counts them; the plain one refuses them.
func TestLossy(t *testing.T) {
	c, err := tokenizer.NewChar("abc")
	if err != nil {
		t.Fatal(err)
	}
	l := tokenizer.NewLossy(c)
	ids, err := l.Encode("ab!\tc")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := c.Decode(ids)
	if text != "ab\uFFFD\uFFFDc" || l.Replaced() != 2 {
		t.Fatalf("lossy encoding decodes to %q with %d replaced", text, l.Replaced())
	}
	if _, err := c.Encode("ab!"); err == nil {
		t.Fatal("the strict Char accepted an unknown character")
	}
	if _, err := l.Encode("a\xff"); err == nil {
		t.Fatal("invalid UTF-8 accepted")
	}
	bpe, err := tokenizer.TrainBPE(context.Background(), "abc abc", 260)
	if err != nil {
		t.Fatal(err)
	}
	lb := tokenizer.NewLossy(bpe)
	got, _ := lb.Encode("zz!")
	want, _ := bpe.Encode("zz!")
	if !slices.Equal(got, want) || lb.Replaced() != 0 {
		t.Fatalf("a byte-level BPE through Lossy: %v (%d replaced), want %v", got, lb.Replaced(), want)
	}
}

// GPT-2's tokenizer survives the byte-level form GGUF stores.
func TestByteLevelRoundTrip(t *testing.T) {
	g, err := tokenizer.GPT2()
	if err != nil {
		t.Fatal(err)
	}
	bl, err := g.ByteLevel()
	if err != nil {
		t.Fatal(err)
	}
	if len(bl.Tokens) != 50257 || bl.Tokens[220] != "Ġ" || !bl.Special[50256] || bl.Special[220] || bl.Merges[0] != "Ġ t" {
		t.Fatalf("%d tokens, 220 %q, merge 0 %q", len(bl.Tokens), bl.Tokens[220], bl.Merges[0])
	}
	back, err := tokenizer.FromByteLevel(bl, "test")
	if err != nil {
		t.Fatal(err)
	}
	text := "Hello, world! <|endoftext|> ünïcödé  spaces\n"
	a, _ := g.Encode(text)
	b, _ := back.Encode(text)
	if !slices.Equal(a, b) {
		t.Fatalf("%v != %v", a, b)
	}
	bl.Merges[3] = "nospace"
	if _, err := tokenizer.FromByteLevel(bl, "test"); err == nil || !strings.Contains(err.Error(), "merge 3") {
		t.Fatalf("a bad merge: %v", err)
	}
}
