package data_test

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/moxing/moxing/data"
)

func TestTokenFiles(t *testing.T) {
	for _, vocab := range []int{50, 65536, 70000} {
		ids := []int{0, 1, vocab - 1, 7, 3}
		var buf bytes.Buffer
		if err := data.WriteTokens(&buf, data.NewTokens(ids, vocab), vocab); err != nil {
			t.Fatal(err)
		}
		width := 2
		if vocab > 65536 {
			width = 4
		}
		if buf.Len() != 20+width*len(ids) {
			t.Fatalf("vocab %d: %d bytes", vocab, buf.Len())
		}
		raw := buf.Bytes()
		got, err := data.ReadTokens(bytes.NewReader(raw), "t.tok")
		if err != nil || !slices.Equal(got.Ints(), ids) || got.Len() != len(ids) {
			t.Fatalf("vocab %d: %v %v", vocab, got, err)
		}
		for cut := 0; cut < len(raw); cut++ {
			if _, err := data.ReadTokens(bytes.NewReader(raw[:cut]), "t.tok"); err == nil {
				t.Fatalf("truncated at %d accepted", cut)
			}
		}
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"bad id", data.WriteTokens(&bytes.Buffer{}, data.NewTokens([]int{5}, 6), 5), "token 5 at position 0"},
		{"huge vocab", data.WriteTokens(&bytes.Buffer{}, data.Tokens{}, 1<<33), "does not fit"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, tc.err)
		}
	}
	if _, err := data.ReadTokens(strings.NewReader("a,b,c\n1,2,3\n4,5,6\n"), "x.csv"); err == nil || !strings.Contains(err.Error(), "not a token file") {
		t.Fatalf("CSV read as tokens: %v", err)
	}
}

func TestWindows(t *testing.T) {
	tokens := make([]int, 100)
	for i := range tokens {
		tokens[i] = i
	}
	x, y := data.Windows(data.NewTokens(tokens, 100), 4, 10, rand.New(rand.NewPCG(1, 1)))
	if len(x) != 40 || len(y) != 40 {
		t.Fatalf("lengths %d %d", len(x), len(y))
	}
	for i := range x {
		if y[i] != x[i]+1 {
			t.Fatalf("target %d is not the next token after %d", y[i], x[i])
		}
		if i%10 > 0 && x[i] != x[i-1]+1 {
			t.Fatal("window not contiguous")
		}
	}
}

// A token file is held in memory as compactly as on disk: a million tokens
// of a 50,000-id vocabulary (2 bytes each) cost about 2 MB to read, not the
// 8 MB of []int.
func TestReadTokensMemory(t *testing.T) {
	ids := make([]int, 1<<20)
	for i := range ids {
		ids[i] = i % 50000
	}
	var buf bytes.Buffer
	if err := data.WriteTokens(&buf, data.NewTokens(ids, 50000), 50000); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	r := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := data.ReadTokens(bytes.NewReader(raw), "t.tok"); err != nil {
				b.Fatal(err)
			}
		}
	})
	if perOp := r.AllocedBytesPerOp(); perOp > int64(len(raw))*11/10+128<<10 {
		t.Fatalf("reading %d bytes of tokens allocated %d bytes", len(raw), perOp)
	}
}
