package gpt

import (
	"fmt"

	"github.com/moxing/moxing/quant"
	"github.com/moxing/moxing/tensor"
)

// Cache is the KV cache of up to Slots sequences decoded together, for
// Step: for every layer, the keys and values of the positions each slot
// has processed, so that each new position costs one position's work. The
// slots are independent: each holds its own number of positions (Lens),
// and a Step may feed any subset of them any number of new positions, so
// sequences join and leave a batch between steps (continuous batching). A
// cache belongs to one decoding loop; models are shared, caches are not.
type Cache struct {
	Layers []LayerCache // one per block
	Lens   []int        // positions held by each slot
}

// LayerCache is one attention layer's part of a Cache, and, during a Step,
// where that step's rows go.
type LayerCache struct {
	K, V *tensor.Tensor       // (Slots, H, BlockSize, D)
	Segs []tensor.AttnSegment // the step under way: each segment's slot, position and rows
}

// NewCache returns an empty cache of the given number of slots:
// 2·NLayer·slots·BlockSize·C floats.
func (m *Model) NewCache(slots int) *Cache {
	cfg := m.Config
	h, d := cfg.NHead, cfg.NEmbd/cfg.NHead
	c := &Cache{Layers: make([]LayerCache, cfg.NLayer), Lens: make([]int, slots)}
	for l := range c.Layers {
		c.Layers[l] = LayerCache{K: tensor.Zeros(slots, h, cfg.BlockSize, d), V: tensor.Zeros(slots, h, cfg.BlockSize, d)}
	}
	return c
}

// Slots returns the number of sequences the cache can hold.
func (c *Cache) Slots() int { return len(c.Lens) }

// Free empties slot, for a new sequence; its storage is kept.
func (c *Cache) Free(slot int) { c.Lens[slot] = 0 }

// layer returns layer l's cache, or nil for a nil cache.
func (c *Cache) layer(l int) *LayerCache {
	if c == nil {
		return nil
	}
	return &c.Layers[l]
}

// Segment is one sequence's share of a Step: Tokens, the ids that follow
// the positions its cache slot Slot holds.
type Segment struct {
	Slot   int
	Tokens []int
}

// Step runs m, which must be detached (nn.Detach) and in eval mode, on the
// new tokens of every segment at once, appends their keys and values to
// their slots of cache, and returns the logits of each segment's last token
// (len(segs), V). All segments' rows share one pass over the weights (the
// GEMMs take every row); attention runs per segment over its own slot. A
// row's result depends on its own sequence alone, not on what shares the
// step. It panics on an empty segment, a slot used twice or out of range,
// a slot that would pass the context window, and an id outside the
// vocabulary: the caller checks them.
func (m *Model) Step(segs []Segment, cache *Cache) *tensor.Tensor {
	var idx, pos, last []int
	attn := make([]tensor.AttnSegment, len(segs))
	for i, g := range segs {
		if g.Slot < 0 || g.Slot >= cache.Slots() || len(g.Tokens) == 0 || cache.Lens[g.Slot]+len(g.Tokens) > m.Config.BlockSize {
			panic(fmt.Sprintf("gpt: Step segment %d (slot %d, %d tokens) with a cache of %d slots; context window %d", i, g.Slot, len(g.Tokens), cache.Slots(), m.Config.BlockSize))
		}
		p0 := cache.Lens[g.Slot]
		attn[i] = tensor.AttnSegment{Slot: g.Slot, Pos: p0, Rows: len(g.Tokens)}
		idx = append(idx, g.Tokens...)
		for j := range g.Tokens {
			pos = append(pos, p0+j)
		}
		last = append(last, len(idx)-1)
	}
	for l := range cache.Layers {
		cache.Layers[l].Segs = attn
	}
	wte := m.embeddingMatrix() // with an unmerged adapter, (V, C) built per call: merge first to generate fast
	n, c := len(idx), m.Config.NEmbd
	x := wte.IndexSelect(0, idx).Add(m.Wpe.Forward(pos)).Reshape(1, n, c) // (1, N, C)
	h := m.blocks(x, cache).Reshape(n, c)
	for _, g := range attn {
		cache.Lens[g.Slot] += g.Rows
	}
	return h.IndexSelect(0, last).MatMulT(wte, false, true) // (S, C)·(V, C)ᵀ -> (S, V)
}

// PackWeights packs the weights of m's projections and LM head for the
// matrix products of batched decoding (tensor.Packed), which then skip
// packing them on every Step: about a third of a step of a few dozen
// sequences. It is for a detached copy used only for inference (as a
// server's): m's weights must not change afterwards. It costs a second copy
// of the weights; projections wrapped by unmerged adapters are left as
// they are.
func (m *Model) PackWeights() {
	pack := func(p Projection) {
		if c, ok := p.(*Conv1D); ok && !c.Weight.IsQ8() {
			c.Weight = c.Weight.Packed(false)
		}
	}
	for _, blk := range m.H {
		pack(blk.Attn.CAttn)
		pack(blk.Attn.CProj)
		pack(blk.MLP.CFc)
		pack(blk.MLP.CProj)
	}
	if m.WteLoRA == nil && !m.Wte.Weight.IsQ8() {
		m.Wte.Weight = m.Wte.Weight.Packed(true)
	}
}

// QuantizeWeights stores m's projections and LM head as t for inference:
// quant.Q8_0 (GGML's blocks, tensor.Q8: a quarter of the bytes), quant.F16
// or quant.BF16 (tensor.F16: half), which every product then reads
// instead of float32; F32 leaves m as it is. The results are those of the
// stored weights: the float32 token embedding, whose rows are looked up,
// is rounded to them (and, for F16 and BF16, the projections' float32
// copies too; a Q8_0 projection's copy is no longer read). Adapters are
// merged first. m's weights must not change afterwards.
func (m *Model) QuantizeWeights(t quant.Type) error {
	if err := m.Config.canStore(t); err != nil {
		return err
	}
	if !quantizable(t) {
		return nil
	}
	m.MergeLoRA()
	store := func(w *tensor.Tensor, trans bool) *tensor.Tensor {
		if w.IsQ8() {
			return w
		}
		if t == quant.Q8_0 {
			q := w.Q8(trans)
			if trans { // the token embedding (V, C): its rows are looked up in the float32 copy
				quant.Round(t, w.Data, w.Shape(), 1)
			}
			return q
		}
		quant.Round(t, w.Data, w.Shape(), 0)
		src := w
		if !trans {
			src = transposed(w)
		}
		to := quant.ToF16
		if t == quant.BF16 {
			to = quant.ToBF16
		}
		h := make([]uint16, len(src.Data))
		for i, v := range src.Data {
			h[i] = to(v)
		}
		return w.F16(trans, h, t == quant.BF16)
	}
	for _, blk := range m.H {
		for _, p := range []Projection{blk.Attn.CAttn, blk.Attn.CProj, blk.MLP.CFc, blk.MLP.CProj} {
			if c, ok := p.(*Conv1D); ok {
				c.Weight = store(c.Weight, false)
			}
		}
	}
	m.Wte.Weight = store(m.Wte.Weight, true)
	return nil
}
