package recipe

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/dist"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/models/rnn"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tokenizer"
	"github.com/moxing/moxing/train"
)

// PretrainOptions are the settings of Pretrain (moxing pretrain): a GPT
// or a recurrent language model on prepared token files. config.json in
// the run folder holds them.
type PretrainOptions struct {
	Data        string  `json:"data" flag:"data" help:"folder with tokenizer.json, train.tok, val.tok"`
	Config      string  `json:"config" flag:"config" def:"tiny" help:"tiny or gpt2-small (then --layers, --heads, --embd, --seq override)"`
	Layers      int     `json:"layers" flag:"layers" help:"transformer blocks (lstm/gru/rnn: recurrent layers, default 2)" range:"[0,)"`
	Heads       int     `json:"heads" flag:"heads" help:"attention heads" range:"[0,)"`
	Embd        int     `json:"embd" flag:"embd" help:"channels (lstm/gru/rnn: embedding width, default 64)" range:"[0,)"`
	Seq         int     `json:"seq" flag:"seq" help:"context window (lstm/gru/rnn: training sequence length, default 128)" range:"[0,)"`
	Dropout     float64 `json:"dropout" flag:"dropout" help:"dropout" range:"[0,1)"`
	Steps       int     `json:"steps" flag:"steps" def:"1000" help:"optimizer steps (with --resume: the new total, to extend a run)" range:"(0,)"`
	Batch       int     `json:"batch" flag:"batch-size" def:"8" help:"sequences per micro-batch" range:"(0,)"`
	GradAccum   int     `json:"grad_accum" flag:"grad-accum" def:"1" help:"micro-batches per step" range:"(0,)"`
	LR          float64 `json:"lr" flag:"lr" def:"1e-3" help:"peak learning rate" range:"(0,)"`
	WeightDecay float64 `json:"weight_decay" flag:"weight-decay" def:"0.1" help:"AdamW weight decay, on matrices only (0: none)" range:"[0,)"`
	Warmup      int     `json:"warmup" flag:"warmup" def:"-1" help:"warmup steps (-1: steps/20)" range:"[-1,)"`
	EvalEvery   int     `json:"eval_every" flag:"eval-every" help:"steps between validation losses (0: steps/10)" range:"[0,)"`
	Seed        uint64  `json:"seed" flag:"seed" def:"1" help:"random seed"`
	DataHash    string  `json:"data_sha256,omitempty"` // the data's fingerprint, recorded by Pretrain and checked on resume
	Arch        string  `json:"model" flag:"arch" def:"gpt" help:"gpt, or a recurrent language model: lstm, gru or rnn (then --layers, --embd, --hidden, --seq)"`
	Hidden      int     `json:"hidden,omitempty" flag:"hidden" help:"lstm/gru/rnn: hidden units (default 256)" range:"[0,)"`
	// World and GlobalBatch record a data-parallel run's processes and
	// sequences per micro-batch over all of them (Batch each). A resumed
	// run keeps its global batch, on any number of processes that divides
	// it.
	World       int `json:"world_size,omitempty"`
	GlobalBatch int `json:"global_batch,omitempty"`
}

// LMResult is how a language-model run ended. Its JSON is what moxing
// pretrain --json prints (the fields in the order of their keys).
type LMResult struct {
	BestLoss   float64 `json:"best_loss"`  // the lowest validation loss
	BestStep   int     `json:"best_step"`  // the step of BestLoss, whose weights best.safetensors holds
	Checkpoint string  `json:"checkpoint"` // the run's best.safetensors
	Perplexity float64 `json:"perplexity"` // exp(BestLoss)
	Run        string  `json:"run"`        // the run folder
	Steps      int     `json:"steps"`      // optimizer steps taken in all, resumed ones included
}

// Pretrain trains the language model o.Arch names ("gpt", or a recurrent
// "lstm", "gru" or "rnn") on the token files of the folder o.Data (see
// data.ReadPrepared), in the run folder f: AdamW with decay on matrices,
// warmup and cosine decay, the validation loss every o.EvalEvery steps,
// the best weights kept with the tokenizer. When ctx is cancelled the run
// is saved to resume and the error wraps ctx's, with the result so far.
func Pretrain(ctx context.Context, o PretrainOptions, f Folder, obs train.Observer, log io.Writer) (*LMResult, error) {
	if err := Check(&o); err != nil {
		return nil, err
	}
	obs, log = f.quiet(obs, log)
	var err error
	if o.Batch, err = f.jobBatch(o.Batch, &o.World, &o.GlobalBatch); err != nil {
		return nil, err
	}
	ranks := dist.Or(f.Comm).Size()
	f.start("pretrain", &o.Data)
	if err := f.checkData(o.Data, &o.DataHash); err != nil {
		return nil, err
	}
	if o.Data == "" {
		return nil, optionf("--data is required (a folder written by moxing prepare)")
	}
	var build func(o PretrainOptions, tok tokenizer.Tokenizer, trainIDs, valIDs data.Tokens) (*languageModel, error)
	switch o.Arch {
	case "lstm", "gru", "rnn":
		build = rnnLM
	case "gpt", "":
		build = gptLM
	default:
		return nil, optionf("--arch %q: want gpt, lstm, gru or rnn", o.Arch)
	}
	tok, trainIDs, valIDs, err := data.ReadPrepared(o.Data)
	if err != nil {
		return nil, err
	}
	lm, err := build(o, tok, trainIDs, valIDs)
	if err != nil {
		return nil, err
	}
	loop := lmLoop(lm.model, o, lm.seqLen, lm.card.Metadata(checkpoint.MetaCard))
	if loop.Run, err = f.open(o); err != nil {
		return nil, err
	}
	defer loop.Run.Close()
	fmt.Fprintf(log, "%d training and %d validation tokens; %s: %d parameters; run folder %s\n",
		trainIDs.Len(), valIDs.Len(), lm.about, nn.NumParams(nn.Params(lm.model)), f.Dir)
	if ranks > 1 {
		fmt.Fprintf(log, "data-parallel on %d processes: %d sequences each, %d a step\n", ranks, o.Batch, o.GlobalBatch*o.GradAccum)
	}
	loop.Observer, loop.Comm = obs, f.Comm
	return fitLM(ctx, loop, f.Resume, trainIDs, valIDs, f.Dir)
}

// languageModel is a language model ready to pretrain: what Pretrain's
// recipes build before the run folder exists.
type languageModel struct {
	model  train.LanguageModel
	card   *checkpoint.Card
	seqLen int    // tokens per training sequence
	about  string // the model, for the log
}

// gptLM is Pretrain --arch gpt: the architecture o.Config names, with
// o's overrides, for the vocabulary of tok.
func gptLM(o PretrainOptions, tok tokenizer.Tokenizer, trainIDs, valIDs data.Tokens) (*languageModel, error) {
	mc, err := o.gptConfig(tok.VocabSize())
	if err != nil {
		return nil, err
	}
	// Checked here, before a run folder exists, so that a failed start
	// leaves nothing behind.
	if err := data.CheckWindows(o.Data, mc.BlockSize, trainIDs, valIDs); err != nil {
		return nil, err
	}
	m, err := gpt.New(mc, rand.New(rand.NewPCG(o.Seed, 7)))
	if err != nil {
		return nil, &OptionError{err.Error()}
	}
	card, err := (&gpt.Pretrained{LM: m, Tokenizer: tok}).Card()
	if err != nil {
		return nil, err
	}
	return &languageModel{model: m, card: card, seqLen: mc.BlockSize,
		about: fmt.Sprintf("GPT %d layers, %d heads, %d channels, window %d", mc.NLayer, mc.NHead, mc.NEmbd, mc.BlockSize)}, nil
}

// gptConfig is the architecture o.Config and its overrides describe, for a
// vocabulary of vocab tokens.
func (o PretrainOptions) gptConfig(vocab int) (gpt.Config, error) {
	mc, ok := gpt.Preset(o.Config)
	if !ok {
		return mc, optionf("--config %q: want tiny or gpt2-small", o.Config)
	}
	mc.VocabSize, mc.Dropout = vocab, float32(o.Dropout)
	mc.NLayer, mc.NHead, mc.NEmbd, mc.BlockSize = orDefault(o.Layers, mc.NLayer), orDefault(o.Heads, mc.NHead), orDefault(o.Embd, mc.NEmbd), orDefault(o.Seq, mc.BlockSize)
	return mc, nil
}

// rnnLM is Pretrain --arch lstm|gru|rnn: a recurrent language model,
// trained by the same loop as the GPT.
func rnnLM(o PretrainOptions, tok tokenizer.Tokenizer, trainIDs, valIDs data.Tokens) (*languageModel, error) {
	mc := rnn.Config{Kind: nn.RNNKind(o.Arch), Vocab: tok.VocabSize(), Embed: o.Embd, Hidden: o.Hidden, Layers: o.Layers, Dropout: float32(o.Dropout)}
	mc.Embed, mc.Hidden, mc.Layers = orDefault(mc.Embed, 64), orDefault(mc.Hidden, 256), orDefault(mc.Layers, 2)
	window := orDefault(o.Seq, 128)
	if err := data.CheckWindows(o.Data, window, trainIDs, valIDs); err != nil {
		return nil, err
	}
	m, err := rnn.NewLM(mc, rand.New(rand.NewPCG(o.Seed, 7)))
	if err != nil {
		return nil, &OptionError{err.Error()}
	}
	card, err := (&rnn.Pretrained{LM: m, Tokenizer: tok, Window: window}).Card()
	if err != nil {
		return nil, err
	}
	return &languageModel{model: m, card: card, seqLen: window,
		about: fmt.Sprintf("%s %d layers, embedding %d, hidden %d, sequences of %d", strings.ToUpper(o.Arch), mc.Layers, mc.Embed, mc.Hidden, window)}, nil
}

// lmLoop is Pretrain's training loop for m on sequences of seqLen tokens:
// AdamW (β2 0.95, decay on matrices), warmup and cosine decay, the
// gradient norm clipped to 1.
func lmLoop(m train.LanguageModel, o PretrainOptions, seqLen int, meta map[string]string) *train.LM {
	warmup := o.Warmup
	if warmup < 0 {
		warmup = max(1, o.Steps/20)
	}
	cfg := train.DefaultLMConfig()
	cfg.Steps, cfg.BatchSize, cfg.SeqLen, cfg.GradAccum, cfg.Seed, cfg.Meta = o.Steps, o.Batch, seqLen, o.GradAccum, o.Seed, meta
	cfg.EvalEvery = orDefault(o.EvalEvery, max(1, o.Steps/10))
	cfg.Schedule = train.LMSchedule(float32(o.LR), warmup, o.Steps)
	return &train.LM{Model: m, Opt: train.NewLMOptimizer(nn.Params(m), float32(o.LR), float32(o.WeightDecay)), Config: cfg}
}

// fitLM runs loop (resumed from its run's last.safetensors when resume)
// and says how it ended.
func fitLM(ctx context.Context, loop *train.LM, resume bool, trainIDs, valIDs data.Tokens, dir string) (*LMResult, error) {
	if resume && loop.Run != nil { // rank 0 resumes, and Fit gives the others its state
		if err := loop.Resume(); err != nil {
			return nil, err
		}
	}
	res, err := loop.Fit(ctx, trainIDs, valIDs)
	return &LMResult{Steps: res.Steps, BestStep: res.BestStep, BestLoss: res.BestLoss, Perplexity: math.Exp(res.BestLoss),
		Run: dir, Checkpoint: filepath.Join(dir, "best.safetensors")}, err
}
