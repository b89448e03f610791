package gpt

import (
	"context"
	"iter"

	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/sample"
	"github.com/moxing/moxing/tensor"
)

// Generate streams up to maxTokens tokens continuing prompt, each drawn by s
// from the model's next-token distribution, using a KV cache. It stops early
// when ctx is cancelled or the consumer stops ranging.
//
// A prompt longer than the context window is cropped to its last
// BlockSize-1 tokens (callers that want to warn compare len(prompt) with
// Config.BlockSize). When the window fills up during generation, the cache
// restarts from the last half of the window. The prompt must not be empty.
// Generate reads m but never changes it, so many may run at once, each with
// its own Sampler.
func (m *Model) Generate(ctx context.Context, prompt []int, maxTokens int, s *sample.Sampler) iter.Seq[int] {
	return func(yield func(int) bool) {
		if len(prompt) == 0 {
			panic("gpt: Generate with an empty prompt")
		}
		inf := nn.Detach(m)
		nn.Eval(inf)
		arena := tensor.NewArena() // each token reuses the previous token's buffers
		nn.UseArena(inf, arena)
		window := m.Config.BlockSize
		if len(prompt) > window-1 {
			prompt = prompt[len(prompt)-(window-1):]
		}
		history := append([]int(nil), prompt...)
		cache := inf.NewCache(1)
		logits := inf.Step([]Segment{{Tokens: prompt}}, cache).Data
		for range maxTokens {
			if ctx.Err() != nil {
				return
			}
			tok := s.Next(logits, history)
			if !yield(tok) {
				return
			}
			history = append(history, tok)
			arena.Reset() // logits are spent
			if cache.Lens[0] == window {
				cache.Free(0)
				restart := history[len(history)-window/2:]
				logits = inf.Step([]Segment{{Tokens: restart}}, cache).Data
				continue
			}
			logits = inf.Step([]Segment{{Tokens: []int{tok}}}, cache).Data
		}
	}
}
