package tokenizer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"

	"github.com/moxing/moxing/tokenizer"
)

// r50k is tiktoken-go's GPT-2 encoding, read from the same offline files:
// the independent oracle.
var r50k = sync.OnceValues(func() (*tiktoken.Tiktoken, error) {
	tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader())
	return tiktoken.GetEncoding("r50k_base")
})

func oracle(t testing.TB) *tiktoken.Tiktoken {
	t.Helper()
	enc, err := r50k()
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

func gpt2(t testing.TB) *tokenizer.BPE {
	t.Helper()
	b, err := tokenizer.GPT2()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGPT2KnownIDs(t *testing.T) {
	b := gpt2(t)
	if b.VocabSize() != 50257 {
		t.Errorf("VocabSize = %d, want 50257", b.VocabSize())
	}
	for _, tt := range []struct {
		text    string
		special bool
		want    []int
	}{
		{"Hello world", false, []int{15496, 995}},
		{"<|endoftext|>", true, []int{50256}},
		{"a<|endoftext|><|endoftext|> b", true, []int{64, 50256, 50256, 275}},
		{"<|endoftext|>", false, []int{27, 91, 437, 1659, 5239, 91, 29}},
		{"", false, []int{}},
	} {
		encode := b.Encode
		if tt.special {
			encode = b.EncodeSpecial
		}
		got, err := encode(tt.text)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("encode(%q, special=%v) = %v, want %v", tt.text, tt.special, got, tt.want)
		}
	}
	if got := string(b.TokenBytes(50256)); got != "<|endoftext|>" {
		t.Errorf("TokenBytes(50256) = %q", got)
	}
}

// checkParity compares GPT2's Encode with tiktoken's EncodeOrdinary.
func checkParity(t *testing.T, b *tokenizer.BPE, name, text string) {
	t.Helper()
	want := oracle(t).EncodeOrdinary(text)
	got, err := b.Encode(text)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !slices.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s: %d ids, tiktoken %d; first difference at id %d: got %v, tiktoken %v, in %q",
			name, len(got), len(want), i, got[i:min(i+5, len(got))], want[i:min(i+5, len(want))], text[:min(len(text), 200)])
	}
}

func TestGPT2MatchesTiktoken(t *testing.T) {
	b := gpt2(t)
	for _, tt := range roundTripTexts {
		checkParity(t, b, tt.name, tt.text)
	}
	rng := rand.New(rand.NewPCG(2, 3))
	for i, s := range randomTexts(rng, 200, 300) {
		checkParity(t, b, fmt.Sprint("random ", i), s)
	}
	for i, s := range trickyTexts(rng, 400, 60) {
		checkParity(t, b, fmt.Sprint("tricky ", i), s)
	}
	// Long runs, where a piece has thousands of bytes.
	checkParity(t, b, "spaces", strings.Repeat(" ", 5000)+"x"+strings.Repeat("\n", 3000))
	checkParity(t, b, "letters", strings.Repeat("abcdefghij", 300))
	checkParity(t, b, "digits", strings.Repeat("31415926535", 200))
}

func TestGPT2MatchesTiktokenSpecial(t *testing.T) {
	b := gpt2(t)
	rng := rand.New(rand.NewPCG(4, 5))
	for _, s := range trickyTexts(rng, 200, 60) {
		want := oracle(t).Encode(s, []string{"all"}, nil)
		got, err := b.EncodeSpecial(s)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("EncodeSpecial(%q) = %v, tiktoken %v", s, got, want)
		}
	}
}

func TestGPT2MatchesTiktokenMobyDick(t *testing.T) {
	text := mobyDick(t)
	b := gpt2(t)
	checkParity(t, b, "Moby-Dick", text)
	ids, _ := b.Encode(text)
	t.Logf("Moby-Dick: %d bytes, %d GPT-2 tokens", len(text), len(ids))
}

// TestFromHF writes GPT-2 in Hugging Face's files, from Save's JSON, and
// checks that FromHF reads back the same tokenizer.
func TestFromHF(t *testing.T) {
	b := gpt2(t)
	var saved bytes.Buffer
	if err := tokenizer.Save(&saved, b); err != nil {
		t.Fatal(err)
	}
	var f struct {
		Tokens []string
		Merges [][2]int
	}
	if err := json.Unmarshal(saved.Bytes(), &f); err != nil {
		t.Fatal(err)
	}
	vocab := map[string]int{}
	for id, s := range f.Tokens {
		vocab[s] = id
	}
	vocabJSON, err := json.Marshal(vocab)
	if err != nil {
		t.Fatal(err)
	}
	var merges strings.Builder
	merges.WriteString("#version: 0.2\n")
	for _, m := range f.Merges {
		fmt.Fprintf(&merges, "%s %s\n", f.Tokens[m[0]], f.Tokens[m[1]])
	}
	if len(f.Merges) != 50000 || !strings.HasPrefix(merges.String(), "#version: 0.2\nĠ t\nĠ a\nh e\n") {
		t.Errorf("%d merges starting %q; GPT-2's merges.txt has 50000 starting \"Ġ t\", \"Ġ a\", \"h e\"", len(f.Merges), merges.String()[:30])
	}
	hf, err := tokenizer.FromHF(bytes.NewReader(vocabJSON), strings.NewReader(merges.String()))
	if err != nil {
		t.Fatal(err)
	}
	if hf.VocabSize() != b.VocabSize() {
		t.Errorf("VocabSize %d, want %d", hf.VocabSize(), b.VocabSize())
	}
	rng := rand.New(rand.NewPCG(6, 7))
	for _, s := range append(trickyTexts(rng, 100, 60), "Hello world<|endoftext|>") {
		want, _ := b.EncodeSpecial(s)
		got, err := hf.EncodeSpecial(s)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("FromHF: EncodeSpecial(%q) = %v, want %v", s, got, want)
		}
	}
}

// smallVocabJSON is vocab.json for the 256 bytes (ids = byte values) and
// "ab" = 256, "bc" = 257, "abc" = 258.
func smallVocabJSON(t *testing.T) string {
	t.Helper()
	byteLevel, err := tokenizer.TrainBPE(context.Background(), "ab", 256)
	if err != nil {
		t.Fatal(err)
	}
	var saved bytes.Buffer
	if err := tokenizer.Save(&saved, byteLevel); err != nil {
		t.Fatal(err)
	}
	var f struct{ Tokens []string }
	if err := json.Unmarshal(saved.Bytes(), &f); err != nil {
		t.Fatal(err)
	}
	vocab := map[string]int{"ab": 256, "bc": 257, "abc": 258}
	for id, s := range f.Tokens {
		vocab[s] = id
	}
	b, err := json.Marshal(vocab)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFromHFSmall(t *testing.T) {
	vocab := smallVocabJSON(t)
	for _, tt := range []struct {
		name, merges    string
		encode, special []int // of "abca"
	}{
		{"in order", "#version: 0.2\na b\nb c\nab c\n", []int{258, 'a'}, []int{258, 'a'}},
		{"two merges make abc", "a b\nb c\nab c\na bc\n", []int{258, 'a'}, []int{258, 'a'}},
		// bc is joined first, and a+bc spells abc, which merge 2 made from ab+c.
		{"abc by another split", "b c\na b\nab c\n", []int{258, 'a'}, []int{258, 'a'}},
		{"abc made by no merge is special", "a b\nb c\n", []int{256, 'c', 'a'}, []int{258, 'a'}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tokenizer.FromHF(strings.NewReader(vocab), strings.NewReader(tt.merges))
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := b.Encode("abca"); !slices.Equal(got, tt.encode) {
				t.Errorf("Encode(abca) = %v, want %v", got, tt.encode)
			}
			if got, _ := b.EncodeSpecial("abca"); !slices.Equal(got, tt.special) {
				t.Errorf("EncodeSpecial(abca) = %v, want %v", got, tt.special)
			}
		})
	}
}

func TestFromHFBad(t *testing.T) {
	vocab := smallVocabJSON(t)
	for _, tt := range []struct {
		name, vocab, merges, want string
	}{
		{"vocab not json", "{", "", "vocab.json"},
		{"id out of range", `{"a":5}`, "", `"a" has id 5`},
		{"id twice", `{"a":0,"b":0}`, "", "id 0 is given twice"},
		{"outside alphabet", `{" ":0}`, "", "not in GPT-2's byte alphabet"},
		{"missing bytes", `{"a":0}`, "", "byte 0x00 is not in the vocabulary"},
		{"merge not in vocab", vocab, "a b\nq r\n", `line 2: "qr" is not in vocab.json`},
		{"merge of three", vocab, "a b c\n", "line 1: want two tokens"},
		{"merge of unknown", vocab, "a \u4e00\n", `line 1: "一" is not in vocab.json`},
		{"merge out of order", vocab, "ab c\na b\n", "later merge"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tokenizer.FromHF(strings.NewReader(tt.vocab), strings.NewReader(tt.merges))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// englishMB returns 1 MB of English: Moby-Dick if installed, else text
// generated from a fixed vocabulary.
func englishMB() string {
	const size = 1 << 20
	if b, err := os.ReadFile(mobyDickPath()); err == nil && len(b) >= size {
		return strings.ToValidUTF8(string(b[:size]), "")
	}
	words := strings.Fields(`the whale ship sea captain Ahab said I was it that of and
		to in a his he but with as for all on this at by from whose not be
		upon one there so what like now some into out more than its Ishmael`)
	rng := rand.New(rand.NewPCG(8, 9))
	var sb strings.Builder
	for sb.Len() < size {
		sb.WriteString(words[rng.IntN(len(words))])
		switch rng.IntN(12) {
		case 0:
			sb.WriteString(", ")
		case 1:
			sb.WriteString(".\n")
		default:
			sb.WriteString(" ")
		}
	}
	return sb.String()
}

func BenchmarkEncodeGPT2(b *testing.B) {
	tok := gpt2(b)
	text := englishMB()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := tok.Encode(text); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGPT2Load(b *testing.B) {
	for b.Loop() {
		gpt2(b)
	}
}
