// Package sample turns a model's logits into the next token: greedy
// decoding, temperature, top-k, top-p (nucleus) and a repetition penalty,
// drawing from an explicit *rand.Rand.
package sample

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/moxing/moxing/internal/kernel"
)

// Config says how to pick tokens. The zero value is greedy decoding.
type Config struct {
	// Temperature divides the logits before the softmax: below 1 sharpens,
	// above 1 flattens. 0 means greedy: always the most likely token.
	Temperature float32
	// TopK keeps only the K most likely tokens (0: all).
	TopK int
	// TopP keeps the smallest set of most likely tokens whose probabilities
	// sum to at least P (0 or 1: all).
	TopP float32
	// RepetitionPenalty > 1 makes tokens already in the history less likely,
	// as Hugging Face does: a positive logit is divided by it, a negative one
	// multiplied (0 or 1: off).
	RepetitionPenalty float32
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	switch {
	case c.Temperature < 0 || math.IsNaN(float64(c.Temperature)):
		return fmt.Errorf("sample: temperature %v, want ≥ 0", c.Temperature)
	case c.TopK < 0:
		return fmt.Errorf("sample: top-k %d, want ≥ 0", c.TopK)
	case c.TopP < 0 || c.TopP > 1:
		return fmt.Errorf("sample: top-p %v, want within [0, 1]", c.TopP)
	case c.RepetitionPenalty < 0:
		return fmt.Errorf("sample: repetition penalty %v, want ≥ 0", c.RepetitionPenalty)
	}
	return nil
}

// Sampler picks tokens by a Config. It is not safe for concurrent use: give
// each generation its own.
type Sampler struct {
	cfg   Config
	rng   *rand.Rand
	logit []float64
	order []int
	probs []float64
	w32   []float32 // drawSoftmax's weights
	sums  []float64 // and their sums by block
}

// New returns a Sampler drawing from rng (which may be nil for greedy
// decoding). The Config must be valid.
func New(cfg Config, rng *rand.Rand) *Sampler {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if rng == nil && cfg.Temperature != 0 {
		panic("sample: a nil rng with temperature > 0")
	}
	return &Sampler{cfg: cfg, rng: rng}
}

// Next returns the next token given the logits of the last position (one
// per vocabulary entry) and the tokens so far (for the repetition penalty).
// It applies, in order: repetition penalty, temperature, top-k, top-p, then
// draws (or takes the maximum when greedy).
func (s *Sampler) Next(logits []float32, history []int) int {
	c := s.cfg
	penalty := c.RepetitionPenalty != 0 && c.RepetitionPenalty != 1
	truncate := c.TopK > 0 && c.TopK < len(logits) || c.TopP > 0 && c.TopP < 1
	if c.Temperature != 0 && !penalty && !truncate {
		// The whole softmax, drawn in id order, in one pass over the
		// logits: O(V), no sort, no copy (what most requests ask for).
		top := logits[0]
		for _, v := range logits { // not slices.Max: its NaN checks cost a tenth of a draw
			top = max(top, v)
		}
		return s.drawSoftmax(logits, top, 1/c.Temperature)
	}
	if cap(s.logit) < len(logits) {
		s.logit = make([]float64, 0, len(logits)) // once, not by appends
	}
	s.logit = s.logit[:0]
	for _, v := range logits {
		s.logit = append(s.logit, float64(v))
	}
	l := s.logit
	if p := float64(c.RepetitionPenalty); penalty {
		seen := map[int]bool{}
		for _, id := range history {
			if id < 0 || id >= len(l) || seen[id] {
				continue
			}
			seen[id] = true
			if l[id] > 0 {
				l[id] /= p
			} else {
				l[id] *= p
			}
		}
	}
	if c.Temperature == 0 {
		best := 0
		for i, v := range l {
			if v > l[best] {
				best = i
			}
		}
		return best
	}
	t := float64(c.Temperature)
	if !truncate {
		top := slices.Max(l)
		var z float64
		for i, v := range l {
			l[i] = math.Exp((v - top) / t)
			z += l[i]
		}
		return s.draw(l, nil, z)
	}
	// Most likely first; ties by id, so the order is deterministic. Top-k
	// selects its k before sorting them.
	s.order = s.order[:0]
	for i := range l {
		s.order = append(s.order, i)
	}
	before := func(a, b int) int {
		switch {
		case l[a] > l[b]:
			return -1
		case l[a] < l[b]:
			return 1
		}
		return a - b
	}
	keep := len(l)
	if c.TopK > 0 && c.TopK < keep {
		keep = c.TopK
		selectFirst(s.order, keep, before)
	}
	s.order = s.order[:keep]
	slices.SortFunc(s.order, before)
	// Softmax over the kept tokens at the temperature.
	top := l[s.order[0]]
	probs := s.probs[:0]
	var z float64
	for _, id := range s.order {
		probs = append(probs, math.Exp((l[id]-top)/t))
		z += probs[len(probs)-1]
	}
	s.probs = probs
	if p := c.TopP; p > 0 && p < 1 {
		var cum float64
		for i, q := range probs {
			if cum += q / z; cum >= float64(p) {
				probs = probs[:i+1]
				break
			}
		}
		z = 0
		for _, q := range probs {
			z += q
		}
	}
	return s.draw(probs, s.order, z)
}

// drawBlock is how many weights drawSoftmax sums together, so that a draw
// walks the block sums and then one block, not the whole vocabulary.
const drawBlock = 256

// drawSoftmax draws an index with probability ∝ exp((logits[i]-top)·inv):
// weights in float32, summed by block in float64.
func (s *Sampler) drawSoftmax(logits []float32, top, inv float32) int {
	n := len(logits)
	if cap(s.w32) < n {
		s.w32, s.sums = make([]float32, n), make([]float64, 0, (n+drawBlock-1)/drawBlock)
	}
	w, sums := s.w32[:n], s.sums[:0]
	copy(w, logits)
	kernel.Scale(inv, w)
	z := kernel.ExpSum(w, w, top*inv)
	for b := 0; b < n; b += drawBlock {
		var sum float32
		for _, v := range w[b:min(b+drawBlock, n)] {
			sum += v
		}
		sums = append(sums, float64(sum))
	}
	s.sums = sums
	r := s.rng.Float64() * z
	b := 0
	for ; b < len(sums)-1 && r >= sums[b]; b++ {
		r -= sums[b]
	}
	i := b * drawBlock
	for end := min(i+drawBlock, n) - 1; i < end; i++ {
		if r < float64(w[i]) {
			break
		}
		r -= float64(w[i])
	}
	return i
}

// draw picks index i of weights (summing to z) with probability
// weights[i]/z, and returns ids[i] (i itself when ids is nil).
func (s *Sampler) draw(weights []float64, ids []int, z float64) int {
	r := s.rng.Float64() * z
	i := 0
	for ; i < len(weights)-1; i++ {
		if r < weights[i] {
			break
		}
		r -= weights[i]
	}
	if ids == nil {
		return i
	}
	return ids[i]
}

// selectFirst reorders ids so that its first k are the k that sort first
// by cmp (in no particular order): quickselect, O(len(ids)) on average.
func selectFirst(ids []int, k int, cmp func(a, b int) int) {
	lo, hi := 0, len(ids)
	for hi-lo > 1 {
		// Median of three as the pivot, moved to the end.
		mid := lo + (hi-lo)/2
		if cmp(ids[mid], ids[lo]) < 0 {
			ids[mid], ids[lo] = ids[lo], ids[mid]
		}
		if cmp(ids[hi-1], ids[lo]) < 0 {
			ids[hi-1], ids[lo] = ids[lo], ids[hi-1]
		}
		if cmp(ids[mid], ids[hi-1]) < 0 {
			ids[mid], ids[hi-1] = ids[hi-1], ids[mid]
		}
		pivot := ids[hi-1]
		store := lo
		for i := lo; i < hi-1; i++ {
			if cmp(ids[i], pivot) < 0 {
				ids[i], ids[store] = ids[store], ids[i]
				store++
			}
		}
		ids[store], ids[hi-1] = ids[hi-1], ids[store]
		switch {
		case store == k-1 || store == k:
			return
		case store < k:
			lo = store + 1
		default:
			hi = store
		}
	}
}
