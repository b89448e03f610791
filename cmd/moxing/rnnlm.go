package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/models/rnn"
	"github.com/moxing/moxing/nn"
)

// pretrainRNN is moxing pretrain --arch lstm|gru|rnn: a recurrent
// language model trained by the same loop as the GPT.
func pretrainRNN(ctx context.Context, o pretrainOptions, rf runFolder, stdout, stderr io.Writer) error {
	tok, trainIDs, valIDs, err := data.ReadPrepared(o.Data)
	if err != nil {
		return err
	}
	mc := rnn.Config{Kind: nn.RNNKind(o.Arch), Vocab: tok.VocabSize(), Embed: o.Embd, Hidden: o.Hidden, Layers: o.Layers, Dropout: float32(o.Dropout)}
	mc.Embed, mc.Hidden, mc.Layers = orDefault(mc.Embed, 64), orDefault(mc.Hidden, 256), orDefault(mc.Layers, 2)
	window := orDefault(o.Seq, 128)
	if err := data.CheckWindows(o.Data, window, trainIDs, valIDs); err != nil {
		return err
	}
	m, err := rnn.NewLM(mc, rand.New(rand.NewPCG(o.Seed, 7)))
	if err != nil {
		return usageError{err.Error()}
	}
	card, err := (&rnn.Pretrained{LM: m, Tokenizer: tok, Window: window}).Card()
	if err != nil {
		return err
	}
	desc := fmt.Sprintf("%s %d layers, embedding %d, hidden %d, sequences of %d", strings.ToUpper(o.Arch), mc.Layers, mc.Embed, mc.Hidden, window)
	return pretrainModel(ctx, o, rf, m, card, window, desc, trainIDs, valIDs, stdout, stderr)
}

// orDefault is v, or def when v is 0 (a flag whose default depends on the
// model).
func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
