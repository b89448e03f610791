package tokenizer

import (
	"context"
	"fmt"
	"maps"
	"slices"
)

// TrainBPE learns a byte-level BPE of vocabSize tokens from corpus: the 256
// bytes (id = byte value), then one token per merge (id 256+r for merge r).
// The corpus is split into pieces as Encode splits text, and merges never
// cross pieces. Each step merges the most frequent adjacent pair, ties going
// to the lowest pair (left id, then right id), so training is deterministic.
// A pair that spells a token already learned (as "a"+"bc" after "ab"+"c")
// is joined into that token and costs no merge. If the corpus runs out of
// pairs, training stops early and VocabSize is smaller than asked.
//
// It fails on vocabSize < 256, an empty corpus or invalid UTF-8, and stops
// with ctx's error when ctx ends (a large corpus takes minutes).
func TrainBPE(ctx context.Context, corpus string, vocabSize int) (*BPE, error) {
	if vocabSize < 256 {
		return nil, fmt.Errorf("tokenizer: TrainBPE: vocabSize %d is below the 256 single bytes", vocabSize)
	}
	if corpus == "" {
		return nil, fmt.Errorf("tokenizer: TrainBPE: empty corpus")
	}
	if err := checkUTF8(corpus); err != nil {
		return nil, fmt.Errorf("tokenizer: TrainBPE: corpus: %w", err)
	}
	tokens := make([][]byte, 256, vocabSize)
	ids := map[string]int32{}
	for c := range tokens {
		tokens[c] = []byte{byte(c)}
		ids[string(tokens[c])] = int32(c)
	}

	// The distinct pieces, with how often each occurs, and the pairs in them.
	freq := map[string]int{}
	n := 0
	for p := range pieces(corpus) {
		if n++; n%(1<<16) == 0 && ctx.Err() != nil {
			return nil, fmt.Errorf("tokenizer: TrainBPE: %w", ctx.Err())
		}
		freq[p]++
	}
	words := make([]word, 0, len(freq))
	for _, p := range slices.Sorted(maps.Keys(freq)) {
		w := word{ids: make([]int32, len(p)), count: freq[p]}
		for i := range len(p) {
			w.ids[i] = int32(p[i])
		}
		words = append(words, w)
	}
	pc := pairCounts{
		count: map[uint64]int{},
		where: map[uint64][]int32{},
	}
	for wi, w := range words {
		for i := 1; i < len(w.ids); i++ {
			k := pairKey(w.ids[i-1], w.ids[i])
			pc.count[k] += w.count
			if ws := pc.where[k]; len(ws) == 0 || ws[len(ws)-1] != int32(wi) {
				pc.where[k] = append(ws, int32(wi))
			}
		}
	}
	for k, n := range pc.count {
		pc.heap.push(pairCount{n, k})
	}

	var merges [][2]int
	seen := make([]int, len(words)) // the last step that visited each word, plus one
	for step := 1; len(tokens) < vocabSize; step++ {
		if step%64 == 0 && ctx.Err() != nil {
			return nil, fmt.Errorf("tokenizer: TrainBPE: %w", ctx.Err())
		}
		k, ok := pc.best()
		if !ok {
			break // every piece is one token
		}
		a, b := int32(k>>32), int32(uint32(k))
		made := string(tokens[a]) + string(tokens[b])
		t, ok := ids[made]
		if !ok {
			t = int32(len(tokens))
			tokens = append(tokens, []byte(made))
			ids[made] = t
			merges = append(merges, [2]int{int(a), int(b)})
		}
		delta := map[uint64]int{}
		for _, wi := range pc.where[k] {
			if seen[wi] == step {
				continue
			}
			seen[wi] = step
			w := &words[wi]
			joined := join(w.ids, a, b, t)
			if len(joined) == len(w.ids) {
				continue // the pair was merged away by an earlier step
			}
			for i := 1; i < len(w.ids); i++ {
				delta[pairKey(w.ids[i-1], w.ids[i])] -= w.count
			}
			for i := 1; i < len(joined); i++ {
				nk := pairKey(joined[i-1], joined[i])
				delta[nk] += w.count
				if joined[i-1] == t || joined[i] == t {
					pc.where[nk] = append(pc.where[nk], wi)
				}
			}
			w.ids = joined
		}
		pc.apply(delta)
		delete(pc.where, k)
	}
	bpe, err := newBPE(tokens, merges, nil)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: TrainBPE: %w", err) // a bug: training makes valid merges
	}
	return bpe, nil
}

// word is a distinct piece of the corpus as tokens, and how often it occurs.
type word struct {
	ids   []int32
	count int
}

// join returns ids with each pair (a, b), left to right, replaced by t.
func join(ids []int32, a, b, t int32) []int32 {
	out := make([]int32, 0, len(ids))
	for i := 0; i < len(ids); i++ {
		if i+1 < len(ids) && ids[i] == a && ids[i+1] == b {
			out = append(out, t)
			i++
			continue
		}
		out = append(out, ids[i])
	}
	return out
}

// pairCounts counts the adjacent pairs of tokens in the corpus, updated as
// merges join them.
type pairCounts struct {
	count map[uint64]int     // pairKey -> occurrences
	where map[uint64][]int32 // pairKey -> the words it may occur in (a superset)
	heap  heap[pairCount]    // every count as it was set; stale ones are skipped
}

// best returns the most frequent pair, the lowest on ties; false if none.
func (pc *pairCounts) best() (uint64, bool) {
	for pc.heap.len() > 0 {
		top := pc.heap.pop()
		if n := pc.count[top.key]; n == top.n && n > 0 {
			return top.key, true
		}
	}
	return 0, false
}

// apply adds delta to the counts.
func (pc *pairCounts) apply(delta map[uint64]int) {
	for k, d := range delta {
		if d == 0 {
			continue
		}
		n := pc.count[k] + d
		if n <= 0 {
			delete(pc.count, k)
			continue
		}
		pc.count[k] = n
		pc.heap.push(pairCount{n, k})
	}
}

type pairCount struct {
	n   int
	key uint64
}

// less puts the highest count first, then the lowest pair.
func (a pairCount) less(b pairCount) bool {
	if a.n != b.n {
		return a.n > b.n
	}
	return a.key < b.key
}
