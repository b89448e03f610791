package gpt

import (
	"context"
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

// Decoding with the KV cache gives the logits that a full forward pass
// gives at every position: for one sequence fed a prompt then one token at
// a time, and for three sequences sharing steps raggedly: different
// lengths, joining late, fed one to four tokens a step, in slots out of
// order, one of them reusing the slot another freed.
func TestStepMatchesFullForward(t *testing.T) {
	const v, tt = 37, 16
	inf := nn.Detach(tinyModel(t))
	rng := rand.New(rand.NewPCG(5, 6))
	seqs := make([][]int, 4)
	full := make([][]float32, 4) // (T, V) each
	for i := range seqs {
		seqs[i] = make([]int, 8+rng.IntN(tt-7))
		for j := range seqs[i] {
			seqs[i][j] = rng.IntN(v)
		}
		logits, _ := inf.Forward(seqs[i], 1, len(seqs[i]), nil)
		full[i] = logits.Data
	}
	t.Run("one", func(t *testing.T) {
		cache := inf.NewCache(1)
		for lo, hi := 0, 5; hi <= len(seqs[0]); lo, hi = hi, hi+1 {
			got := inf.Step([]Segment{{Tokens: seqs[0][lo:hi]}}, cache)
			if d, _ := maxAbsDiff(got.Data, full[0][(hi-1)*v:hi*v]); d > 1e-5 {
				t.Fatalf("position %d: cached logits differ from the full forward by %g", hi-1, d)
			}
		}
		if cache.Lens[0] != len(seqs[0]) {
			t.Fatalf("cache holds %d positions after %d", cache.Lens[0], len(seqs[0]))
		}
	})
	t.Run("ragged", func(t *testing.T) {
		cache := inf.NewCache(3)
		slot := []int{2, 0, 1, -1} // sequence 3 waits for a free slot
		done := make([]int, 4)
		for step := 0; slices.ContainsFunc([]int{0, 1, 2, 3}, func(i int) bool { return done[i] < len(seqs[i]) }); step++ {
			var segs []Segment
			var who []int
			for i := range seqs {
				if slot[i] < 0 || done[i] == len(seqs[i]) || (i == 1 && step < 2) { // sequence 1 joins at step 2
					continue
				}
				n := min(1+(step+i)%4, len(seqs[i])-done[i])
				segs = append(segs, Segment{Slot: slot[i], Tokens: seqs[i][done[i] : done[i]+n]})
				who = append(who, i)
			}
			got := inf.Step(segs, cache)
			for k, i := range who {
				done[i] += len(segs[k].Tokens)
				want := full[i][(done[i]-1)*v : done[i]*v]
				if d, _ := maxAbsDiff(got.Data[k*v:(k+1)*v], want); d > 1e-5 {
					t.Fatalf("step %d, sequence %d, position %d: logits differ from the full forward by %g", step, i, done[i]-1, d)
				}
				if done[i] == len(seqs[i]) && slot[3] < 0 && i != 3 {
					cache.Free(slot[i])
					slot[3], slot[i] = slot[i], -1
				}
			}
		}
	})
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
