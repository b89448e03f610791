package gpt

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/sample"
)

func tinyModel(t *testing.T) *Model {
	t.Helper()
	m, err := New(Config{VocabSize: 37, BlockSize: 16, NEmbd: 24, NLayer: 2, NHead: 3}, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Decoding with the KV cache, a prompt then one token at a time, gives the
// logits that a full forward pass gives at every position.
func TestCacheMatchesFullForward(t *testing.T) {
	m := tinyModel(t)
	rng := rand.New(rand.NewPCG(5, 6))
	seq := make([]int, 16)
	for i := range seq {
		seq[i] = rng.IntN(37)
	}
	full, _ := nn.Detach(m).Forward(seq, 1, len(seq), nil) // (1, T, V)
	inf := nn.Detach(m)
	c := inf.newCache()
	check := func(pos int, got []float32) {
		t.Helper()
		want := full.Data[pos*37 : (pos+1)*37]
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-4 {
				t.Fatalf("position %d logit %d: cached %v, full %v", pos, i, got[i], want[i])
			}
		}
	}
	check(4, inf.forwardCached(c, seq[:5]))
	for p := 5; p < len(seq); p++ {
		check(p, inf.forwardCached(c, seq[p:p+1]))
	}
}

func TestGenerate(t *testing.T) {
	m := tinyModel(t)
	run := func(seed uint64, n int) []int {
		s := sample.New(sample.Config{Temperature: 1, TopK: 10}, rand.New(rand.NewPCG(seed, 0)))
		return slices.Collect(m.Generate(context.Background(), []int{1, 2, 3}, n, s))
	}
	a, b := run(7, 40), run(7, 40) // 40 > the 16-token window: exercises the restart
	if len(a) != 40 || !slices.Equal(a, b) {
		t.Fatalf("not reproducible: %v vs %v", a, b)
	}
	for _, tok := range a {
		if tok < 0 || tok >= 37 {
			t.Fatalf("token %d outside the vocabulary", tok)
		}
	}
	// Greedy decoding picks the argmax of the full forward pass.
	g := slices.Collect(m.Generate(context.Background(), []int{4, 5}, 1, sample.New(sample.Config{}, nil)))
	logits, _ := nn.Detach(m).Forward([]int{4, 5}, 1, 2, nil)
	last := logits.Data[37:]
	if want := slices.Index(last, slices.Max(last)); g[0] != want {
		t.Fatalf("greedy token %d, argmax %d", g[0], want)
	}
	// Cancellation stops the stream.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	for range m.Generate(ctx, []int{1}, 100, sample.New(sample.Config{}, nil)) {
		if n++; n == 3 {
			cancel()
		}
	}
	if n != 3 {
		t.Fatalf("%d tokens after cancelling at 3", n)
	}
	// A prompt longer than the window is cropped, not an error.
	long := make([]int, 40)
	if got := slices.Collect(m.Generate(context.Background(), long, 2, sample.New(sample.Config{}, nil))); len(got) != 2 {
		t.Fatalf("long prompt gave %d tokens", len(got))
	}
}
