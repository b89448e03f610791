// Package train holds moxing's training loops, readable top to bottom:
// batch → forward → loss → zero grad → backward → clip → schedule → step →
// log → evaluate → save. Progress reaches the outside through Observer.
package train

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/dist"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/tensor"
)

// Config configures Supervised. A zero means zero; DefaultConfig gives
// the usual settings.
type Config struct {
	Epochs    int     // passes over the training set, at least 1
	BatchSize int     // rows per optimizer step, at least 1
	Monitor   string  // validation metric deciding the best epoch and early stopping: "val_loss", "val_accuracy", "val_f1", "val_auc", "val_r2", … ("loss" means "val_loss")
	Patience  int     // stop after this many epochs without improvement; 0 never stops early
	MinDelta  float64 // the least change of Monitor that counts as an improvement
	ClipNorm  float64 // clip the global gradient norm to this; 0 does not clip
	Seed      uint64  // seeds batch shuffling and dropout

	// Schedule, when set, gives the learning rate of each optimizer step.
	Schedule optim.Schedule
	// Augment, when set, transforms the inputs of each training batch (for
	// images, data.RandomShift); validation sees the data as it is.
	Augment func(x *tensor.Tensor, rng *rand.Rand) *tensor.Tensor
	// Meta is the metadata stored in both checkpoints (the model's card),
	// so that a checkpoint can be used on its own.
	Meta map[string]string
}

// DefaultConfig is 100 epochs of 32 rows, monitoring the validation loss.
func DefaultConfig() Config { return Config{Epochs: 100, BatchSize: 32, Monitor: "val_loss"} }

// Validate reports the first problem with c.
func (c Config) Validate() error {
	switch {
	case c.Epochs < 1 || c.BatchSize < 1:
		return fmt.Errorf("train: %d epochs of batches of %d: both must be at least 1", c.Epochs, c.BatchSize)
	case c.Monitor == "":
		return errors.New("train: no metric to monitor (Monitor)")
	case c.Patience < 0 || c.MinDelta < 0 || c.ClipNorm < 0:
		return errors.New("train: negative Patience, MinDelta or ClipNorm")
	}
	return nil
}

// monitor is Monitor with its "val_" prefix.
func (c Config) monitor() string {
	if strings.HasPrefix(c.Monitor, "val_") {
		return c.Monitor
	}
	return "val_" + c.Monitor
}

// minimized reports whether a smaller value of metric is better.
func minimized(metric string) bool {
	switch strings.TrimPrefix(metric, "val_") {
	case "loss", "log_loss", "mse", "rmse", "mae":
		return true
	}
	return false
}

// Observer receives progress. Calls come from the training goroutine.
type Observer interface {
	Batch(b Batch) // after every optimizer step
	Epoch(e Epoch) // after every epoch's validation
}

// Batch is the progress after one optimizer step.
type Batch struct {
	Epoch, Epochs  int // 1-based epoch, of Epochs
	Batch, Batches int // 1-based batch within the epoch, of Batches
	Loss           float64
}

// Epoch is the record of one epoch, as written to metrics.jsonl; for the
// language-model loop, of one evaluation, and Epoch is the step.
type Epoch struct {
	Epoch     int                `json:"epoch"`
	Unit      string             `json:"-"` // what Epoch counts: "epoch" (or "") or "step"
	TrainLoss float64            `json:"train_loss"`
	Val       map[string]float64 `json:"-"` // val_loss, val_accuracy, …
	LR        float64            `json:"lr"`
	Seconds   float64            `json:"seconds"`
	Best      bool               `json:"best"` // this epoch improved the monitored metric
}

// MarshalJSON flattens Val into the record: {"epoch":1,"train_loss":…,"val_loss":…}
// ({"step":100,…} for the language-model loop).
func (e Epoch) MarshalJSON() ([]byte, error) {
	unit := e.Unit
	if unit == "" {
		unit = "epoch"
	}
	m := map[string]any{unit: e.Epoch, "train_loss": e.TrainLoss, "lr": e.LR, "seconds": e.Seconds, "best": e.Best}
	for k, v := range e.Val {
		m[k] = v
	}
	return json.Marshal(m)
}

// Result is how a Fit ended.
type Result struct {
	Epochs    int     // epochs completed in total (including resumed ones)
	BestEpoch int     // the epoch whose weights the model holds at the end
	Best      float64 // the monitored metric at BestEpoch
	Stopped   string  // "epochs", "early stopping" or "interrupted"
	History   []Epoch // the epochs run by this Fit
}

// state is the loop state saved in last.safetensors to resume.
type state struct {
	Epoch     int     `json:"epoch"`      // epochs completed
	Step      int     `json:"step"`       // optimizer steps taken
	Best      float64 `json:"best"`       // best monitored value so far
	BestEpoch int     `json:"best_epoch"` // 0 before any
	Bad       int     `json:"bad_epochs"` // epochs since the last improvement
	Monitor   string  `json:"monitor"`
	RNG       []byte  `json:"rng"` // the PCG state
}

// Supervised trains a model on a labelled dataset with validation, early
// stopping, best-checkpoint saving and resume.
type Supervised struct {
	Model    nn.Layer
	Opt      optim.Optimizer
	Head     Head
	Config   Config
	Observer Observer // may be nil
	// Run, when set, receives metrics.jsonl (one line per epoch),
	// best.safetensors (the best epoch's weights) and last.safetensors
	// (weights, optimizer state and loop state, to resume).
	Run *Run
	// Comm, when it has more than one rank, trains data-parallel: every
	// rank draws the same batches from Seed and trains on its share of each
	// (rows [r·n/Size, (r+1)·n/Size) of a batch of n), the gradients are
	// summed across ranks weighted by each share, so that every replica
	// takes the step one process takes on the whole batch. Rank 0's
	// weights, optimizer and loop state are broadcast when Fit starts (after
	// its Resume); it alone validates, and the others take its metrics, so
	// all agree on the best epoch and on stopping. Dropout and augmentation
	// draw from a generator of each rank's own; BatchNorm statistics are
	// each rank's. Give rank 0 alone the Run and the Observer. nil is one
	// process.
	Comm dist.Comm

	pcg   *rand.PCG
	rng   *rand.Rand
	flat  []float32 // the gradients as one buffer, to all-reduce
	st    state
	best  map[string][]float32 // weights of the best epoch
	ready bool
}

func (s *Supervised) init() error {
	if s.ready {
		return nil
	}
	if err := s.Config.Validate(); err != nil {
		return err
	}
	s.ready = true
	s.pcg = rand.NewPCG(s.Config.Seed, 0x6d6f78696e67) // "moxing"
	s.rng = rand.New(s.pcg)
	// ±MaxFloat64 rather than ±Inf: the state must encode as JSON.
	s.st = state{Best: math.MaxFloat64, Monitor: s.Config.monitor()}
	if !minimized(s.st.Monitor) {
		s.st.Best = -math.MaxFloat64
	}
	return nil
}

func (s *state) bestSaved() bool { return s.BestEpoch > 0 }

// Resume restores weights, optimizer state, epoch, RNG and best score from
// the Run's last.safetensors, written by an earlier Fit with the same
// model, and the best weights from its best.safetensors. Config.Epochs may
// be larger than the earlier run's: Fit then trains the epochs added. A
// run that saved no last.safetensors (stopped or killed before its first
// epoch ended) starts over: the model and RNG are left as a fresh Fit
// finds them.
func (s *Supervised) Resume() error {
	if err := s.init(); err != nil {
		return err
	}
	if s.Run == nil {
		return errors.New("train: Resume without a Run")
	}
	var st state
	best, err := s.Run.loadLast(nn.Params(s.Model), s.Opt, &st)
	if errors.Is(err, errNothingSaved) {
		return s.Run.trimMetrics(0) // start over, as a fresh Fit would
	}
	if err != nil {
		return err
	}
	if st.Monitor != s.st.Monitor {
		return fmt.Errorf("%s: run monitored %s, this one monitors %s", s.Run.Dir, st.Monitor, s.st.Monitor)
	}
	if err := s.pcg.UnmarshalBinary(st.RNG); err != nil {
		return fmt.Errorf("%s: rng state: %w", s.Run.Dir, err)
	}
	s.st, s.best = st, best
	return s.Run.trimMetrics(st.Epoch)
}

// Fit trains for the remaining epochs of Config.Epochs, validating on val
// after each, and leaves the best epoch's weights in the model. When ctx is
// cancelled it stops between batches, saves last.safetensors (resuming
// restarts the interrupted epoch) and returns ctx's error with the result so
// far.
func (s *Supervised) Fit(ctx context.Context, trainSet, val *data.Dataset) (Result, error) {
	if err := s.init(); err != nil {
		return Result{}, err
	}
	cfg := s.Config
	if trainSet.Len() == 0 || val.Len() == 0 {
		return Result{}, fmt.Errorf("train: %d training and %d validation rows: need both", trainSet.Len(), val.Len())
	}
	params := nn.Params(s.Model)
	comm := dist.Or(s.Comm)
	ranks, rank := comm.Size(), comm.Rank()
	local := s.rng // dropout's and augmentation's generator: each rank's own when several
	if ranks > 1 {
		if err := syncFromRoot(params, s.Opt, &s.st, comm, s.pcg); err != nil {
			return Result{}, err
		}
		local = rand.New(rand.NewPCG(cfg.Seed, uint64(rank+1)<<32|uint64(s.st.Epoch)))
	}
	arena := tensor.NewArena() // each batch reuses the previous one's buffers
	nn.UseArena(s.Model, arena)
	defer nn.UseArena(s.Model, nil)
	res := Result{Stopped: "epochs"}
	for s.st.Epoch < cfg.Epochs {
		epoch := s.st.Epoch + 1
		start := time.Now()

		nn.Train(s.Model, local)
		batches := data.Batches(trainSet.Len(), cfg.BatchSize, s.rng)
		if trainSet.Lengths != nil {
			batches = data.BatchesByLength(trainSet.Lengths, cfg.BatchSize, s.rng)
		}
		var lossSum float64
		for bi, idx := range batches {
			if stop, err := agreeStop(ctx, comm); stop || err != nil {
				res.Stopped = "interrupted"
				err = errors.Join(cmp.Or(err, ctx.Err(), errPeerStopped), s.saveLast(params))
				return s.finish(res, params), err
			}
			mine := idx[len(idx)*rank/ranks : len(idx)*(rank+1)/ranks]
			l, err := s.step(trainSet, mine, len(idx), params, local, arena, comm)
			if err != nil {
				return s.finish(res, params), err
			}
			if math.IsNaN(l) || math.IsInf(l, 0) {
				return s.finish(res, params), diverged(fmt.Sprintf("epoch %d, batch %d", epoch, bi+1), l)
			}
			s.st.Step++
			lossSum += l * float64(len(idx))
			if s.Observer != nil {
				s.Observer.Batch(Batch{Epoch: epoch, Epochs: cfg.Epochs, Batch: bi + 1, Batches: len(batches), Loss: l})
			}
		}
		nn.Eval(s.Model)
		// With an averaging optimizer, the average is what is validated
		// and kept as the best weights.
		averaged := optim.SwapIfAveraging(s.Opt)

		e := Epoch{Epoch: epoch, TrainLoss: lossSum / float64(trainSet.Len()), Val: map[string]float64{},
			LR: float64(s.Opt.LR()), Seconds: time.Since(start).Seconds()}
		if rank == 0 {
			rep, err := s.Head.Evaluate(s.Model, val)
			if err != nil {
				return s.finish(res, params), err
			}
			for k, v := range rep.Metrics {
				e.Val["val_"+k] = v
			}
		}
		if ranks > 1 { // rank 0's metrics decide, on every rank
			if err := broadcastGob(comm, &e.Val); err != nil {
				return s.finish(res, params), err
			}
		}
		score, ok := e.Val[s.st.Monitor]
		if !ok {
			return s.finish(res, params), fmt.Errorf("train: no validation metric %q for this task (have %v)", s.st.Monitor, keys(e.Val))
		}
		if s.improved(score) {
			e.Best = true
			s.st.Best, s.st.BestEpoch, s.st.Bad = score, epoch, 0
			s.best = snapshot(params)
			if s.Run != nil {
				if err := s.Run.saveBest(params, cfg.Meta); err != nil {
					return s.finish(res, params), err
				}
			}
		} else {
			s.st.Bad++
		}
		if averaged {
			optim.SwapIfAveraging(s.Opt) // back to the trained weights
		}
		s.st.Epoch = epoch
		res.History = append(res.History, e)
		if s.Run != nil {
			if err := s.Run.logEpoch(e); err != nil {
				return s.finish(res, params), err
			}
		}
		if s.Observer != nil {
			s.Observer.Epoch(e)
		}
		if err := s.saveLast(params); err != nil {
			return s.finish(res, params), err
		}
		if cfg.Patience > 0 && s.st.Bad >= cfg.Patience {
			res.Stopped = "early stopping"
			break
		}
	}
	return s.finish(res, params), nil
}

// step takes one optimizer step on this rank's rows mine of a batch of
// whole rows and returns the batch's loss (summed over the ranks). A loss
// that is not finite returns before the step: the caller stops there.
func (s *Supervised) step(trainSet *data.Dataset, mine []int, whole int, params []nn.Param, local *rand.Rand, arena *tensor.Arena, comm dist.Comm) (float64, error) {
	if cs, ok := s.Opt.(optim.ClosureStepper); ok {
		return s.closureStep(cs, trainSet.Subset(mine), arena)
	}
	cfg := s.Config
	s.Opt.ZeroGrad()
	var l float64
	if len(mine) > 0 {
		b := trainSet.Subset(mine)
		if cfg.Augment != nil {
			b.X = cfg.Augment(b.X, local)
		}
		out := s.Model.Forward(b.X)
		loss := s.Head.Loss(out, b)
		loss.Backward()
		l = float64(loss.Item())
	}
	arena.Reset()
	if comm.Size() > 1 {
		var err error
		if l, err = reduceGrads(params, l, float32(len(mine))/float32(whole), comm, &s.flat); err != nil {
			return l, err
		}
	}
	if math.IsNaN(l) || math.IsInf(l, 0) {
		return l, nil
	}
	if cfg.ClipNorm > 0 {
		optim.ClipGradNorm(params, cfg.ClipNorm)
	}
	if cfg.Schedule != nil {
		s.Opt.SetLR(cfg.Schedule.At(s.st.Step))
	}
	s.Opt.Step()
	return l, nil
}

// closureStep is one step of an optimizer that evaluates the batch's loss
// itself (L-BFGS's line search): the loss must be the same function each
// time, so it runs on one process, with no clipping or augmentation. It
// returns the loss at the start of the step, as the other optimizers'
// steps report.
func (s *Supervised) closureStep(opt optim.ClosureStepper, b *data.Dataset, arena *tensor.Arena) (float64, error) {
	cfg := s.Config
	if dist.Or(s.Comm).Size() > 1 || cfg.ClipNorm > 0 || cfg.Augment != nil {
		return 0, errors.New("train: an optimizer that evaluates the loss itself (L-BFGS) runs on one process, without gradient clipping or augmentation")
	}
	if cfg.Schedule != nil {
		opt.SetLR(cfg.Schedule.At(s.st.Step))
	}
	_, start := opt.StepClosure(func() float64 {
		opt.ZeroGrad()
		loss := s.Head.Loss(s.Model.Forward(b.X), b)
		loss.Backward()
		v := float64(loss.Item())
		arena.Reset()
		return v
	})
	return start, nil
}

// improved reports whether score beats the best so far by more than MinDelta.
func (s *Supervised) improved(score float64) bool {
	if math.IsNaN(score) {
		return false
	}
	if minimized(s.st.Monitor) {
		return score < s.st.Best-s.Config.MinDelta
	}
	return score > s.st.Best+s.Config.MinDelta
}

// finish restores the best weights into the model and fills in res.
func (s *Supervised) finish(res Result, params []nn.Param) Result {
	restore(params, s.best)
	res.Epochs, res.BestEpoch, res.Best = s.st.Epoch, s.st.BestEpoch, s.st.Best
	return res
}

// saveLast writes the Run's last.safetensors (nothing without a Run).
func (s *Supervised) saveLast(params []nn.Param) error {
	if s.Run == nil {
		return nil
	}
	st := s.st
	var err error
	if st.RNG, err = s.pcg.MarshalBinary(); err != nil {
		return err
	}
	return s.Run.saveLast(params, s.Opt, s.Config.Meta, st)
}

func keys(m map[string]float64) []string {
	return slices.Sorted(maps.Keys(m))
}

// diverged is the error of a loop whose loss became NaN or infinite at
// where: it stops before the optimizer step, so no checkpoint holds what
// the step would have made.
func diverged(where string, loss float64) error {
	return fmt.Errorf("train: the loss is %v at %s: training diverged (a lower learning rate, gradient clipping, or inputs with NaN or huge values?); the best checkpoint so far is kept", loss, where)
}
