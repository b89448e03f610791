package checkpoint

import (
	"encoding/json"
	"fmt"
	"maps"
	"runtime/debug"
	"strings"
)

// The metadata keys of a model card.
const (
	// MetaCard holds the card's JSON (every field of Card but Tokenizer and
	// Extra).
	MetaCard = "moxing.model"
	// MetaTokenizer holds the tokenizer of a text model (tokenizer.Save's
	// JSON).
	MetaTokenizer = "moxing.tokenizer"
	// MetaAdapter holds the card of an adapter file: the card of the
	// fine-tuned model, whose Config is its base model's.
	MetaAdapter = "moxing.adapter"
)

// CardFormat is the version of the card layout this moxing writes. Cards
// without a version were written before versions existed and have the same
// layout (version 1).
const CardFormat = 1

// Card says what a checkpoint is, so that it can be used on its own: the
// kind of model, its architecture, its labels or tokenizer and its
// adapters. It lives in the safetensors metadata (MetaCard, MetaTokenizer
// and the model's own moxing.* keys in Extra), so it is read from the
// header alone, before any tensor. The model package of a kind writes its
// card and builds its model from one; package load maps kinds to them.
type Card struct {
	Kind   string          `json:"kind"`             // "gpt", "gpt-classifier", "mlp", "cnn", "rnn-lm", "rnn-classifier"
	Config json.RawMessage `json:"config"`           // the model package's Config as JSON
	Labels []string        `json:"labels,omitempty"` // a classifier's class names, by output index
	LoRA   json.RawMessage `json:"lora,omitempty"`   // the adapters the model carries (a gpt.LoRAConfig), if any
	Window int             `json:"window,omitempty"` // tokens a recurrent model reads at once
	// ChatTemplate renders chat messages into a language model's prompt: a
	// Go text/template over the messages (each with Role and Content); ""
	// is the server's plain default (see serve.DefaultChatTemplate).
	ChatTemplate string `json:"chat_template,omitempty"`
	// Quant is how a quantized checkpoint stores its matrices ("q8_0",
	// "f16" or "bf16", as quant.Type names them; see Encoding): inference
	// runs on weights stored so. "" is float32.
	Quant string `json:"quant,omitempty"`

	Format int    `json:"format_version,omitempty"` // CardFormat when written
	Writer string `json:"moxing_version,omitempty"` // the moxing that wrote it (see Version)

	// Tokenizer is the tokenizer of a text model, tokenizer.Save's JSON.
	Tokenizer string `json:"-"`
	// Extra holds a model's other moxing.* metadata by key (a tabular
	// model's moxing.schema and moxing.csv, an image model's moxing.images).
	Extra map[string]string `json:"-"`
}

// stateKeys are metadata keys of training-loop state, which belong to the
// run, not to the model's card.
var stateKeys = map[string]bool{"moxing.train": true, "moxing.pretrain": true}

// ReadCard returns the card in metadata under key (MetaCard, or
// MetaAdapter for an adapter file). It fails, naming the key, when there is
// none, when it is not a card, or when a newer moxing wrote it.
func ReadCard(metadata map[string]string, key string) (*Card, error) {
	raw, ok := metadata[key]
	if !ok {
		return nil, fmt.Errorf("not a moxing model (no %s metadata)", key)
	}
	c := &Card{}
	if err := json.Unmarshal([]byte(raw), c); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	switch {
	case c.Kind == "":
		return nil, fmt.Errorf("%s: no kind", key)
	case c.Format > CardFormat:
		return nil, fmt.Errorf("%s: card format %d, written by moxing %s; this moxing reads up to %d: upgrade moxing", key, c.Format, c.Writer, CardFormat)
	case c.Format < 0 || c.Window < 0:
		return nil, fmt.Errorf("%s: negative format_version or window", key)
	}
	c.Tokenizer = metadata[MetaTokenizer]
	c.Extra = map[string]string{}
	for k, v := range metadata {
		if strings.HasPrefix(k, "moxing.") && k != MetaCard && k != MetaTokenizer && k != MetaAdapter && !stateKeys[k] {
			c.Extra[k] = v
		}
	}
	return c, nil
}

// Metadata returns the card as safetensors metadata: the card's JSON under
// key (MetaCard, or MetaAdapter for an adapter file), the tokenizer and the
// extra keys. It stamps the card with CardFormat and Version.
func (c *Card) Metadata(key string) map[string]string {
	out := maps.Clone(c.Extra)
	if out == nil {
		out = map[string]string{}
	}
	cc := *c
	cc.Format, cc.Writer = CardFormat, Version()
	raw, err := json.Marshal(cc)
	if err != nil {
		panic("checkpoint: card: " + err.Error()) // a Card always marshals
	}
	out[key] = string(raw)
	if c.Tokenizer != "" {
		out[MetaTokenizer] = c.Tokenizer
	}
	return out
}

// DecodeConfig unmarshals the card's Config into cfg, rejecting fields cfg
// does not have (a card from another kind of model, or a newer one).
func (c *Card) DecodeConfig(cfg any) error {
	if len(c.Config) == 0 || c.Config[0] != '{' {
		return fmt.Errorf("%s config: %s is not a JSON object", c.Kind, string(c.Config))
	}
	dec := json.NewDecoder(strings.NewReader(string(c.Config)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		return fmt.Errorf("%s config: %w", c.Kind, err)
	}
	return nil
}

// NewCard returns a card of kind with cfg marshalled as its Config.
func NewCard(kind string, cfg any) *Card {
	raw, err := json.Marshal(cfg)
	if err != nil {
		panic("checkpoint: card config: " + err.Error()) // configs are plain structs
	}
	return &Card{Kind: kind, Config: raw}
}

// Version is the version of moxing in this binary: the module version (or
// "(devel)" for a build from a checkout) and, when known, the VCS revision.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if bi.Main.Path != "github.com/moxing/moxing" {
		for _, d := range bi.Deps {
			if d.Path == "github.com/moxing/moxing" {
				v = d.Version
			}
		}
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	if v == "" {
		v = "(devel)"
	}
	return v
}

// Numel is the number of values in the header's tensors, not counting
// those whose name starts with one of skip (a training checkpoint's
// "optim." state).
func (h *Header) Numel(skip ...string) int {
	n := 0
outer:
	for _, t := range h.Tensors {
		for _, s := range skip {
			if strings.HasPrefix(t.Name, s) {
				continue outer
			}
		}
		k := 1
		for _, d := range t.Shape {
			k *= d
		}
		n += k
	}
	return n
}
