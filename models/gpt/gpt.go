// Package gpt is the GPT-2 architecture: token and position embeddings,
// pre-LayerNorm transformer blocks with causal multi-head self-attention
// and a GELU MLP, a final LayerNorm and an LM head tied to the token
// embedding. Parameter names and layouts are Hugging Face's GPT-2
// (h.0.attn.c_attn.weight, Conv1D weights stored (in, out)), so their
// checkpoints load directly.
//
// B is the batch, T the sequence length, C the channels, H the heads, D =
// C/H the head size, V the vocabulary.
package gpt

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
)

// Projection is a learned linear map of the last axis, (..., in) to
// (..., out): a Conv1D, or a LoRA adapter wrapping one (see AddLoRA).
type Projection interface {
	Forward(x *tensor.Tensor) *tensor.Tensor
}

// Conv1D is Hugging Face's GPT-2 linear layer: y = x·W + b with the weight
// stored (in, out), the transpose of nn.Linear's layout.
type Conv1D struct {
	Weight *tensor.Tensor // (in, out)
	Bias   *tensor.Tensor // (out)
}

// Forward maps x (..., in) to (..., out).
func (l *Conv1D) Forward(x *tensor.Tensor) *tensor.Tensor {
	return x.Linear(l.Weight, l.Bias, false)
}

func newConv1D(in, out int, std float64, rng *rand.Rand) *Conv1D {
	l := &Conv1D{Weight: tensor.Zeros(in, out).RequireGrad(), Bias: tensor.Zeros(out).RequireGrad()}
	if rng != nil {
		nn.Normal(l.Weight, 0, std, rng)
	}
	return l
}

// Attention is causal multi-head self-attention.
type Attention struct {
	CAttn     Projection `nn:"c_attn"` // C → 3C: queries, keys, values
	CProj     Projection `nn:"c_proj"` // C → C
	AttnDrop  nn.Dropout
	ResidDrop nn.Dropout
	nHead     int
}

// Forward attends over x (B, T, C); position t sees positions ≤ t.
//
// Without a cache (nil) x is whole sequences, and Forward uses the fused
// tensor.CausalSelfAttention, with its attention dropout in training. With
// one, x (1, N, C) is the new rows of a Step's segments (cache.Segs): their
// keys and values join their cache slots, and each attends to its slot's
// earlier positions too (tensor.CausalSelfAttentionCached). That path is
// for inference: the model must be detached (nn.Detach), and attention
// dropout is not applied.
func (a *Attention) Forward(x *tensor.Tensor, cache *LayerCache) *tensor.Tensor {
	qkv := a.CAttn.Forward(x) // (B, T, 3C)
	var y *tensor.Tensor      // (B, T, C)
	switch {
	case cache != nil:
		y = tensor.CausalSelfAttentionCached(qkv, a.nHead, cache.K, cache.V, cache.Segs)
	case a.AttnDrop.RNG == nil || a.AttnDrop.P == 0:
		y = tensor.CausalSelfAttention(qkv, a.nHead)
	default:
		y = tensor.CausalSelfAttentionDropout(qkv, a.nHead, a.AttnDrop.P, a.AttnDrop.RNG)
	}
	return a.ResidDrop.Forward(a.CProj.Forward(y))
}

// MLP is the block's feed-forward part: C → 4C, GELU, 4C → C.
type MLP struct {
	CFc   Projection `nn:"c_fc"`   // C → 4C
	CProj Projection `nn:"c_proj"` // 4C → C
	Drop  nn.Dropout
}

// Forward maps x (B, T, C) to (B, T, C).
func (m *MLP) Forward(x *tensor.Tensor) *tensor.Tensor {
	return m.Drop.Forward(m.CProj.Forward(m.CFc.Forward(x).GELU()))
}

// Block is a pre-LayerNorm transformer block:
// x + attn(ln_1(x)), then + mlp(ln_2(·)).
type Block struct {
	Ln1  *nn.LayerNorm `nn:"ln_1"`
	Attn *Attention    `nn:"attn"`
	Ln2  *nn.LayerNorm `nn:"ln_2"`
	MLP  *MLP          `nn:"mlp"`
}

// Forward maps x (B, T, C) to (B, T, C), with the layer's KV cache or nil
// (see Attention.Forward).
func (blk *Block) Forward(x *tensor.Tensor, cache *LayerCache) *tensor.Tensor {
	x = x.Add(blk.Attn.Forward(blk.Ln1.Forward(x), cache))
	return x.Add(blk.MLP.Forward(blk.Ln2.Forward(x)))
}

// Model is a GPT-2 language model.
type Model struct {
	Config Config        `nn:"-"`
	Wte    *nn.Embedding `nn:"wte"` // (V, C), also the LM head
	Wpe    *nn.Embedding `nn:"wpe"` // (BlockSize, C)
	Drop   nn.Dropout    `nn:"drop"`
	H      []*Block      `nn:"h"`
	LnF    *nn.LayerNorm `nn:"ln_f"`
	// LoRA is the configuration of the adapters AddLoRA put on the
	// projections, or nil.
	LoRA *LoRAConfig `nn:"-"`
	// WteLoRA is the token embedding's adapter, or nil.
	WteLoRA *EmbeddingLoRA `nn:"wte"`
}

// New returns a model with GPT-2's initialisation: weights from N(0, 0.02²),
// the residual projections (attn.c_proj, mlp.c_proj) from N(0, (0.02/√(2·n_layer))²),
// biases 0, layer norms 1 and 0. With a nil rng the weights stay 0: for a
// model whose weights are loaded next (drawing GPT-2 small's 124M normals
// takes about a second).
func New(cfg Config, rng *rand.Rand) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.NEmbd
	resid := 0.02 / math.Sqrt(2*float64(cfg.NLayer))
	m := &Model{Config: cfg, Wte: &nn.Embedding{Weight: tensor.Zeros(cfg.VocabSize, c).RequireGrad()},
		Wpe: &nn.Embedding{Weight: tensor.Zeros(cfg.BlockSize, c).RequireGrad()}, LnF: nn.NewLayerNorm(c),
		Drop: nn.Dropout{P: cfg.Dropout}}
	if rng != nil {
		nn.Normal(m.Wte.Weight, 0, 0.02, rng)
		nn.Normal(m.Wpe.Weight, 0, 0.02, rng)
	}
	for range cfg.NLayer {
		m.H = append(m.H, &Block{
			Ln1: nn.NewLayerNorm(c),
			Attn: &Attention{CAttn: newConv1D(c, 3*c, 0.02, rng), CProj: newConv1D(c, c, resid, rng),
				AttnDrop: nn.Dropout{P: cfg.Dropout}, ResidDrop: nn.Dropout{P: cfg.Dropout}, nHead: cfg.NHead},
			Ln2: nn.NewLayerNorm(c),
			MLP: &MLP{CFc: newConv1D(c, 4*c, 0.02, rng), CProj: newConv1D(4*c, c, resid, rng), Drop: nn.Dropout{P: cfg.Dropout}},
		})
	}
	return m, nil
}

// Forward runs the model on a batch of token ids idx, B sequences of T
// tokens in row-major order, and returns the logits (B, T, V). With targets
// (B·T ids, negative ones ignored) it also returns the mean cross-entropy
// loss; otherwise loss is nil. It panics on T beyond the context window or an
// id outside the vocabulary.
func (m *Model) Forward(idx []int, b, t int, targets []int) (logits, loss *tensor.Tensor) {
	wte := m.embeddingMatrix()
	logits = m.forward(wte, idx, b, t).MatMulT(wte, false, true) // (B, T, C)·(V, C)ᵀ -> (B, T, V)
	if targets != nil {
		loss = nn.CrossEntropy(logits, targets, 0)
	}
	return logits, loss
}

// SetDropout sets the dropout probability of every dropout layer of m
// (embeddings, attention, residual branches) and its Config: fine-tuning
// often trains a model with dropout that was pretrained without.
func (m *Model) SetDropout(p float32) {
	m.Config.Dropout = p
	m.Drop.P = p
	for _, blk := range m.H {
		blk.Attn.AttnDrop.P, blk.Attn.ResidDrop.P, blk.MLP.Drop.P = p, p, p
	}
}

// Hidden runs the transformer on idx (B sequences of T ids, row-major) and
// returns the final layer norm's output (B, T, C), the input of the LM head
// and of a classification head. It panics on T beyond the context window or
// an id outside the vocabulary.
func (m *Model) Hidden(idx []int, b, t int) *tensor.Tensor {
	return m.forward(m.embeddingMatrix(), idx, b, t)
}

// forward runs the transformer on idx (B sequences of T ids, row-major)
// with the token embedding wte (V, C) and returns the final layer norm's
// output (B, T, C), for training and whole-sequence inference (Step is the
// cached path).
func (m *Model) forward(wte *tensor.Tensor, idx []int, b, t int) *tensor.Tensor {
	if t > m.Config.BlockSize || b*t != len(idx) {
		panic(fmt.Sprintf("gpt: Forward with %d ids as (B=%d, T=%d); context window %d", len(idx), b, t, m.Config.BlockSize))
	}
	pos := make([]int, t)
	for i := range pos {
		pos[i] = i
	}
	x := wte.IndexSelect(0, idx).Reshape(b, t, m.Config.NEmbd).Add(m.Wpe.Forward(pos)) // (B, T, C) + (T, C)
	return m.blocks(m.Drop.Forward(x), nil)
}

// blocks runs the transformer blocks and the final layer norm on the
// embedded x, with a Step's cache or nil: the one path of every forward.
func (m *Model) blocks(x *tensor.Tensor, cache *Cache) *tensor.Tensor {
	for l, blk := range m.H {
		x = blk.Forward(x, cache.layer(l))
	}
	return m.LnF.Forward(x)
}

// LoadTensors copies weights named as Hugging Face's GPT-2 into m: names may
// carry a "transformer." prefix; "lm_head.weight" (tied to wte) and the
// attention mask buffers (".attn.bias", ".attn.masked_bias") are ignored. Every
// parameter must be present with its shape; the error lists what is not.
func (m *Model) LoadTensors(ts map[string]*tensor.Tensor) error {
	clean := map[string]*tensor.Tensor{}
	for name, t := range ts {
		name = strings.TrimPrefix(name, "transformer.")
		if name == "lm_head.weight" || strings.HasSuffix(name, ".attn.bias") || strings.HasSuffix(name, ".attn.masked_bias") {
			continue
		}
		clean[name] = t
	}
	return checkpoint.Assign(nn.Params(m), clean, true)
}

// Window returns the context window, BlockSize.
func (m *Model) Window() int { return m.Config.BlockSize }
