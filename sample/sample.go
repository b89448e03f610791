// Package sample turns a model's logits into the next token: greedy
// decoding, temperature, top-k, top-p (nucleus) and a repetition penalty,
// drawing from an explicit *rand.Rand.
package sample

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
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
	s.logit = s.logit[:0]
	for _, v := range logits {
		s.logit = append(s.logit, float64(v))
	}
	l := s.logit
	if p := float64(c.RepetitionPenalty); p != 0 && p != 1 {
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
	// Most likely first; ties by id, so the order is deterministic.
	s.order = s.order[:0]
	for i := range l {
		s.order = append(s.order, i)
	}
	slices.SortFunc(s.order, func(a, b int) int {
		switch {
		case l[a] > l[b]:
			return -1
		case l[a] < l[b]:
			return 1
		}
		return a - b
	})
	keep := len(l)
	if c.TopK > 0 && c.TopK < keep {
		keep = c.TopK
	}
	// Softmax over the kept tokens at the temperature.
	t := float64(c.Temperature)
	top := l[s.order[0]]
	probs := make([]float64, keep)
	var z float64
	for i := 0; i < keep; i++ {
		probs[i] = math.Exp((l[s.order[i]] - top) / t)
		z += probs[i]
	}
	for i := range probs {
		probs[i] /= z
	}
	if p := float64(c.TopP); p > 0 && p < 1 {
		var cum float64
		for i, q := range probs {
			cum += q
			if cum >= p {
				probs = probs[:i+1]
				break
			}
		}
		z = 0
		for _, q := range probs {
			z += q
		}
		for i := range probs {
			probs[i] /= z
		}
	}
	r := s.rng.Float64()
	for i, q := range probs {
		if r < q {
			return s.order[i]
		}
		r -= q
	}
	return s.order[len(probs)-1]
}
