// Package rnn holds recurrent models built on nn.RNN: a character- (or
// token-) level language model and a sequence classifier.
package rnn

import (
	"context"
	"fmt"
	"iter"
	"math/rand/v2"

	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/sample"
	"github.com/moxing/moxing/tensor"
)

// Config describes a recurrent model. It is saved in checkpoints as JSON.
type Config struct {
	Kind          nn.RNNKind `json:"kind"`          // lstm (default), gru or rnn
	Vocab         int        `json:"vocab"`         // token ids are in [0, Vocab)
	Embed         int        `json:"embed"`         // embedding width
	Hidden        int        `json:"hidden"`        // hidden units per direction
	Layers        int        `json:"layers"`        // stacked recurrent layers
	Bidirectional bool       `json:"bidirectional"` // classifier only
	Dropout       float32    `json:"dropout"`       // after the embedding, between layers and before the output layer
	Classes       int        `json:"classes"`       // classifier: outputs (1 for two classes)
}

// Validate reports the first problem with c.
func (c *Config) Validate() error {
	if c.Kind == "" {
		c.Kind = nn.KindLSTM
	}
	switch {
	case c.Kind != nn.KindLSTM && c.Kind != nn.KindGRU && c.Kind != nn.KindRNN:
		return fmt.Errorf("rnn: kind %q, want lstm, gru or rnn", c.Kind)
	case c.Vocab < 1 || c.Embed < 1 || c.Hidden < 1 || c.Layers < 1:
		return fmt.Errorf("rnn: vocabulary %d, embedding %d, hidden %d, layers %d: all must be positive", c.Vocab, c.Embed, c.Hidden, c.Layers)
	case c.Dropout < 0 || c.Dropout >= 1:
		return fmt.Errorf("rnn: dropout %v outside [0, 1)", c.Dropout)
	}
	return nil
}

// LM is a recurrent language model, as PyTorch's word_language_model
// example: encoder (embedding) → dropout → rnn → dropout → decoder (linear
// to the vocabulary), with parameters named encoder.weight,
// rnn.weight_ih_l0, …, decoder.weight.
type LM struct {
	Config  Config        `nn:"-"`
	Encoder *nn.Embedding `nn:"encoder"`
	RNN     *nn.RNN       `nn:"rnn"`
	Decoder *nn.Linear    `nn:"decoder"`
	Drop    nn.Dropout
}

// NewLM builds a language model from cfg (Bidirectional must be false: a
// language model reads left to right).
func NewLM(cfg Config, rng *rand.Rand) (*LM, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Bidirectional {
		return nil, fmt.Errorf("rnn: a language model cannot be bidirectional (it would see the tokens it predicts)")
	}
	return &LM{
		Config:  cfg,
		Encoder: nn.NewEmbedding(cfg.Vocab, cfg.Embed, rng),
		RNN:     nn.NewRNN(cfg.Kind, cfg.Embed, cfg.Hidden, cfg.Layers, false, cfg.Dropout, rng),
		Decoder: nn.NewLinear(cfg.Hidden, cfg.Vocab, true, rng),
		Drop:    nn.Dropout{P: cfg.Dropout},
	}, nil
}

// Forward maps b windows of t token ids (row-major) to logits (b, t, Vocab)
// and, when targets (b·t ids; negative ones are ignored) is not nil, the
// mean cross-entropy. Every window starts from zero states.
func (m *LM) Forward(idx []int, b, t int, targets []int) (logits, loss *tensor.Tensor) {
	if len(idx) != b*t {
		panic(fmt.Sprintf("rnn: %d ids for %d windows of %d", len(idx), b, t))
	}
	x := m.Drop.Forward(m.Encoder.Forward(idx).Reshape(b, t, -1))
	h := m.Drop.Forward(m.RNN.Forward(x))
	logits = m.Decoder.Forward(h)
	if targets != nil {
		loss = nn.CrossEntropy(logits.Reshape(b*t, -1), targets, 0)
	}
	return logits, loss
}

// Window returns 0: a recurrent model takes sequences of any length.
func (m *LM) Window() int { return 0 }

// Classifier is a recurrent sequence classifier: embedding → dropout →
// rnn over the packed rows → the top layer's final state (both directions,
// concatenated) → dropout → fc (linear to the classes).
type Classifier struct {
	Config  Config        `nn:"-"`
	Encoder *nn.Embedding `nn:"encoder"`
	RNN     *nn.RNN       `nn:"rnn"`
	FC      *nn.Linear    `nn:"fc"`
	Drop    nn.Dropout
}

// NewClassifier builds a classifier from cfg (Classes outputs: 1 logit for
// two classes, else one per class).
func NewClassifier(cfg Config, rng *rand.Rand) (*Classifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Classes < 1 {
		return nil, fmt.Errorf("rnn: %d classifier outputs, want at least 1", cfg.Classes)
	}
	dirs := 1
	if cfg.Bidirectional {
		dirs = 2
	}
	return &Classifier{
		Config:  cfg,
		Encoder: nn.NewEmbedding(cfg.Vocab, cfg.Embed, rng),
		RNN:     nn.NewRNN(cfg.Kind, cfg.Embed, cfg.Hidden, cfg.Layers, cfg.Bidirectional, cfg.Dropout, rng),
		FC:      nn.NewLinear(dirs*cfg.Hidden, cfg.Classes, true, rng),
		Drop:    nn.Dropout{P: cfg.Dropout},
	}, nil
}

// Forward classifies a batch of right-padded token rows x (B, T), the ids
// stored as float32 values, as data.Dataset holds them and data.Pad writes
// them: each row's length is the position after its last id ≥ 0 (pads are
// negative). The batch runs only up to its longest row. It returns logits
// (B, Classes).
func (m *Classifier) Forward(x *tensor.Tensor) *tensor.Tensor {
	if x.NDim() != 2 {
		panic(fmt.Sprintf("rnn: Classifier.Forward of shape %v: want (B, T) token ids", x.Shape()))
	}
	b, width := x.Dim(0), x.Dim(1)
	lengths, t := make([]int, b), 1
	for i := range lengths {
		for j, v := range x.Data[i*width : (i+1)*width] {
			if v >= 0 {
				lengths[i] = j + 1
			}
		}
		lengths[i] = max(lengths[i], 1) // an empty row reads one pad (id 0)
		t = max(t, lengths[i])
	}
	ids := make([]int, b*t)
	for i := range lengths {
		for j, v := range x.Data[i*width : i*width+t] {
			if v >= 0 {
				if int(v) >= m.Config.Vocab {
					panic(fmt.Sprintf("rnn: token id %v at row %d outside the vocabulary of %d", v, i, m.Config.Vocab))
				}
				ids[i*t+j] = int(v)
			}
		}
	}
	e := m.Drop.Forward(m.Encoder.Forward(ids).Reshape(b, t, -1))
	_, hN, _ := m.RNN.ForwardState(e, lengths, nil, nil)
	// The top layer's final states: the last D of (Layers·D, B, H).
	d := hN.Dim(0) / m.Config.Layers
	top := hN.Slice(0, hN.Dim(0)-d, hN.Dim(0)) // (D, B, H)
	feat := top.Permute(1, 0, 2).Reshape(b, -1)
	return m.FC.Forward(m.Drop.Forward(feat))
}

// Generate streams up to maxTokens tokens continuing prompt, each drawn by
// s from the model's next-token distribution. The prompt is read once and
// the recurrent state carried from token to token, so each new token costs
// one step. It stops early when ctx is cancelled or the consumer stops
// ranging. The prompt must not be empty. Generate reads m but never changes
// it, so many may run at once, each with its own Sampler.
func (m *LM) Generate(ctx context.Context, prompt []int, maxTokens int, s *sample.Sampler) iter.Seq[int] {
	return func(yield func(int) bool) {
		if len(prompt) == 0 {
			panic("rnn: Generate with an empty prompt")
		}
		inf := nn.Detach(m)
		nn.Eval(inf)
		history := append([]int(nil), prompt...)
		var h, c *tensor.Tensor
		logits := inf.step(prompt, &h, &c)
		for range maxTokens {
			if ctx.Err() != nil {
				return
			}
			tok := s.Next(logits, history)
			if !yield(tok) {
				return
			}
			history = append(history, tok)
			logits = inf.step([]int{tok}, &h, &c)
		}
	}
}

// step runs ids (one sequence) from the states *h, *c (nil: zeros), stores
// the final states back, and returns the logits of the last position.
func (m *LM) step(ids []int, h, c **tensor.Tensor) []float32 {
	x := m.Encoder.Forward(ids).Reshape(1, len(ids), -1)
	out, hN, cN := m.RNN.ForwardState(x, nil, *h, *c)
	*h, *c = hN, cN
	last := out.Slice(1, len(ids)-1, len(ids)).Reshape(1, -1)
	return m.Decoder.Forward(last).Data
}
