package sample

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func counts(s *Sampler, logits []float32, history []int, n int) []float64 {
	c := make([]float64, len(logits))
	for range n {
		c[s.Next(logits, history)]++
	}
	for i := range c {
		c[i] /= float64(n)
	}
	return c
}

func TestGreedy(t *testing.T) {
	s := New(Config{}, nil)
	if got := s.Next([]float32{0.1, 3, -1, 2.9}, nil); got != 1 {
		t.Fatalf("greedy picked %d", got)
	}
	// The penalty turns the winner into a loser: 3/2 = 1.5 < 2.9.
	s = New(Config{RepetitionPenalty: 2}, nil)
	if got := s.Next([]float32{0.1, 3, -1, 2.9}, []int{1, 1}); got != 3 {
		t.Fatalf("greedy with repetition penalty picked %d", got)
	}
}

// Sampling at temperature 1 follows the softmax; top-k and top-p cut the
// tail exactly where they should.
func TestDistributions(t *testing.T) {
	logits := []float32{float32(math.Log(0.5)), float32(math.Log(0.3)), float32(math.Log(0.15)), float32(math.Log(0.05))}
	const n = 200000
	for _, tc := range []struct {
		cfg  Config
		want []float64
	}{
		{Config{Temperature: 1}, []float64{0.5, 0.3, 0.15, 0.05}},
		{Config{Temperature: 1, TopK: 2}, []float64{0.625, 0.375, 0, 0}},
		{Config{Temperature: 1, TopP: 0.75}, []float64{0.625, 0.375, 0, 0}},
		{Config{Temperature: 1, TopP: 0.81}, []float64{0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0}},
		{Config{Temperature: 0.5}, []float64{0.25 / 0.365, 0.09 / 0.365, 0.0225 / 0.365, 0.0025 / 0.365}}, // p² renormalised
		{Config{Temperature: 1, RepetitionPenalty: 2}, nil},
	} {
		s := New(tc.cfg, rand.New(rand.NewPCG(1, 2)))
		var history []int
		want := tc.want
		if tc.cfg.RepetitionPenalty == 2 {
			// Logits are all negative: the penalised token 0 gets 2·ln 0.5.
			history = []int{0}
			w := []float64{0.25, 0.3, 0.15, 0.05}
			z := 0.75
			want = []float64{w[0] / z, w[1] / z, w[2] / z, w[3] / z}
		}
		got := counts(s, logits, history, n)
		for i := range want {
			if math.Abs(got[i]-want[i]) > 0.006 {
				t.Fatalf("%+v: frequencies %v, want %v", tc.cfg, got, want)
			}
		}
	}
}

func TestReproducibleAndValidate(t *testing.T) {
	logits := []float32{1, 2, 3, 2, 1}
	a, b := New(Config{Temperature: 1}, rand.New(rand.NewPCG(5, 5))), New(Config{Temperature: 1}, rand.New(rand.NewPCG(5, 5)))
	for range 100 {
		if a.Next(logits, nil) != b.Next(logits, nil) {
			t.Fatal("same seed, different tokens")
		}
	}
	for _, bad := range []Config{{Temperature: -1}, {TopK: -1}, {TopP: 1.5}, {RepetitionPenalty: -2}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// selectFirst puts the k best first, as a full sort would, for every k.
func TestSelectFirst(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 5))
	for trial := range 200 {
		n := 1 + rng.IntN(60)
		vals := make([]int, n)
		for i := range vals {
			vals[i] = rng.IntN(8) // many ties, broken by id
		}
		cmp := func(a, b int) int {
			if vals[a] != vals[b] {
				return vals[b] - vals[a]
			}
			return a - b
		}
		k := 1 + rng.IntN(n)
		ids := make([]int, n)
		for i := range ids {
			ids[i] = i
		}
		rng.Shuffle(n, func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		selectFirst(ids, k, cmp)
		got := slices.SortedFunc(slices.Values(ids[:k]), cmp)
		want := slices.SortedFunc(slices.Values(ids), cmp)[:k]
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d, k %d of %d: %v, want %v", trial, k, n, got, want)
		}
	}
}
