package serve

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/sample"
)

func tinyGPT(t testing.TB) *gpt.Model {
	t.Helper()
	m, err := gpt.New(gpt.Config{VocabSize: 61, BlockSize: 48, NEmbd: 32, NLayer: 2, NHead: 4}, rand.New(rand.NewPCG(8, 9)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func tokensOf(s *Sequence) []int {
	var ids []int
	for tok := range s.Out {
		ids = append(ids, tok.ID)
	}
	return ids
}

// Sequences of different prompt lengths and budgets, decoded together with
// fewer slots than sequences (so some wait and join late) and a small
// prefill chunk (so prompts are fed over several steps), each get exactly
// the tokens they get alone from gpt.Model.Generate, greedy or sampled
// with their own seed.
func TestBatcherMatchesAlone(t *testing.T) {
	m := tinyGPT(t)
	b := NewBatcher(m, BatchOptions{Slots: 3, PrefillChunk: 5, MaxQueue: 16})
	defer b.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	var seqs []*Sequence
	var want [][]int
	for i := range 7 {
		prompt := make([]int, 1+rng.IntN(20))
		for j := range prompt {
			prompt[j] = rng.IntN(61)
		}
		cfg := sample.Config{}
		if i%2 == 1 {
			cfg = sample.Config{Temperature: 0.9, TopK: 20}
		}
		n := 3 + rng.IntN(20)
		alone := sample.New(cfg, rand.New(rand.NewPCG(uint64(i), 0)))
		want = append(want, slices.Collect(m.Generate(context.Background(), prompt, n, alone)))
		seqs = append(seqs, &Sequence{Prompt: prompt, MaxTokens: n, Sampler: sample.New(cfg, rand.New(rand.NewPCG(uint64(i), 0))),
			Logprobs: -1, Ctx: context.Background()})
	}
	if err := b.Submit(seqs...); err != nil {
		t.Fatal(err)
	}
	for i, s := range seqs {
		if got := tokensOf(s); !slices.Equal(got, want[i]) || s.Reason != "length" {
			t.Errorf("sequence %d (%d prompt tokens): batched %v (%s), alone %v", i, len(s.Prompt), got, s.Reason, want[i])
		}
	}
}

// A cancelled sequence ends with Reason "cancelled" and frees its slot for
// the next; a full queue says ErrBusy; a closed Batcher ends what it holds.
func TestBatcherCancelBusyClose(t *testing.T) {
	// Big enough that the long sequence is still decoding when cancelled.
	m, err := gpt.New(gpt.Config{VocabSize: 61, BlockSize: 512, NEmbd: 128, NLayer: 4, NHead: 4}, rand.New(rand.NewPCG(8, 9)))
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatcher(m, BatchOptions{Slots: 1, PrefillChunk: 8, MaxQueue: 1})
	greedy := func(ctx context.Context, n int) *Sequence {
		return &Sequence{Prompt: []int{1, 2, 3}, MaxTokens: n, Sampler: sample.New(sample.Config{}, nil), Logprobs: 2, Ctx: ctx}
	}
	ctx, cancel := context.WithCancel(context.Background())
	long := greedy(ctx, 500)
	if err := b.Submit(long); err != nil {
		t.Fatal(err)
	}
	first := <-long.Out
	if first.Logprob > 0 || len(first.Top) != 2 || first.Top[0].Logprob < first.Top[1].Logprob || first.Top[0].ID != first.ID {
		t.Errorf("greedy token %+v: its logprob and the top 2, best first, with it at the top", first)
	}
	next := greedy(context.Background(), 2)
	if err := b.Submit(next); err != nil {
		t.Fatal(err)
	}
	if err := b.Submit(greedy(context.Background(), 2)); !errors.Is(err, ErrBusy) {
		t.Fatalf("a second waiting sequence with MaxQueue 1: %v", err)
	}
	cancel()
	for range long.Out {
	}
	if long.Reason != "cancelled" {
		t.Fatalf("cancelled sequence ended with %q", long.Reason)
	}
	select {
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting sequence did not get the freed slot")
	case <-next.Out:
	}
	if err := b.Submit(greedy(context.Background(), 510)); err == nil {
		t.Fatal("a prompt and budget beyond the window were accepted")
	}
	held := greedy(context.Background(), 500)
	b.Submit(held)
	b.Close()
	for range held.Out {
	}
	if held.Reason != "cancelled" && held.Reason != "length" {
		t.Fatalf("after Close: %q", held.Reason)
	}
	if err := b.Submit(greedy(context.Background(), 2)); !errors.Is(err, errStopped) {
		t.Fatalf("Submit after Close: %v", err)
	}
}
