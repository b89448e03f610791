package data_test

import (
	"bytes"
	"testing"

	"github.com/moxing/moxing/data"
)

// FuzzReadTokens checks that reading a token file returns an error, never
// panics, on any input, and that what it accepts writes back the same.
func FuzzReadTokens(f *testing.F) {
	var buf bytes.Buffer
	if err := data.WriteTokens(&buf, data.NewTokens([]int{0, 5, 2, 70000}, 70001), 70001); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("MXTK"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ids, err := data.ReadTokens(bytes.NewReader(b), "fuzz.tok")
		if err != nil {
			return
		}
		vocab := 1
		for _, id := range ids.Ints() {
			vocab = max(vocab, id+1)
		}
		var out bytes.Buffer
		if err := data.WriteTokens(&out, ids, vocab); err != nil {
			t.Fatalf("ids %v read from a token file do not write back: %v", ids, err)
		}
	})
}
