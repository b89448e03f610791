package train

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/dist"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/tensor"
)

// LMConfig configures language-model training. A zero means zero;
// DefaultLMConfig gives the usual settings.
type LMConfig struct {
	Steps       int     // optimizer steps, at least 1
	BatchSize   int     // sequences per micro-batch, at least 1
	SeqLen      int     // tokens per sequence, at least 1 and at most the model's window
	GradAccum   int     // micro-batches per optimizer step, at least 1
	ClipNorm    float64 // gradient-norm clip; 0 does not clip
	EvalEvery   int     // steps between validation losses, at least 1
	EvalBatches int     // micro-batches per validation loss, at least 1
	Seed        uint64  // seeds batches and dropout

	// Schedule, when set, gives the learning rate of each optimizer step;
	// otherwise the optimizer keeps its own.
	Schedule optim.Schedule
	// Meta is the metadata stored in both checkpoints (the model's card).
	Meta map[string]string
}

// DefaultLMConfig is 1000 steps of 8 sequences of 128 tokens, the
// gradient norm clipped to 1, a validation loss over 8 batches every 100
// steps. Its Schedule is nil: see LMSchedule.
func DefaultLMConfig() LMConfig {
	return LMConfig{Steps: 1000, BatchSize: 8, SeqLen: 128, GradAccum: 1, ClipNorm: 1, EvalEvery: 100, EvalBatches: 8}
}

// Validate reports the first problem with c.
func (c LMConfig) Validate() error {
	if c.Steps < 1 || c.BatchSize < 1 || c.SeqLen < 1 || c.GradAccum < 1 || c.EvalEvery < 1 || c.EvalBatches < 1 {
		return fmt.Errorf("train: steps %d, batch %d, sequence length %d, accumulation %d, eval every %d, eval batches %d: each must be at least 1",
			c.Steps, c.BatchSize, c.SeqLen, c.GradAccum, c.EvalEvery, c.EvalBatches)
	}
	if c.ClipNorm < 0 {
		return fmt.Errorf("train: clip norm %g is negative", c.ClipNorm)
	}
	return nil
}

// NewLMOptimizer is the optimizer language models are usually trained
// with, as GPT-2 and nanoGPT do: AdamW with β2 0.95 and weight decay on
// matrices only (not biases, layer norms or gains).
func NewLMOptimizer(params []nn.Param, lr, weightDecay float32) *optim.Adam {
	return optim.NewAdamW(params, optim.AdamConfig{LR: lr, Beta1: 0.9, Beta2: 0.95, WeightDecay: weightDecay,
		Decay: func(p nn.Param) bool { return p.NDim() >= 2 }})
}

// LMSchedule is linear warmup over warmup steps to lr, then cosine decay
// to lr/10 at steps.
func LMSchedule(lr float32, warmup, steps int) optim.Schedule {
	return optim.WarmupCosine{MaxLR: lr, MinLR: lr / 10, WarmupSteps: warmup, DecaySteps: steps}
}

// lmState is the loop state saved in last.safetensors.
type lmState struct {
	Step     int     `json:"step"`
	BestLoss float64 `json:"best_loss"`
	BestStep int     `json:"best_step"`
	RNG      []byte  `json:"rng"`
	EvalRNG  []byte  `json:"eval_rng"`
}

func (s *lmState) bestSaved() bool { return s.BestStep > 0 }

// LanguageModel is a next-token model that LM trains: the GPT
// (models/gpt) and the recurrent language model (models/rnn).
type LanguageModel interface {
	// Forward maps b windows of t token ids (row-major) to logits (b, t, V)
	// and, with targets (b·t next ids), their mean cross-entropy.
	Forward(idx []int, b, t int, targets []int) (logits, loss *tensor.Tensor)
	// Window is the longest window the model takes, 0 when it has no limit.
	Window() int
}

// LMResult is how a language-model run ended.
type LMResult struct {
	Steps    int     // optimizer steps taken in all (including resumed ones)
	BestStep int     // the step whose weights the model holds at the end
	BestLoss float64 // validation loss at BestStep
	History  []Epoch // one record per evaluation of this Fit (Epoch is the step)
}

// LM trains a language model on a token sequence, the same loop shape as
// Supervised: batch → forward → backward (accumulated) → clip → schedule →
// step, a validation loss every EvalEvery steps, the best weights kept.
type LM struct {
	Model    LanguageModel
	Opt      optim.Optimizer // built by the caller (see NewLMOptimizer)
	Config   LMConfig
	Observer Observer // may be nil; Batch.Batch is the step, and each evaluation is an Epoch whose Epoch is the step
	// Run, when set, receives metrics.jsonl (one line per evaluation),
	// best.safetensors (the weights with the lowest validation loss) and
	// last.safetensors (weights, optimizer state, step and RNG states),
	// written at every evaluation and when interrupted.
	Run *Run
	// Comm, when it has more than one rank, trains data-parallel: each rank
	// takes its BatchSize share of a global batch of BatchSize·Size
	// sequences (drawn alike on every rank from Seed), the gradients are
	// summed across ranks and scaled by 1/Size before clipping and the
	// step, so that every replica takes the same step as one process with
	// the global batch. Rank 0's weights, optimizer and loop state are
	// broadcast when Fit starts (after its Resume). Give rank 0 alone the
	// Run and the Observer: it evaluates, logs and saves while the others
	// wait. nil is one process.
	Comm dist.Comm

	pcg, evalPCG *rand.PCG
	flat         []float32 // the gradients, as one buffer, with the loss and a stop flag
	st           lmState
	best         map[string][]float32
	ready        bool
}

func (l *LM) init() error {
	if l.ready {
		return nil
	}
	if err := l.Config.Validate(); err != nil {
		return err
	}
	if w := l.Model.Window(); w > 0 && l.Config.SeqLen > w {
		return fmt.Errorf("train: sequence length %d exceeds the model's window %d", l.Config.SeqLen, w)
	}
	l.ready = true
	l.pcg, l.evalPCG = rand.NewPCG(l.Config.Seed, 0x6c6d), rand.NewPCG(l.Config.Seed, 0x76616c)
	l.st = lmState{BestLoss: math.MaxFloat64}
	return nil
}

// Resume restores weights, optimizer and RNG states, the step and the best
// loss from the Run's last.safetensors, and the best weights from its
// best.safetensors. With the same model, data and Config the run then ends
// with the same weights as one that was never stopped; a larger
// Config.Steps extends it (the schedule is the caller's: give it the new
// total). A run that saved no last.safetensors starts over, as
// Supervised.Resume's does.
func (l *LM) Resume() error {
	if err := l.init(); err != nil {
		return err
	}
	if l.Run == nil {
		return errors.New("train: Resume without a Run")
	}
	var st lmState
	best, err := l.Run.loadLast(nn.Params(l.Model), l.Opt, &st)
	if errors.Is(err, errNothingSaved) {
		return l.Run.trimMetrics(0) // start over, as a fresh Fit would
	}
	if err != nil {
		return err
	}
	if err := l.pcg.UnmarshalBinary(st.RNG); err != nil {
		return fmt.Errorf("%s: rng: %w", l.Run.Dir, err)
	}
	if err := l.evalPCG.UnmarshalBinary(st.EvalRNG); err != nil {
		return fmt.Errorf("%s: rng: %w", l.Run.Dir, err)
	}
	l.st, l.best = st, best
	return l.Run.trimMetrics(st.Step)
}

// Fit trains for the remaining steps of Config.Steps on trainTokens,
// measuring the loss on val every EvalEvery steps (and after the last), and
// leaves the model with the weights of the best evaluation. A cancelled ctx
// stops between steps, saves last.safetensors (Resume continues from that
// step) and returns ctx's error with the result so far.
func (l *LM) Fit(ctx context.Context, trainTokens, val data.Tokens) (LMResult, error) {
	if err := l.init(); err != nil {
		return LMResult{}, err
	}
	cfg := l.Config
	for name, toks := range map[string]data.Tokens{"training": trainTokens, "validation": val} {
		if toks.Len() < cfg.SeqLen+1 {
			return LMResult{}, fmt.Errorf("train: the %s split has %d tokens, fewer than one window of %d", name, toks.Len(), cfg.SeqLen+1)
		}
	}
	rng, evalRNG := rand.New(l.pcg), rand.New(l.evalPCG)
	params := nn.Params(l.Model)
	res := LMResult{}
	finish := func() LMResult {
		restore(params, l.best)
		res.Steps, res.BestStep, res.BestLoss = l.st.Step, l.st.BestStep, l.st.BestLoss
		return res
	}
	comm := dist.Or(l.Comm)
	ranks, rank := comm.Size(), comm.Rank()
	if ranks > 1 {
		if err := syncFromRoot(params, l.Opt, &l.st, comm, l.pcg, l.evalPCG); err != nil {
			return finish(), err
		}
	}
	b, t := cfg.BatchSize, cfg.SeqLen
	shard := func(ids []int) []int { return ids[rank*b*t : (rank+1)*b*t] }
	arena := tensor.NewArena() // each micro-batch reuses the previous one's buffers
	nn.UseArena(l.Model, arena)
	defer nn.UseArena(l.Model, nil)
	start := time.Now()
	var lossSum float64
	var lossN int
	for l.st.Step < cfg.Steps {
		step := l.st.Step
		if stop, err := agreeStop(ctx, comm); stop || err != nil {
			err = errors.Join(cmp.Or(err, ctx.Err(), errPeerStopped), l.saveLast(params)) // before finish puts the best weights back
			return finish(), err
		}
		nn.Train(l.Model, rng)
		l.Opt.ZeroGrad()
		var stepLoss float64
		for range cfg.GradAccum {
			x, y := data.Windows(trainTokens, b*ranks, t, rng)
			_, loss := l.Model.Forward(shard(x), b, t, shard(y))
			if cfg.GradAccum > 1 {
				loss = loss.MulScalar(1 / float32(cfg.GradAccum))
			}
			loss.Backward()
			stepLoss += float64(loss.Item())
			arena.Reset()
		}
		if ranks > 1 {
			var err error
			if stepLoss, err = reduceGrads(params, stepLoss, 1/float32(ranks), comm, &l.flat); err != nil {
				return finish(), err
			}
		}
		if math.IsNaN(stepLoss) || math.IsInf(stepLoss, 0) {
			return finish(), diverged(fmt.Sprintf("step %d", step+1), stepLoss)
		}
		if cfg.ClipNorm > 0 {
			optim.ClipGradNorm(params, cfg.ClipNorm)
		}
		if cfg.Schedule != nil {
			l.Opt.SetLR(cfg.Schedule.At(step))
		}
		l.Opt.Step()
		l.st.Step = step + 1
		lossSum += stepLoss
		lossN++
		if l.Observer != nil {
			l.Observer.Batch(Batch{Epoch: 1, Epochs: 1, Batch: step + 1, Batches: cfg.Steps, Loss: stepLoss})
		}
		if (step+1)%cfg.EvalEvery != 0 && step+1 != cfg.Steps {
			continue
		}
		vl, err := evalLoss(l.Model, val, b, t, cfg.EvalBatches, evalRNG, comm)
		if err != nil {
			return finish(), err
		}
		e := Epoch{Epoch: step + 1, Unit: "step", TrainLoss: lossSum / float64(lossN), Val: map[string]float64{"val_loss": vl},
			LR: float64(l.Opt.LR()), Seconds: time.Since(start).Seconds()}
		lossSum, lossN = 0, 0
		if vl < l.st.BestLoss {
			e.Best = true
			l.st.BestLoss, l.st.BestStep = vl, step+1
			l.best = snapshot(params)
			if l.Run != nil {
				if err := l.Run.saveBest(params, cfg.Meta); err != nil {
					return finish(), err
				}
			}
		}
		res.History = append(res.History, e)
		if l.Run != nil {
			if err := l.Run.logEpoch(e); err != nil {
				return finish(), err
			}
		}
		if l.Observer != nil {
			l.Observer.Epoch(e)
		}
		if err := l.saveLast(params); err != nil {
			return finish(), err
		}
	}
	return finish(), nil
}

// saveLast writes the Run's last.safetensors (nothing without a Run).
func (l *LM) saveLast(params []nn.Param) error {
	if l.Run == nil {
		return nil
	}
	st := l.st
	var err error
	if st.RNG, err = l.pcg.MarshalBinary(); err != nil {
		return err
	}
	if st.EvalRNG, err = l.evalPCG.MarshalBinary(); err != nil {
		return err
	}
	return l.Run.saveLast(params, l.Opt, l.Config.Meta, st)
}

// evalLoss is the mean loss of n random batches of b·Size (t-token)
// windows, without recording gradients: each rank scores its b of each,
// and the ranks' means are averaged.
func evalLoss(m LanguageModel, tokens data.Tokens, b, t, n int, rng *rand.Rand, comm dist.Comm) (float64, error) {
	inf := nn.Detach(m)
	nn.Eval(inf)
	arena := tensor.NewArena()
	nn.UseArena(inf, arena)
	ranks, rank := comm.Size(), comm.Rank()
	var sum float64
	for range n {
		x, y := data.Windows(tokens, b*ranks, t, rng)
		_, loss := inf.Forward(x[rank*b*t:(rank+1)*b*t], b, t, y[rank*b*t:(rank+1)*b*t])
		sum += float64(loss.Item())
		arena.Reset()
	}
	mean := []float32{float32(sum / float64(n))}
	if ranks == 1 {
		return sum / float64(n), nil
	}
	if err := comm.AllReduce(mean); err != nil {
		return 0, err
	}
	return float64(mean[0]) / float64(ranks), nil
}
