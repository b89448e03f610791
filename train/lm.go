package train

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/tensor"
)

// LMConfig configures language-model pretraining. Zero fields take the
// defaults noted.
type LMConfig struct {
	Steps       int     // optimizer steps (default 1000)
	BatchSize   int     // sequences per micro-batch (default 8)
	SeqLen      int     // tokens per sequence (default: the model's window, or 128 without one)
	GradAccum   int     // micro-batches per optimizer step (default 1)
	LR, MinLR   float32 // peak and final learning rate (defaults 1e-3 and LR/10)
	Warmup      int     // linear warmup steps (default Steps/20)
	WeightDecay float32 // AdamW decay, on matrices only (default 0.1)
	ClipNorm    float64 // gradient-norm clip (default 1)
	EvalEvery   int     // steps between validation losses (default Steps/10)
	EvalBatches int     // micro-batches per validation loss (default 8)
	Seed        uint64  // seeds batches and dropout

	// RunDir, when set, receives metrics.jsonl (one line per evaluation),
	// best.safetensors (the weights with the lowest validation loss, with
	// Meta in their metadata) and, at every evaluation, last.safetensors
	// (weights, optimizer moments, step and RNG states) to resume from.
	RunDir string
	Meta   map[string]string
	// Resume continues the run in RunDir from its last.safetensors: the
	// same model, data and Steps then give the same weights as a run that
	// was never stopped. Steps taken after the last evaluation are redone.
	Resume bool
}

// lmState is the loop state saved in last.safetensors.
type lmState struct {
	Step     int     `json:"step"`
	BestLoss float64 `json:"best_loss"`
	BestStep int     `json:"best_step"`
	RNG      []byte  `json:"rng"`
	EvalRNG  []byte  `json:"eval_rng"`
}

const metaPretrain = "moxing.pretrain"

// LanguageModel is a next-token model that Pretrain trains: the GPT
// (models/gpt) and the recurrent language model (models/rnn).
type LanguageModel interface {
	// Forward maps b windows of t token ids (row-major) to logits (b, t, V)
	// and, with targets (b·t next ids), their mean cross-entropy.
	Forward(idx []int, b, t int, targets []int) (logits, loss *tensor.Tensor)
	// Window is the longest window the model takes, 0 when it has no limit.
	Window() int
}

func (c *LMConfig) ensureDefaults(m LanguageModel) {
	if c.Steps == 0 {
		c.Steps = 1000
	}
	if c.BatchSize == 0 {
		c.BatchSize = 8
	}
	if c.SeqLen == 0 {
		c.SeqLen = m.Window()
	}
	if c.SeqLen == 0 {
		c.SeqLen = 128
	}
	if c.GradAccum == 0 {
		c.GradAccum = 1
	}
	if c.LR == 0 {
		c.LR = 1e-3
	}
	if c.MinLR == 0 {
		c.MinLR = c.LR / 10
	}
	if c.Warmup == 0 {
		c.Warmup = max(1, c.Steps/20)
	}
	if c.WeightDecay == 0 {
		c.WeightDecay = 0.1
	}
	if c.ClipNorm == 0 {
		c.ClipNorm = 1
	}
	if c.EvalEvery == 0 {
		c.EvalEvery = max(1, c.Steps/10)
	}
	if c.EvalBatches == 0 {
		c.EvalBatches = 8
	}
}

// LMResult is how a pretraining run ended.
type LMResult struct {
	Steps    int     // optimizer steps taken
	BestStep int     // the step whose weights the model holds at the end
	BestLoss float64 // validation loss at BestStep
	History  []Epoch // one record per evaluation (Epoch is the step)
}

// Pretrain trains m as a language model on the token sequence trainTokens,
// with AdamW (weight decay on matrices only), linear warmup and cosine
// decay, gradient clipping and accumulation, and measures the loss on val
// every EvalEvery steps; the model ends with the weights of the best
// evaluation. Progress goes to obs (Batch.Batch is the step); each
// evaluation is an Epoch record whose Epoch is the step. A cancelled ctx
// stops between steps and returns its error with the result so far.
func Pretrain(ctx context.Context, m LanguageModel, trainTokens, val []int, cfg LMConfig, obs Observer) (LMResult, error) {
	cfg.ensureDefaults(m)
	if w := m.Window(); w > 0 && cfg.SeqLen > w {
		return LMResult{}, fmt.Errorf("train: sequence length %d exceeds the model's window %d", cfg.SeqLen, w)
	}
	for name, toks := range map[string][]int{"training": trainTokens, "validation": val} {
		if len(toks) < cfg.SeqLen+1 {
			return LMResult{}, fmt.Errorf("train: the %s split has %d tokens, fewer than one window of %d", name, len(toks), cfg.SeqLen+1)
		}
	}
	pcg, evalPCG := rand.NewPCG(cfg.Seed, 0x6c6d), rand.NewPCG(cfg.Seed, 0x76616c)
	rng, evalRNG := rand.New(pcg), rand.New(evalPCG)
	params := nn.Params(m)
	opt := optim.NewAdamW(params, optim.AdamConfig{LR: cfg.LR, Beta2: 0.95, WeightDecay: cfg.WeightDecay,
		Decay: func(p nn.Param) bool { return p.NDim() >= 2 }})
	res := LMResult{BestLoss: math.Inf(1)}
	var best map[string][]float32
	first := 0
	if cfg.Resume {
		st, b, err := resumeLM(cfg.RunDir, params, opt, pcg, evalPCG)
		if err != nil {
			return res, err
		}
		first, best = st.Step, b
		res.Steps, res.BestLoss, res.BestStep = st.Step, st.BestLoss, st.BestStep
	}
	sched := optim.WarmupCosine{MaxLR: cfg.LR, MinLR: cfg.MinLR, WarmupSteps: cfg.Warmup, DecaySteps: cfg.Steps}
	var log *os.File
	if cfg.RunDir != "" {
		var err error
		if log, err = os.OpenFile(filepath.Join(cfg.RunDir, "metrics.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return LMResult{}, fmt.Errorf("train: %w", err)
		}
		defer log.Close()
	}
	b, t := cfg.BatchSize, cfg.SeqLen
	arena := tensor.NewArena() // each micro-batch reuses the previous one's buffers
	nn.UseArena(m, arena)
	defer nn.UseArena(m, nil)
	start := time.Now()
	var lossSum float64
	var lossN int
	for step := first; step < cfg.Steps; step++ {
		if err := ctx.Err(); err != nil {
			restore(params, best)
			return res, err
		}
		nn.Train(m, rng)
		opt.ZeroGrad()
		var stepLoss float64
		for range cfg.GradAccum {
			x, y := data.Windows(trainTokens, b, t, rng)
			_, loss := m.Forward(x, b, t, y)
			if cfg.GradAccum > 1 {
				loss = loss.MulScalar(1 / float32(cfg.GradAccum))
			}
			loss.Backward()
			stepLoss += float64(loss.Item())
			arena.Reset()
		}
		optim.ClipGradNorm(params, cfg.ClipNorm)
		opt.SetLR(sched.At(step))
		opt.Step()
		res.Steps = step + 1
		lossSum += stepLoss
		lossN++
		if obs != nil {
			obs.Batch(Batch{Epoch: 1, Epochs: 1, Batch: step + 1, Batches: cfg.Steps, Loss: stepLoss})
		}
		if (step+1)%cfg.EvalEvery != 0 && step+1 != cfg.Steps {
			continue
		}
		vl := evalLoss(m, val, b, t, cfg.EvalBatches, evalRNG)
		e := Epoch{Epoch: step + 1, TrainLoss: lossSum / float64(lossN), Val: map[string]float64{"val_loss": vl},
			LR: float64(opt.LR()), Seconds: time.Since(start).Seconds()}
		lossSum, lossN = 0, 0
		if vl < res.BestLoss {
			e.Best = true
			res.BestLoss, res.BestStep = vl, step+1
			best = snapshot(params)
			if cfg.RunDir != "" {
				if err := saveCheckpoint(filepath.Join(cfg.RunDir, "best.safetensors"), params, nil, cfg.Meta, "", nil); err != nil {
					return res, err
				}
			}
		}
		res.History = append(res.History, e)
		if log != nil {
			line, _ := json.Marshal(e)
			if _, err := log.Write(append(line, '\n')); err != nil {
				return res, fmt.Errorf("train: metrics.jsonl: %w", err)
			}
		}
		if obs != nil {
			obs.Epoch(e)
		}
		if cfg.RunDir != "" {
			if err := saveLast(cfg, params, opt, lmState{Step: step + 1, BestLoss: res.BestLoss, BestStep: res.BestStep}, pcg, evalPCG); err != nil {
				return res, err
			}
		}
	}
	restore(params, best)
	return res, nil
}

// saveLast writes last.safetensors: weights, optimizer state, Meta and the
// loop state with both RNG states.
func saveLast(cfg LMConfig, params []nn.Param, opt optim.Optimizer, st lmState, pcg, evalPCG *rand.PCG) error {
	var err error
	if st.RNG, err = pcg.MarshalBinary(); err != nil {
		return err
	}
	if st.EvalRNG, err = evalPCG.MarshalBinary(); err != nil {
		return err
	}
	return saveCheckpoint(filepath.Join(cfg.RunDir, "last.safetensors"), params, opt, cfg.Meta, metaPretrain, st)
}

// resumeLM restores weights, optimizer and RNG states from
// dir/last.safetensors, and returns the loop state and the best weights.
func resumeLM(dir string, params []nn.Param, opt optim.Optimizer, pcg, evalPCG *rand.PCG) (lmState, map[string][]float32, error) {
	var st lmState
	path := filepath.Join(dir, "last.safetensors")
	if err := loadCheckpoint(path, params, opt, metaPretrain, &st); err != nil {
		return st, nil, err
	}
	if err := pcg.UnmarshalBinary(st.RNG); err != nil {
		return st, nil, fmt.Errorf("%s: rng: %w", path, err)
	}
	if err := evalPCG.UnmarshalBinary(st.EvalRNG); err != nil {
		return st, nil, fmt.Errorf("%s: rng: %w", path, err)
	}
	return st, loadBest(dir), nil
}

// evalLoss is the mean loss of n random (b, t) batches of tokens, without
// recording gradients.
func evalLoss(m LanguageModel, tokens []int, b, t, n int, rng *rand.Rand) float64 {
	inf := nn.Detach(m)
	nn.Eval(inf)
	arena := tensor.NewArena()
	nn.UseArena(inf, arena)
	var sum float64
	for range n {
		x, y := data.Windows(tokens, b, t, rng)
		_, loss := inf.Forward(x, b, t, y)
		sum += float64(loss.Item())
		arena.Reset()
	}
	return sum / float64(n)
}
