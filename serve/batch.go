package serve

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/sample"
	"github.com/moxing/moxing/tensor"
)

// ErrBusy is Submit's error when the queue is full: the server answers 429.
var ErrBusy = errors.New("the server is busy: too many requests waiting")

// errStopped is Submit's error once the Batcher is closed.
var errStopped = errors.New("the server is shutting down")

// Sequence is one generation: a prompt, how to draw each token, and the
// stream the tokens come out on. A Batcher fills in Out, Reason and Err.
type Sequence struct {
	Prompt    []int           // ids; with MaxTokens, within the model's window
	MaxTokens int             // tokens to generate, ≥ 1
	Sampler   *sample.Sampler // this sequence's own
	Logprobs  int             // report each token's log-probability and this many top alternatives; -1: none
	Ctx       context.Context // cancelling it frees the sequence's slot at the next step

	// Out carries the generated tokens; it is closed when the sequence
	// ends, after Reason (and Err) are set. Its buffer holds every token,
	// so a slow reader never holds up the batch.
	Out    chan Token
	Reason string // "length" (MaxTokens reached), "cancelled", or "error" (then Err)
	Err    error

	submitted time.Time
	slot, fed int // cache slot; prompt tokens fed so far
	history   []int
	made      int // tokens generated
}

// Token is one generated token, with its log-probability under the model
// (before temperature and truncation) when the Sequence asked for them.
type Token struct {
	ID      int
	Logprob float32
	Top     []TokenLogprob // the most likely tokens, best first
}

// TokenLogprob is a token and its log-probability.
type TokenLogprob struct {
	ID      int
	Logprob float32
}

// BatchStats receives what a Batcher does, for metrics; nil fields are
// skipped.
type BatchStats struct {
	Step       func(sequences, rows, tokens int, took time.Duration) // one decoding step: sequences in it, rows fed, tokens made
	FirstToken func(wait time.Duration)                              // from Submit to a sequence's first token
	Queue      func(depth int)                                       // sequences waiting for a slot
}

// Batcher decodes many sequences of one GPT at once (continuous batching):
// one goroutine owns the model's KV cache and runs every active sequence
// in each gpt.Model.Step, so the weights are read once a step for all of
// them. Sequences join between steps, as slots free up, and leave when
// done or cancelled. A newcomer's prompt is fed in chunks of at most
// PrefillChunk tokens a step (shared by the newcomers), so a long prompt
// delays the running streams by one chunk's work a step, not by all of it.
// Submit is safe for concurrent use.
type Batcher struct {
	model        *gpt.Model // detached, in eval mode, using arena
	cache        *gpt.Cache
	arena        *tensor.Arena
	prefillChunk int
	maxQueue     int
	stats        BatchStats

	queue   chan *Sequence
	waiting atomic.Int64 // sequences submitted and not yet given a slot
	mu      sync.RWMutex // Submit reads stop under it, Close closes stop under it
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// BatchOptions size a Batcher.
type BatchOptions struct {
	Slots        int // sequences decoded at once (KV cache: 2·layers·slots·window·channels floats)
	PrefillChunk int // prompt tokens fed per step, across newcomers
	MaxQueue     int // sequences waiting for a slot before Submit says ErrBusy
	Stats        BatchStats
}

// NewBatcher starts a Batcher for m, which it reads but never changes (it
// decodes with a detached copy whose weights are packed for the GEMMs of
// many rows: a second copy of the weights). Close stops it.
func NewBatcher(m *gpt.Model, o BatchOptions) *Batcher {
	inf := nn.Detach(m)
	nn.Eval(inf)
	inf.PackWeights()
	arena := tensor.NewArena()
	nn.UseArena(inf, arena)
	b := &Batcher{model: inf, cache: inf.NewCache(o.Slots), arena: arena, prefillChunk: max(o.PrefillChunk, 1),
		maxQueue: o.MaxQueue, stats: o.Stats, queue: make(chan *Sequence, o.MaxQueue+o.Slots),
		stop: make(chan struct{}), done: make(chan struct{})}
	go b.loop()
	return b
}

// Window is the model's context window: a Sequence's prompt and MaxTokens
// together must fit it.
func (b *Batcher) Window() int { return b.model.Config.BlockSize }

// Submit queues seqs, all or none: ErrBusy when the queue would pass
// MaxQueue. It checks each sequence against the model and makes its Out.
func (b *Batcher) Submit(seqs ...*Sequence) error {
	for _, s := range seqs {
		if len(s.Prompt) == 0 || s.MaxTokens < 1 || len(s.Prompt)+s.MaxTokens > b.Window() {
			return fmt.Errorf("serve: a sequence of %d prompt tokens and %d to generate, for a window of %d", len(s.Prompt), s.MaxTokens, b.Window())
		}
		for _, id := range s.Prompt {
			if id < 0 || id >= b.model.Config.VocabSize {
				return fmt.Errorf("serve: token %d outside the vocabulary of %d", id, b.model.Config.VocabSize)
			}
		}
	}
	b.mu.RLock() // Close waits: nothing is queued after the loop drains
	defer b.mu.RUnlock()
	select {
	case <-b.stop:
		return errStopped
	default:
	}
	if n := b.waiting.Add(int64(len(seqs))); n > int64(b.maxQueue) {
		b.waiting.Add(-int64(len(seqs)))
		return ErrBusy
	}
	for _, s := range seqs {
		s.Out = make(chan Token, s.MaxTokens)
		s.history = slices.Clone(s.Prompt)
		s.submitted = time.Now()
		b.queue <- s // never blocks: the channel holds MaxQueue+Slots
	}
	b.report()
	return nil
}

// Close stops the Batcher: sequences under way end with Reason
// "cancelled". It returns when the loop has stopped.
func (b *Batcher) Close() {
	b.mu.Lock()
	b.once.Do(func() { close(b.stop) })
	b.mu.Unlock()
	<-b.done
}

func (b *Batcher) report() {
	if b.stats.Queue != nil {
		b.stats.Queue(int(b.waiting.Load()))
	}
}

// loop is the one goroutine that owns the cache.
func (b *Batcher) loop() {
	defer close(b.done)
	var active []*Sequence
	free := make([]int, b.cache.Slots())
	for i := range free {
		free[i] = len(free) - 1 - i // slot 0 first
	}
	end := func(s *Sequence, reason string, err error) {
		s.Reason, s.Err = reason, err
		close(s.Out)
		b.cache.Free(s.slot)
		free = append(free, s.slot)
	}
	for {
		// Admit newcomers while slots are free; wait for one when idle.
		for len(free) > 0 {
			var s *Sequence
			if len(active) == 0 {
				select {
				case s = <-b.queue:
				case <-b.stop:
				}
			} else {
				select {
				case s = <-b.queue:
				default:
				}
			}
			if s == nil {
				break
			}
			b.waiting.Add(-1)
			s.slot, free = free[len(free)-1], free[:len(free)-1]
			active = append(active, s)
		}
		b.report()
		select {
		case <-b.stop:
			for _, s := range active {
				end(s, "cancelled", nil)
			}
			for { // Submit refuses once stop is closed: the queue only empties
				select {
				case s := <-b.queue:
					s.Reason = "cancelled"
					close(s.Out)
				default:
					return
				}
			}
		default:
		}
		active = slices.DeleteFunc(active, func(s *Sequence) bool {
			if s.Ctx.Err() != nil {
				end(s, "cancelled", nil)
				return true
			}
			return false
		})
		if len(active) == 0 {
			continue
		}
		if err := b.step(active); err != nil {
			for _, s := range active {
				end(s, "error", err)
			}
			active = active[:0]
			continue
		}
		active = slices.DeleteFunc(active, func(s *Sequence) bool {
			if s.made == s.MaxTokens {
				end(s, "length", nil)
				return true
			}
			return false
		})
	}
}

// step runs one gpt.Model.Step over the active sequences: each decoding
// sequence brings its last token, newcomers a chunk of their prompts. A
// panic in the model (a bug) fails this step's sequences, not the process.
func (b *Batcher) step(active []*Sequence) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("serve: decoding step failed: %v", r)
			for _, s := range active {
				b.cache.Free(s.slot)
			}
		}
		b.arena.Reset()
	}()
	start := time.Now()
	segs := make([]gpt.Segment, 0, len(active))
	budget, rows := b.prefillChunk, 0
	var stepping []*Sequence
	for _, s := range active {
		if s.fed == len(s.Prompt) {
			segs = append(segs, gpt.Segment{Slot: s.slot, Tokens: s.history[len(s.history)-1:]})
		} else {
			if budget == 0 {
				continue // its prompt waits for the next step's chunk
			}
			n := min(len(s.Prompt)-s.fed, budget)
			budget -= n
			segs = append(segs, gpt.Segment{Slot: s.slot, Tokens: s.Prompt[s.fed : s.fed+n]})
		}
		rows += len(segs[len(segs)-1].Tokens)
		stepping = append(stepping, s)
	}
	logits := b.model.Step(segs, b.cache) // (S, V)
	v := logits.Dim(1)
	var drawing []int // the sequences whose prompt is all fed: they get a token
	for i, s := range stepping {
		if s.fed < len(s.Prompt) {
			if s.fed += len(segs[i].Tokens); s.fed < len(s.Prompt) {
				continue // more prompt to feed
			}
			if b.stats.FirstToken != nil {
				b.stats.FirstToken(time.Since(s.submitted))
			}
		}
		drawing = append(drawing, i)
	}
	toks := make([]Token, len(drawing))
	parallel(len(drawing), func(k int) { // each sequence has its own sampler
		s, row := stepping[drawing[k]], logits.Data[drawing[k]*v:(drawing[k]+1)*v]
		toks[k] = Token{ID: s.Sampler.Next(row, s.history)}
		if s.Logprobs >= 0 {
			toks[k].Logprob, toks[k].Top = logprobs(row, toks[k].ID, s.Logprobs)
		}
	})
	for k, i := range drawing {
		s := stepping[i]
		s.history = append(s.history, toks[k].ID)
		s.made++
		s.Out <- toks[k] // never blocks: Out holds MaxTokens
	}
	made := len(drawing)
	if b.stats.Step != nil {
		b.stats.Step(len(stepping), rows, made, time.Since(start))
	}
	return nil
}

// parallel runs f(0) … f(n-1) on up to GOMAXPROCS goroutines.
func parallel(n int, f func(i int)) {
	workers := min(n, runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(i)
			}
		})
	}
	wg.Wait()
}

// logprobs returns the log-softmax of logits at id and the k most likely
// tokens with theirs.
func logprobs(logits []float32, id, k int) (float32, []TokenLogprob) {
	mx := slices.Max(logits)
	var sum float64
	for _, x := range logits {
		sum += math.Exp(float64(x - mx))
	}
	lse := float64(mx) + math.Log(sum)
	lp := func(i int) float32 { return float32(float64(logits[i]) - lse) }
	var top []TokenLogprob
	for i := range logits { // k is small (OpenAI allows ≤ 20): insertion into a sorted list
		if len(top) == k && (k == 0 || logits[i] <= logits[top[k-1].ID]) {
			continue
		}
		at, _ := slices.BinarySearchFunc(top, logits[i], func(t TokenLogprob, x float32) int {
			if logits[t.ID] >= x {
				return -1
			}
			return 1
		})
		top = slices.Insert(top, at, TokenLogprob{ID: i})
		if len(top) > k {
			top = top[:k]
		}
	}
	for j := range top {
		top[j].Logprob = lp(top[j].ID)
	}
	return lp(id), top
}
