package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/models/rnn"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tokenizer"
	"github.com/moxing/moxing/train"
)

// rnnLMMeta is the model metadata of a recurrent language model.
type rnnLMMeta struct {
	Kind   string     `json:"kind"` // "rnn-lm"
	Config rnn.Config `json:"config"`
	Window int        `json:"window"` // the training sequence length, also used to score text
}

// pretrainRNN is moxing pretrain --model lstm|gru|rnn: a recurrent
// language model trained by the same loop as the GPT.
func pretrainRNN(ctx context.Context, o pretrainOptions, runDir string, resume bool, stdout, stderr io.Writer) error {
	tok, trainIDs, valIDs, err := readPrepared(o.Data)
	if err != nil {
		return err
	}
	mc := rnn.Config{Kind: nn.RNNKind(o.Model), Vocab: tok.VocabSize(), Embed: o.Embd, Hidden: o.Hidden, Layers: o.Layers, Dropout: float32(o.Dropout)}
	if mc.Embed == 0 {
		mc.Embed = 64
	}
	if mc.Hidden == 0 {
		mc.Hidden = 256
	}
	if mc.Layers == 0 {
		mc.Layers = 2
	}
	window := o.Seq
	if window == 0 {
		window = 128
	}
	if err := checkWindows(o.Data, window, trainIDs, valIDs); err != nil {
		return err
	}
	m, err := rnn.NewLM(mc, rand.New(rand.NewPCG(o.Seed, 7)))
	if err != nil {
		return usageError{err.Error()}
	}
	if runDir, err = startRun(runDir, "pretrain", resume, o); err != nil {
		return err
	}
	var tb strings.Builder
	if err := tokenizer.Save(&tb, tok); err != nil {
		return err
	}
	mb, _ := json.Marshal(rnnLMMeta{Kind: "rnn-lm", Config: mc, Window: window})
	cfg := train.LMConfig{Steps: o.Steps, BatchSize: o.Batch, SeqLen: window, GradAccum: o.GradAccum, LR: float32(o.LR), Warmup: o.Warmup,
		EvalEvery: o.EvalEvery, Seed: o.Seed, Resume: resume, RunDir: runDir,
		Meta: map[string]string{metaModel: string(mb), metaTokenizer: tb.String()}}
	fmt.Fprintf(stderr, "%d training and %d validation tokens; %s %d layers, embedding %d, hidden %d, sequences of %d: %d parameters; run folder %s\n",
		len(trainIDs), len(valIDs), strings.ToUpper(o.Model), mc.Layers, mc.Embed, mc.Hidden, window, nn.NumParams(nn.Params(m)), runDir)
	return pretrainAndReport(ctx, m, trainIDs, valIDs, cfg, stdout, stderr)
}

// loadRNNLM loads a recurrent language model written by moxing pretrain.
func loadRNNLM(path string) (*rnn.LM, tokenizer.Tokenizer, int, error) {
	f, err := checkpoint.Load(path)
	if err != nil {
		return nil, nil, 0, err
	}
	var mm rnnLMMeta
	if err := json.Unmarshal([]byte(f.Metadata[metaModel]), &mm); err != nil || mm.Kind != "rnn-lm" {
		return nil, nil, 0, fmt.Errorf("%s: not a recurrent language model checkpoint", path)
	}
	tok, err := tokenizer.Load(strings.NewReader(f.Metadata[metaTokenizer]))
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%s: tokenizer: %w", path, err)
	}
	if tok.VocabSize() > mm.Config.Vocab || mm.Window < 1 {
		return nil, nil, 0, fmt.Errorf("%s: tokenizer of %d tokens and window %d for a model of %d", path, tok.VocabSize(), mm.Window, mm.Config.Vocab)
	}
	m, err := rnn.NewLM(mm.Config, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	if err := checkpoint.Assign(nn.Params(m), train.ModelTensors(f.Tensors), true); err != nil {
		return nil, nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	return m, tok, mm.Window, nil
}
