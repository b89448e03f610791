package rnn

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tokenizer"
)

// The card kinds of recurrent checkpoints.
const (
	KindLM         = "rnn-lm"         // an LM
	KindClassifier = "rnn-classifier" // a Classifier, with its labels
)

// Pretrained is a recurrent model as a checkpoint holds it: a language
// model or a classifier, with its tokenizer and the window of tokens it
// reads.
type Pretrained struct {
	LM         *LM         // nil for a classifier
	Classifier *Classifier // nil for a language model
	Labels     []string    // the classifier's class names, by index
	Tokenizer  tokenizer.Tokenizer
	Window     int // a language model's training length (also used to score text); a classifier's longest text
}

// Card returns p's model card.
func (p *Pretrained) Card() (*checkpoint.Card, error) {
	var c *checkpoint.Card
	if p.Classifier != nil {
		c = checkpoint.NewCard(KindClassifier, p.Classifier.Config)
	} else {
		c = checkpoint.NewCard(KindLM, p.LM.Config)
	}
	c.Labels, c.Window = p.Labels, p.Window
	var tb strings.Builder
	if err := tokenizer.Save(&tb, p.Tokenizer); err != nil {
		return nil, err
	}
	c.Tokenizer = tb.String()
	return c, nil
}

// NumParams is the number of parameters of a recurrent model of c: the
// embedding, each layer's and direction's cell (g gates: g·H·(in + H + 2))
// and the output layer, to the vocabulary (classes = 0) or to classes. It is
// a float so that a hostile config cannot overflow it.
func (c Config) NumParams(classes int) float64 {
	g := map[nn.RNNKind]float64{nn.KindLSTM: 4, nn.KindGRU: 3, nn.KindRNN: 1}[c.Kind]
	dirs, h := 1.0, float64(c.Hidden)
	if c.Bidirectional {
		dirs = 2
	}
	n, in := float64(c.Vocab)*float64(c.Embed), float64(c.Embed)
	for range c.Layers {
		n += dirs * g * h * (in + h + 2)
		in = dirs * h
	}
	out := float64(classes)
	if classes == 0 {
		out = float64(c.Vocab)
	}
	return n + (in+1)*out
}

// Load builds the recurrent model a card describes (KindLM or
// KindClassifier) and loads its weights from the checkpoint whose header is
// h, checking the card, its tokenizer, the config's size and every
// tensor's name and shape from the header before reading any data.
func Load(card *checkpoint.Card, h *checkpoint.Header) (*Pretrained, error) {
	if card.Kind != KindLM && card.Kind != KindClassifier {
		return nil, fmt.Errorf("a %q model, not a recurrent one", card.Kind)
	}
	var cfg Config
	if err := card.DecodeConfig(&cfg); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tok, err := tokenizer.Load(strings.NewReader(card.Tokenizer))
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	p := &Pretrained{Labels: card.Labels, Tokenizer: tok, Window: card.Window}
	classes := 0
	if card.Kind == KindClassifier {
		classes = cfg.Classes
		if len(p.Labels) < 2 {
			return nil, fmt.Errorf("a classifier card with %d labels", len(p.Labels))
		}
	}
	if tok.VocabSize() > cfg.Vocab || p.Window < 1 {
		return nil, fmt.Errorf("tokenizer of %d tokens and window %d for a model of vocabulary %d", tok.VocabSize(), p.Window, cfg.Vocab)
	}
	if err := h.CheckSize(cfg.NumParams(classes)); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(0, 0))
	var module any
	if card.Kind == KindClassifier {
		p.Classifier, err = NewClassifier(cfg, rng)
		module = p.Classifier
	} else {
		p.LM, err = NewLM(cfg, rng)
		module = p.LM
	}
	if err != nil {
		return nil, err
	}
	return p, h.LoadParams(nn.Params(module))
}
