package gpt

import (
	"context"
	"fmt"
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
// logits that a full forward pass gives at every position, for one sequence
// and for two decoded together.
func TestCacheMatchesFullForward(t *testing.T) {
	const v, tt, prompt = 37, 16, 5
	inf := nn.Detach(tinyModel(t))
	rng := rand.New(rand.NewPCG(5, 6))
	for _, b := range []int{1, 2} {
		t.Run(fmt.Sprintf("B=%d", b), func(t *testing.T) {
			seq := make([]int, b*tt) // (B, T)
			for i := range seq {
				seq[i] = rng.IntN(v)
			}
			full, _ := inf.Forward(seq, b, tt, nil) // (B, T, V)
			columns := func(lo, hi int) []int {     // (B, hi-lo)
				var ids []int
				for i := range b {
					ids = append(ids, seq[i*tt+lo:i*tt+hi]...)
				}
				return ids
			}
			cache := inf.NewCache(b)
			for lo, hi := 0, prompt; hi <= tt; lo, hi = hi, hi+1 {
				got := inf.nextLogits(columns(lo, hi), b, hi-lo, cache) // (B, V)
				for i := range b {
					want := full.Data[(i*tt+hi-1)*v : (i*tt+hi)*v]
					if d, _ := maxAbsDiff(got.Data[i*v:(i+1)*v], want); d > 1e-5 {
						t.Fatalf("sequence %d, position %d: cached logits differ from the full forward by %g", i, hi-1, d)
					}
				}
			}
			if cache.Len() != tt {
				t.Fatalf("cache holds %d positions after %d", cache.Len(), tt)
			}
		})
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
