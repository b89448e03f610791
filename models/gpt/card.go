package gpt

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/quant"
	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/tokenizer"
)

// The kinds of GPT checkpoint, as their cards name them.
const (
	KindLM         = "gpt"            // a language model
	KindClassifier = "gpt-classifier" // a Classifier, with its labels
)

// Pretrained is a GPT as a checkpoint holds it: a language model, or a
// classifier on one, with its tokenizer and the adapters it carries.
type Pretrained struct {
	LM         *Model              // the language model, or the classifier's backbone
	Classifier *Classifier         // nil for a language model
	Labels     []string            // the classifier's class names, by index
	Tokenizer  tokenizer.Tokenizer // never nil
	// Quant is how the weights were stored where they came from (a GGUF
	// file, or a checkpoint SaveQuantized wrote): inference runs on weights
	// stored so (Model.QuantizeWeights), as llama.cpp's does: quant.Q8_0,
	// quant.F16 and quant.BF16; F32 (the zero value) runs in float32.
	Quant quant.Type
}

// Module is what the checkpoint's parameter names are relative to: the
// classifier, or the language model.
func (p *Pretrained) Module() any {
	if p.Classifier != nil {
		return p.Classifier
	}
	return p.LM
}

// Describe names what p is, for messages.
func (p *Pretrained) Describe() string {
	switch {
	case p.Classifier != nil:
		return fmt.Sprintf("GPT classifier (labels %s)", strings.Join(p.Labels, ", "))
	case p.LM.LoRA != nil:
		return "GPT language model with adapters"
	}
	return "GPT language model"
}

// Card returns p's model card: its kind, architecture, labels, adapters and
// tokenizer.
func (p *Pretrained) Card() (*checkpoint.Card, error) {
	kind := KindLM
	if p.Classifier != nil {
		kind = KindClassifier
	}
	c := checkpoint.NewCard(kind, p.LM.Config)
	c.Labels = p.Labels
	if p.LM.LoRA != nil {
		c.LoRA, _ = json.Marshal(p.LM.LoRA)
	}
	var tb strings.Builder
	if err := tokenizer.Save(&tb, p.Tokenizer); err != nil {
		return nil, err
	}
	c.Tokenizer = tb.String()
	return c, nil
}

// Describe names a configuration, for messages.
func (c Config) Describe() string {
	return fmt.Sprintf("GPT of %d layers, %d heads, %d channels, window %d, vocabulary %d", c.NLayer, c.NHead, c.NEmbd, c.BlockSize, c.VocabSize)
}

// NumParams is the number of parameters of a model of c without adapters
// or a classification head: V·C + T·C + L·(12C² + 13C) + 2C. It is a float
// so that a hostile config cannot overflow it.
func (c Config) NumParams() float64 {
	v, t, ch, l := float64(c.VocabSize), float64(c.BlockSize), float64(c.NEmbd), float64(c.NLayer)
	return v*ch + t*ch + l*(12*ch*ch+13*ch) + 2*ch
}

// Load builds the GPT a card describes (KindLM or KindClassifier) and loads
// its weights from the checkpoint whose header is h. Everything is checked
// from the header first: the card, the tokenizer against the vocabulary,
// the config's size against the file's, every tensor's name and shape.
func Load(card *checkpoint.Card, h *checkpoint.Header) (*Pretrained, error) {
	p, err := build(card, nil, h)
	if err != nil {
		return nil, err
	}
	if err := h.LoadParams(nn.Params(p.Module())); err != nil {
		return nil, err
	}
	if card.Quant != "" {
		if p.Quant, err = quant.Parse(card.Quant); err != nil || !quantizable(p.Quant) {
			return nil, fmt.Errorf("card: quant %q: want q8_0, f16 or bf16", card.Quant)
		}
	}
	return p, nil
}

// quantizable reports whether QuantizeWeights and SaveQuantized take t.
func quantizable(t quant.Type) bool { return t == quant.Q8_0 || t == quant.F16 || t == quant.BF16 }

// canStore reports an error when a model of config c cannot store its
// matrices as t: Q8_0 needs whole 32-value blocks along every product's
// input dimension.
func (c Config) canStore(t quant.Type) error {
	if t == quant.Q8_0 && c.NEmbd%32 != 0 {
		return fmt.Errorf("gpt: Q8_0 needs rows of whole 32-value blocks; the model has %d channels", c.NEmbd)
	}
	return nil
}

// SaveQuantized writes p to path as a moxing checkpoint (safetensors, the
// card in its metadata, as a run's best.safetensors) whose projection
// matrices and token embedding (the LM head) are stored as t: quant.Q8_0
// (a quarter of float32's bytes, GGML's blocks running along each
// product's input dimension, as Model.QuantizeWeights makes them),
// quant.F16 or quant.BF16 (half). Norms, biases, the position embedding
// and a classifier's head stay float32. The card records t, and loading
// the file runs inference on exactly the weights QuantizeWeights(t) gives
// p now. Adapters are merged into p first.
func SaveQuantized(path string, p *Pretrained, t quant.Type) error {
	if !quantizable(t) {
		return fmt.Errorf("gpt: cannot store weights as %v: want q8_0, f16 or bf16", t)
	}
	if err := p.LM.Config.canStore(t); err != nil {
		return err
	}
	p.LM.MergeLoRA()
	card, err := p.Card()
	if err != nil {
		return err
	}
	card.Quant = t.String()
	axis := map[*tensor.Tensor]int{p.LM.Wte.Weight: 1} // (V, C): blocks along C
	for _, blk := range p.LM.H {
		for _, pr := range []Projection{blk.Attn.CAttn, blk.Attn.CProj, blk.MLP.CFc, blk.MLP.CProj} {
			if c, ok := pr.(*Conv1D); ok {
				axis[c.Weight] = 0 // (in, out): blocks along in
			}
		}
	}
	tensors := map[string]*tensor.Tensor{}
	enc := map[string]checkpoint.Encoding{}
	for _, prm := range nn.Params(p.Module()) {
		tensors[prm.Name] = prm.Tensor
		if a, ok := axis[prm.Tensor]; ok {
			enc[prm.Name] = checkpoint.Encoding{Type: t, Axis: a}
		}
	}
	return checkpoint.SaveEncoded(path, tensors, card.Metadata(checkpoint.MetaCard), enc)
}

// build makes the model card describes with zero weights, on base when it
// is given (an adapter's base), else on a new language model whose size is
// first checked against h.
func build(card *checkpoint.Card, base *Model, h *checkpoint.Header) (*Pretrained, error) {
	if card.Kind != KindLM && card.Kind != KindClassifier {
		return nil, fmt.Errorf("a %q model, not a GPT", card.Kind)
	}
	var cfg Config
	if err := card.DecodeConfig(&cfg); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Pretrained{Labels: card.Labels}
	var err error
	if p.Tokenizer, err = tokenizer.Load(strings.NewReader(card.Tokenizer)); err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if p.Tokenizer.VocabSize() > cfg.VocabSize { // a model may have room for more (Hugging Face pads vocabularies)
		return nil, fmt.Errorf("tokenizer has %d tokens, more than the model's vocabulary of %d", p.Tokenizer.VocabSize(), cfg.VocabSize)
	}
	if (card.Kind == KindClassifier) != (len(card.Labels) > 0) {
		return nil, fmt.Errorf("a %s card with %d labels", card.Kind, len(card.Labels))
	}
	rng := rand.New(rand.NewPCG(0, 0))
	if p.LM = base; base == nil {
		if err := h.CheckSize(cfg.NumParams()); err != nil {
			return nil, err
		}
		if p.LM, err = New(cfg, nil); err != nil { // its weights are loaded next
			return nil, err
		}
	}
	if len(card.LoRA) > 0 {
		var lc LoRAConfig
		if err := json.Unmarshal(card.LoRA, &lc); err != nil {
			return nil, fmt.Errorf("lora: %w", err)
		}
		if err := p.LM.AddLoRA(lc, rng); err != nil {
			return nil, err
		}
	}
	if card.Kind == KindClassifier {
		if p.Classifier, err = NewClassifier(p.LM, len(card.Labels), rng); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// LoadAdapter puts the moxing adapter file whose header is h (written by
// moxing finetune --lora-rank before it wrote PEFT folders; see LoadPEFT)
// on base, a language model without adapters that must have
// the architecture the adapter was trained on, and loads the adapter's
// weights (and a classifier's head). base's weights become part of the
// result; base's tokenizer is kept.
func LoadAdapter(base *Pretrained, h *checkpoint.Header) (*Pretrained, error) {
	if base.Classifier != nil || base.LM.LoRA != nil {
		return nil, fmt.Errorf("an adapter goes on the language model it was trained from, and the base is a %s", base.Describe())
	}
	card, err := checkpoint.ReadCard(h.Metadata, checkpoint.MetaAdapter)
	if err != nil {
		return nil, err
	}
	if len(card.LoRA) == 0 {
		return nil, fmt.Errorf("no LoRA configuration in its %s metadata", checkpoint.MetaAdapter)
	}
	var want Config
	if err := card.DecodeConfig(&want); err != nil {
		return nil, err
	}
	have := base.LM.Config
	have.Dropout, want.Dropout = 0, 0 // training-time only
	if have != want {
		return nil, fmt.Errorf("the adapter was trained on a %s; the base is a %s", want.Describe(), have.Describe())
	}
	p, err := build(card, base.LM, h)
	if err != nil {
		return nil, err
	}
	p.Tokenizer = base.Tokenizer
	if err := h.LoadParams(trainable(nn.Params(p.Module()))); err != nil {
		return nil, fmt.Errorf("the adapter does not fit this base model: %w", err)
	}
	return p, nil
}

// trainable returns the parameters that require a gradient.
func trainable(params []nn.Param) []nn.Param {
	return slices.DeleteFunc(params, func(p nn.Param) bool { return !p.RequiresGrad() })
}

// Freeze stops training the token and position embeddings (when
// embeddings) and the first blocks transformer blocks: their parameters
// need no gradient, and optimizers given the trainable parameters leave
// them as they are.
func (m *Model) Freeze(embeddings bool, blocks int) error {
	if blocks < 0 || blocks > len(m.H) {
		return fmt.Errorf("gpt: freeze %d blocks of %d", blocks, len(m.H))
	}
	if embeddings {
		m.Wte.Weight.SetRequiresGrad(false)
		m.Wpe.Weight.SetRequiresGrad(false)
	}
	for _, blk := range m.H[:blocks] {
		for _, p := range nn.Params(blk) {
			p.SetRequiresGrad(false)
		}
	}
	return nil
}

// FineTune says how to make a pretrained language model ready to
// fine-tune.
type FineTune struct {
	FromScratch      bool        // replace the weights with fresh ones of the same architecture (a baseline)
	Dropout          float32     // dropout while fine-tuning
	FreezeEmbeddings bool        // do not train wte and wpe
	FreezeBlocks     int         // do not train the first FreezeBlocks blocks
	LoRA             *LoRAConfig // train these adapters instead of the weights (nil: full fine-tuning)
	Seed             uint64      // seeds fresh weights and adapters
}

// PrepareFineTune makes p, a language model, ready to fine-tune as f says:
// adapters it carries are merged into the weights first (that model is the
// base), then fresh weights, dropout, frozen parts and new adapters. It
// returns the base architecture, which adapter files record.
func (p *Pretrained) PrepareFineTune(f FineTune) (Config, error) {
	if p.Classifier != nil {
		return Config{}, fmt.Errorf("a %s: fine-tuning starts from a language model", p.Describe())
	}
	p.LM.MergeLoRA()
	base := p.LM.Config
	if f.FromScratch {
		m, err := New(base, rand.New(rand.NewPCG(f.Seed, 3)))
		if err != nil {
			return base, err
		}
		p.LM = m
	}
	p.LM.SetDropout(f.Dropout)
	if err := p.LM.Freeze(f.FreezeEmbeddings, f.FreezeBlocks); err != nil {
		return base, err
	}
	if f.LoRA != nil {
		if err := p.LM.AddLoRA(*f.LoRA, rand.New(rand.NewPCG(f.Seed, 4))); err != nil {
			return base, err
		}
	}
	return base, nil
}
