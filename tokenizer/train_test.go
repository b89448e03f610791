package tokenizer_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moxing/moxing/tokenizer"
)

func TestTrainBPESmall(t *testing.T) {
	corpus := strings.Repeat("the cat sat on the mat. ", 50)
	b, err := tokenizer.TrainBPE(context.Background(), corpus, 300)
	if err != nil {
		t.Fatal(err)
	}
	// The single bytes keep their values as ids.
	for _, c := range []byte{0, 'a', 255} {
		if got := b.TokenBytes(int(c)); !bytes.Equal(got, []byte{c}) {
			t.Errorf("TokenBytes(%d) = %q", c, got)
		}
	}
	// The most frequent pair is learned first: "at" (in cat, sat, mat).
	if got := string(b.TokenBytes(256)); got != "at" {
		t.Errorf("first merge makes %q, want \"at\"", got)
	}
	for _, word := range []string{" the", " cat", " sat", " mat"} {
		ids, err := b.Encode(word)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 1 {
			t.Errorf("Encode(%q) = %v, want one token", word, ids)
		}
	}
}

func TestTrainBPETies(t *testing.T) {
	// Pairs "ab", " c" and "cd" occur once each: the lowest pair, (' ', 'c'), wins.
	b, err := tokenizer.TrainBPE(context.Background(), "ab cd", 257)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b.TokenBytes(256)); got != " c" {
		t.Errorf("first merge makes %q, want \" c\"", got)
	}
}

func TestTrainBPEStopsEarly(t *testing.T) {
	b, err := tokenizer.TrainBPE(context.Background(), "ab ab", 1000)
	if err != nil {
		t.Fatal(err)
	}
	// "ab" and " ab" are the only pieces: merges "ab", then " ab" (from " "+"ab").
	if b.VocabSize() != 258 {
		t.Errorf("VocabSize = %d, want 258", b.VocabSize())
	}
}

func TestTrainBPEErrors(t *testing.T) {
	for _, tt := range []struct {
		name, corpus string
		vocab        int
		want         string
	}{
		{"vocab too small", "abc", 255, "vocabSize 255 is below the 256"},
		{"negative vocab", "abc", -1, "vocabSize -1"},
		{"empty corpus", "", 300, "empty corpus"},
		{"invalid utf8", "ab\xfe", 300, "byte 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tokenizer.TrainBPE(context.Background(), tt.corpus, tt.vocab)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestTrainBPEMobyDick trains on the first 1 MB of Moby-Dick and encodes the
// rest, which it has not seen.
func TestTrainBPEMobyDick(t *testing.T) {
	text := mobyDick(t)
	train, held := text[:1<<20], text[1<<20:]
	for !strings.HasPrefix(held, " ") { // cut between words, so both are valid UTF-8
		train, held = train+held[:1], held[1:]
	}
	start := time.Now()
	b, err := tokenizer.TrainBPE(context.Background(), train, 1024)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if b.VocabSize() != 1024 {
		t.Errorf("VocabSize = %d, want 1024", b.VocabSize())
	}
	ids, err := b.Encode(held)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("trained on %d bytes in %v; held-out %d bytes -> %d tokens (%.2f bytes per token)",
		len(train), elapsed, len(held), len(ids), float64(len(held))/float64(len(ids)))
	// Merges learned on English must compress unseen English well.
	if float64(len(ids)) > 0.4*float64(len(held)) {
		t.Errorf("%d tokens for %d bytes: want at most 0.4 tokens per byte", len(ids), len(held))
	}
	if elapsed > 30*time.Second {
		t.Errorf("training took %v, want seconds", elapsed)
	}
}

func TestTrainBPEDeterministic(t *testing.T) {
	corpus := strings.Repeat("abab cdcd abcd dcba 天地天地 ", 30) + "aaaa bbbb"
	var first []byte
	for i := range 3 {
		b, err := tokenizer.TrainBPE(context.Background(), corpus, 300)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := tokenizer.Save(&buf, b); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = buf.Bytes()
		} else if !slices.Equal(buf.Bytes(), first) {
			t.Fatal("two trainings on the same corpus differ")
		}
	}
}

// A cancelled context stops training (Ctrl-C during moxing prepare).
func TestTrainBPECancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	corpus := strings.Repeat("every word of this corpus is a piece to count ", 1<<13)
	if _, err := tokenizer.TrainBPE(ctx, corpus, 2000); !errors.Is(err, context.Canceled) {
		t.Fatalf("TrainBPE with a cancelled context: %v", err)
	}
}
