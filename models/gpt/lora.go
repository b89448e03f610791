package gpt

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
)

// LoRAConfig configures low-rank adapters (Hu et al., 2021): each chosen
// projection y = x·W + b becomes
//
//	y = x·W + b + (Alpha/Rank)·dropout(x)·Aᵀ·Bᵀ,   A (Rank, in), B (out, Rank)
//
// with W and b frozen and only A and B trained. B starts at zero, so the
// adapted model starts as the base model. The target "wte" adapts the token
// embedding (see EmbeddingLoRA).
type LoRAConfig struct {
	Rank    int      `json:"r"`
	Alpha   float32  `json:"lora_alpha"`
	Dropout float32  `json:"lora_dropout"`
	Targets []string `json:"target_modules"` // of LoRATargets; default attn.c_attn
}

// LoRATargets are the projections an adapter can sit on, by their names in
// a block, and wte, the token embedding.
var LoRATargets = []string{"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj", "wte"}

// LoRA is a projection with an adapter: it wraps the Conv1D it adapts and
// adds the low-rank term to its output. Its parameters are named as Hugging
// Face PEFT names them, beside the weight they adapt:
// h.0.attn.c_attn.weight and .bias (the base), lora_A.weight (Rank, in) and
// lora_B.weight (out, Rank).
type LoRA struct {
	Base  *Conv1D    `nn:",inline"`
	A     *nn.Linear `nn:"lora_A"`
	B     *nn.Linear `nn:"lora_B"`
	Drop  nn.Dropout `nn:"lora_dropout"`
	Scale float32    `nn:"-"` // Alpha/Rank
}

// Forward maps x (..., in) to x·W + b + Scale·dropout(x)·Aᵀ·Bᵀ (..., out).
func (a *LoRA) Forward(x *tensor.Tensor) *tensor.Tensor {
	y := a.Base.Forward(x)
	low := a.A.Forward(a.Drop.Forward(x)).MulScalar(a.Scale) // (..., Rank), scaled here where it is small
	return low.Linear(a.B.Weight, y, true)                   // y + low·Bᵀ (..., out), accumulated into one tensor
}

// merge folds the adapter into the base weight, W += Scale·Aᵀ·Bᵀ (in, out),
// and returns the base.
func (a *LoRA) merge() *Conv1D {
	delta := a.A.Weight.Detach().MatMulT(a.B.Weight.Detach(), true, true) // (in, out)
	for i, v := range delta.Data {
		a.Base.Weight.Data[i] += a.Scale * v
	}
	return a.Base
}

// EmbeddingLoRA is the adapter of the token embedding, PEFT's LoRA on an
// embedding: the (V, C) matrix becomes
//
//	Wte + Scale·Aᵀ·Bᵀ,   A (Rank, V), B (C, Rank),
//
// in the lookup and, since GPT-2 ties them, in the LM head, so merging it
// into Wte changes nothing. As in PEFT, A starts at zero and B from N(0, 1),
// and there is no dropout. Fine-tuning the embedding is where much of a
// small model's adaptation happens: freezing it costs full fine-tuning
// about 10 points of accuracy on the sentiment task.
type EmbeddingLoRA struct {
	A     *tensor.Tensor `nn:"lora_embedding_A"`
	B     *tensor.Tensor `nn:"lora_embedding_B"`
	Scale float32        `nn:"-"` // Alpha/Rank
}

// Validate reports the first problem with c.
func (c LoRAConfig) Validate() error {
	if c.Rank < 1 {
		return fmt.Errorf("gpt: LoRA rank %d, want at least 1", c.Rank)
	}
	if c.Dropout < 0 || c.Dropout >= 1 {
		return fmt.Errorf("gpt: LoRA dropout %v outside [0, 1)", c.Dropout)
	}
	for _, t := range c.Targets {
		if !slices.Contains(LoRATargets, t) {
			return fmt.Errorf("gpt: LoRA target %q: want some of %s", t, strings.Join(LoRATargets, ", "))
		}
	}
	return nil
}

// AddLoRA freezes every parameter of m and puts a fresh adapter on each
// target projection of every block: A from U(-1/√in, 1/√in) (PEFT's Kaiming
// init), B zero. Alpha 0 means Alpha = Rank (scale 1).
func (m *Model) AddLoRA(cfg LoRAConfig, rng *rand.Rand) error {
	if len(cfg.Targets) == 0 {
		cfg.Targets = []string{"attn.c_attn"}
	}
	if cfg.Alpha == 0 {
		cfg.Alpha = float32(cfg.Rank)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	for _, p := range nn.Params(m) {
		p.SetRequiresGrad(false)
	}
	if slices.Contains(cfg.Targets, "wte") {
		v, c := m.Wte.Weight.Dim(0), m.Wte.Weight.Dim(1)
		m.WteLoRA = &EmbeddingLoRA{A: tensor.Zeros(cfg.Rank, v).RequireGrad(), B: tensor.Randn(rng, c, cfg.Rank).RequireGrad(),
			Scale: cfg.Alpha / float32(cfg.Rank)}
	}
	for _, p := range m.loraTargets(cfg.Targets) {
		base := baseOf(*p)
		in, out := base.Weight.Dim(0), base.Weight.Dim(1)
		bound := 1 / math.Sqrt(float64(in))
		*p = &LoRA{
			Base:  base,
			A:     &nn.Linear{Weight: tensor.Rand(rng, float32(-bound), float32(bound), cfg.Rank, in).RequireGrad()},
			B:     &nn.Linear{Weight: tensor.Zeros(out, cfg.Rank).RequireGrad()},
			Drop:  nn.Dropout{P: cfg.Dropout},
			Scale: cfg.Alpha / float32(cfg.Rank),
		}
	}
	m.LoRA = &cfg
	return nil
}

// MergeLoRA folds every adapter into the weight it adapts, W += Scale·AᵀBᵀ
// (W is (in, out)), and removes the adapters: the model then computes the
// same outputs (up to rounding) at the base model's cost. The merged
// weights stay frozen.
func (m *Model) MergeLoRA() {
	if m.LoRA == nil {
		return
	}
	for _, p := range m.loraTargets(m.LoRA.Targets) {
		if a, ok := (*p).(*LoRA); ok {
			*p = a.merge()
		}
	}
	if m.WteLoRA != nil {
		m.Wte.Weight.Data = m.embeddingMatrix().Detach().Data
		m.WteLoRA = nil
	}
	m.LoRA = nil
}

// embeddingMatrix is the token embedding (V, C), with its adapter when it
// has one.
func (m *Model) embeddingMatrix() *tensor.Tensor {
	if a := m.WteLoRA; a != nil {
		return a.A.MulScalar(a.Scale).MatMulT(a.B, true, true).Add(m.Wte.Weight) // Scale·Aᵀ·Bᵀ + Wte
	}
	return m.Wte.Weight
}

// loraTargets returns the fields of every block that hold the projections
// named by targets, for AddLoRA and MergeLoRA to wrap and unwrap.
func (m *Model) loraTargets(targets []string) []*Projection {
	var ps []*Projection
	for _, blk := range m.H {
		for _, t := range targets {
			switch t {
			case "attn.c_attn":
				ps = append(ps, &blk.Attn.CAttn)
			case "attn.c_proj":
				ps = append(ps, &blk.Attn.CProj)
			case "mlp.c_fc":
				ps = append(ps, &blk.MLP.CFc)
			case "mlp.c_proj":
				ps = append(ps, &blk.MLP.CProj)
			}
		}
	}
	return ps
}

// baseOf returns the Conv1D of p: p itself, or the one a LoRA wraps.
func baseOf(p Projection) *Conv1D {
	if a, ok := p.(*LoRA); ok {
		return a.Base
	}
	return p.(*Conv1D)
}

// IsLoRA reports whether a parameter name belongs to an adapter.
func IsLoRA(name string) bool {
	return strings.Contains(name, ".lora_A.") || strings.Contains(name, ".lora_B.") || strings.Contains(name, ".lora_embedding_")
}
