package gpt

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
)

// Classifier is a sequence classifier on a GPT backbone, Hugging Face's
// GPT2ForSequenceClassification: a linear head without bias, score (K, C),
// on the final hidden state of each sequence's last token,
//
//	logits_b = Score · h_b[len_b - 1]      (K)
//
// The last token is the one pooling can use in a causal model: it is the
// only position that has seen the whole text. Sequences in a batch are
// padded on the right to the longest; because attention is causal, no real
// position ever sees a pad, so no attention mask is needed and a padded
// sequence classifies exactly as it does alone.
//
// Parameter names are Hugging Face's: transformer.h.0.attn.c_attn.weight …,
// score.weight.
type Classifier struct {
	GPT   *Model     `nn:"transformer"`
	Score *nn.Linear `nn:"score"`
}

// NewClassifier returns a classifier into k classes on backbone, its head
// initialised from N(0, 0.02²) as Hugging Face does.
func NewClassifier(backbone *Model, k int, rng *rand.Rand) (*Classifier, error) {
	if k < 2 {
		return nil, fmt.Errorf("gpt: a classifier needs at least 2 classes, got %d", k)
	}
	score := &nn.Linear{Weight: tensor.Zeros(k, backbone.Config.NEmbd).RequireGrad()}
	nn.Normal(score.Weight, 0, 0.02, rng)
	return &Classifier{GPT: backbone, Score: score}, nil
}

// Classes returns K, the number of classes.
func (c *Classifier) Classes() int { return c.Score.Weight.Dim(0) }

// Forward returns the logits (B, K) of a batch of token sequences x (B,
// T): ids as float32, each row's text followed by padding, a negative id
// (data.Pad writes such batches). The batch runs only up to its longest
// text. It panics on a row that is all padding, a text longer than
// BlockSize, or padding followed by an id.
func (c *Classifier) Forward(x *tensor.Tensor) *tensor.Tensor {
	if x.NDim() != 2 {
		panic(fmt.Sprintf("gpt: Classifier.Forward of shape %v: want (B, T) token ids", x.Shape()))
	}
	b, width := x.Dim(0), x.Dim(1)
	lengths, t := make([]int, b), 0
	for i := range b {
		row := x.Data[i*width : (i+1)*width]
		n := 0
		for n < width && row[n] >= 0 {
			n++
		}
		for _, v := range row[n:] {
			if v >= 0 {
				panic(fmt.Sprintf("gpt: Classifier.Forward: row %d has an id after its padding", i))
			}
		}
		if n == 0 || n > c.GPT.Config.BlockSize {
			panic(fmt.Sprintf("gpt: Classifier.Forward: row %d has %d tokens; want 1..%d", i, n, c.GPT.Config.BlockSize))
		}
		lengths[i], t = n, max(t, n)
	}
	ids := make([]int, b*t) // pads become id 0: no real position sees them
	last := make([]int, b)
	for i, n := range lengths {
		for j, v := range x.Data[i*width : i*width+n] {
			ids[i*t+j] = int(v)
		}
		last[i] = i*t + n - 1
	}
	h := c.GPT.Hidden(ids, b, t).Reshape(b*t, c.GPT.Config.NEmbd).IndexSelect(0, last) // (B, C)
	return c.Score.Forward(h)
}

// Truncate returns ids cut to the classifier's context window, keeping the
// beginning, and whether it cut anything.
func (c *Classifier) Truncate(ids []int) ([]int, bool) {
	if n := c.GPT.Config.BlockSize; len(ids) > n {
		return ids[:n], true
	}
	return ids, false
}

// LoadTensors copies a classifier's weights (Hugging Face's names; the
// "transformer." prefix is optional for the backbone) into c. Every
// parameter must be present with its shape.
func (c *Classifier) LoadTensors(ts map[string]*tensor.Tensor) error {
	clean := map[string]*tensor.Tensor{}
	for name, t := range ts {
		if !strings.HasPrefix(name, "transformer.") && name != "score.weight" {
			name = "transformer." + name
		}
		if strings.HasSuffix(name, ".attn.bias") || strings.HasSuffix(name, ".attn.masked_bias") {
			continue
		}
		clean[name] = t
	}
	return checkpoint.Assign(nn.Params(c), clean, true)
}
