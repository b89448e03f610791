package gpt

import (
	"context"
	"fmt"
	"iter"
	"math"

	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/sample"
	"github.com/moxing/moxing/tensor"
)

// Cache holds the keys and values of every position processed so far, per
// layer and head, so that each new token costs one position's work. It
// belongs to one generation; models are shared, caches are not.
type Cache struct {
	k, v [][]float32 // [layer·H + head] → (BlockSize, D), rows 0..n-1 filled
	n    int         // positions cached
}

func (m *Model) newCache() *Cache {
	cfg := m.Config
	c := &Cache{}
	size := cfg.BlockSize * (cfg.NEmbd / cfg.NHead)
	for range cfg.NLayer * cfg.NHead {
		c.k = append(c.k, make([]float32, size))
		c.v = append(c.v, make([]float32, size))
	}
	return c
}

// forwardCached runs m (whose parameters must need no gradient, see
// nn.Detach) on ids at the positions after those in c, appends their keys
// and values to c, and returns the logits of the last position (V).
func (m *Model) forwardCached(c *Cache, ids []int) []float32 {
	cfg := m.Config
	n, p0 := len(ids), c.n
	if n == 0 || p0+n > cfg.BlockSize {
		panic(fmt.Sprintf("gpt: %d new positions after %d exceed the context window %d", n, p0, cfg.BlockSize))
	}
	ch, h := cfg.NEmbd, cfg.NHead
	d := ch / h
	scale := float32(1 / math.Sqrt(float64(d)))
	pos := make([]int, n)
	for i := range pos {
		pos[i] = p0 + i
	}
	var mask *tensor.Tensor // new position i (at p0+i) may not see j > p0+i
	if n > 1 {
		mask = tensor.Zeros(n, p0+n)
		for i := 0; i < n; i++ {
			for j := p0 + i + 1; j < p0+n; j++ {
				mask.Data[i*(p0+n)+j] = 1
			}
		}
	}
	wte := m.embeddingMatrix()                           // with an unmerged adapter, (V, C) built per call: merge first to generate fast
	x := wte.IndexSelect(0, ids).Add(m.Wpe.Forward(pos)) // (n, C)
	for l, blk := range m.H {
		qkv := blk.Attn.CAttn.Forward(blk.Ln1.Forward(x)) // (n, 3C)
		ys := make([]*tensor.Tensor, h)
		for hd := 0; hd < h; hd++ {
			q := qkv.Slice(1, hd*d, (hd+1)*d) // (n, D)
			kc, vc := c.k[l*h+hd], c.v[l*h+hd]
			copy(kc[p0*d:], qkv.Slice(1, ch+hd*d, ch+(hd+1)*d).Data)
			copy(vc[p0*d:], qkv.Slice(1, 2*ch+hd*d, 2*ch+(hd+1)*d).Data)
			keys := tensor.New(kc[:(p0+n)*d], p0+n, d)           // (P, D)
			values := tensor.New(vc[:(p0+n)*d], p0+n, d)         // (P, D)
			att := q.MatMulT(keys, false, true).MulScalar(scale) // (n, P)
			if mask != nil {
				att = att.MaskedFill(mask, float32(math.Inf(-1)))
			}
			ys[hd] = att.Softmax(-1).MatMul(values) // (n, D)
		}
		x = x.Add(blk.Attn.CProj.Forward(tensor.Concat(1, ys...))) // heads side by side: (n, C)
		x = x.Add(blk.MLP.Forward(blk.Ln2.Forward(x)))
	}
	c.n += n
	last := m.LnF.Forward(x.Slice(0, n-1, n)) // (1, C)
	return last.MatMulT(wte, false, true).Data
}

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
		cache := inf.newCache()
		logits := inf.forwardCached(cache, prompt)
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
			if cache.n == window {
				cache = inf.newCache()
				logits = inf.forwardCached(cache, history[len(history)-window/2:])
				continue
			}
			logits = inf.forwardCached(cache, []int{tok})
		}
	}
}
