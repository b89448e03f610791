package gpt

import "github.com/moxing/moxing/tensor"

// Cache is the KV cache of B sequences decoded together: for every layer,
// the keys and values of the positions processed so far, so that each new
// position costs one position's work (see Attention.Forward). The sequences
// share one length: each forward pass appends the same number of positions
// to all of them (a batch of prompts of one length, then one token each per
// step). A cache belongs to one decoding loop; models are shared, caches
// are not.
//
// A server that batches sequences of different lengths (continuous
// batching) would extend it to ragged positions: a length per sequence,
// each appending at and attending up to its own length (a per-row position
// in tensor.CausalSelfAttentionCached and in the position embedding), and
// rows freed by finished sequences handed to new ones.
type Cache struct {
	Layers []LayerCache // one per block
}

// LayerCache is one attention layer's part of a Cache.
type LayerCache struct {
	K, V *tensor.Tensor // (B, H, BlockSize, D); positions 0 … Len-1 are filled
	Len  int            // positions held, per sequence
}

// NewCache returns an empty cache for b sequences: 2·NLayer·b·BlockSize·C
// floats.
func (m *Model) NewCache(b int) *Cache {
	cfg := m.Config
	h, d := cfg.NHead, cfg.NEmbd/cfg.NHead
	c := &Cache{Layers: make([]LayerCache, cfg.NLayer)}
	for l := range c.Layers {
		c.Layers[l] = LayerCache{K: tensor.Zeros(b, h, cfg.BlockSize, d), V: tensor.Zeros(b, h, cfg.BlockSize, d)}
	}
	return c
}

// Len returns the number of positions held per sequence; 0 for a nil cache.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	return c.Layers[0].Len
}

// Batch returns B, the number of sequences.
func (c *Cache) Batch() int { return c.Layers[0].K.Dim(0) }

// reset empties c, keeping its storage.
func (c *Cache) reset() {
	for l := range c.Layers {
		c.Layers[l].Len = 0
	}
}

// layer returns layer l's cache, or nil for a nil cache.
func (c *Cache) layer(l int) *LayerCache {
	if c == nil {
		return nil
	}
	return &c.Layers[l]
}
