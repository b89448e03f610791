package serve

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/moxing/moxing/sample"
	"github.com/moxing/moxing/tokenizer"
)

// job is one completion request, chat or not, ready to generate: its
// prompts as token ids, n choices each, and how to draw and end them.
type job struct {
	info      *requestInfo // the request's: its key, reservation and ledger record
	acct      *accounts    // nil without a ledger
	sv        *served
	prompts   [][]int
	n         int
	maxTokens int
	cfg       sample.Config
	seed      uint64
	stops     []string
	logprobs  int // top alternatives per token; -1: none
	stream    bool
	usage     bool // stream_options.include_usage
}

// choice is one generated text and what ended it.
type choice struct {
	index  int
	seq    *Sequence
	stream *tokenizer.Stream
	cancel context.CancelFunc
	text   strings.Builder // the whole text, for a response that is not streamed
	tokens []Token         // every token, for its logprobs
	count  int             // tokens received, up to and including a stop string's
	finish string          // "stop" or "length" once done
}

// Limits of the sampling settings, OpenAI's where it has one.
const (
	unboundedDefault   = 256 // chat's max_tokens for a model without a context window
	maxN               = 16
	maxStops           = 4
	maxCompletionLogK  = 5
	maxChatTopLogprobs = 20
)

// newJob checks the settings the two completion routes share and reads the
// model; prompts and the token budget are the route's.
func (s *Server) newJob(sp sampling, info *requestInfo) (*job, error) {
	sv, err := s.model(sp.Model, info)
	if err != nil {
		return nil, err
	}
	if sv.lm == nil {
		return nil, invalid("model", "the model %q is a %s, not a language model: use /v1/classify or /v1/predict", sp.Model, sv.model.Describe())
	}
	j := &job{info: info, acct: s.acct, sv: sv, n: 1, stream: sp.Stream, logprobs: -1, cfg: sample.Config{Temperature: 1, TopK: sp.TopK, RepetitionPenalty: float32(sp.RepetitionPenalty)}}
	if sp.Temperature != nil {
		if t := *sp.Temperature; !finite(t) || t < 0 || t > 2 {
			return nil, invalid("temperature", "temperature %v: want a number in [0, 2]", t)
		}
		j.cfg.Temperature = float32(*sp.Temperature)
	}
	if sp.TopP != nil {
		if p := *sp.TopP; !finite(p) || p <= 0 || p > 1 {
			return nil, invalid("top_p", "top_p %v: want a number in (0, 1]", p)
		}
		j.cfg.TopP = float32(*sp.TopP)
	}
	if sp.TopK < 0 {
		return nil, invalid("top_k", "top_k %d: want 0 (off) or more", sp.TopK)
	}
	if rp := sp.RepetitionPenalty; !finite(rp) || rp < 0 {
		return nil, invalid("repetition_penalty", "repetition_penalty %v: want 0 (off) or more", rp)
	}
	if sp.N != nil {
		if *sp.N < 1 || *sp.N > maxN {
			return nil, invalid("n", "n %d: want 1 to %d", *sp.N, maxN)
		}
		j.n = *sp.N
	}
	if len(sp.Stop) > maxStops {
		return nil, invalid("stop", "%d stop strings: at most %d", len(sp.Stop), maxStops)
	}
	j.stops = sp.Stop
	j.seed = rand.Uint64()
	if sp.Seed != nil {
		j.seed = uint64(*sp.Seed)
	}
	switch {
	case sp.PresencePenalty != 0:
		return nil, unsupported("presence_penalty", "presence_penalty is not supported (use repetition_penalty)")
	case sp.FrequencyPenalty != 0:
		return nil, unsupported("frequency_penalty", "frequency_penalty is not supported (use repetition_penalty)")
	case len(sp.LogitBias) > 0 && string(sp.LogitBias) != "null" && string(sp.LogitBias) != "{}":
		return nil, unsupported("logit_bias", "logit_bias is not supported")
	}
	j.usage = sp.StreamOptions != nil && sp.StreamOptions.IncludeUsage
	if sp.StreamOptions != nil && !sp.Stream {
		return nil, invalid("stream_options", "stream_options is only allowed with stream true")
	}
	return j, nil
}

// encode reads a prompt text as tokens: characters the vocabulary lacks
// become tokenizer.Unknown.
func (j *job) encode(text, param string) ([]int, error) {
	ids, err := tokenizer.NewLossy(j.sv.lm.Tokenizer).Encode(text)
	if err != nil {
		return nil, invalid(param, "%s: %v", param, err)
	}
	return ids, nil
}

// budget sets maxTokens (the request's, or def when nil; def ≤ 0 means
// "what the window leaves") and checks every prompt and its completion
// against the context window, as OpenAI does.
func (j *job) budget(maxTokens *int, param string, def int) error {
	win := j.sv.window()
	longest := 0
	for i, p := range j.prompts {
		if len(p) == 0 {
			return invalid("prompt", "prompt %d is empty", i)
		}
		longest = max(longest, len(p))
		for _, id := range p {
			if id < 0 || id >= j.sv.lm.Vocab {
				return invalid("prompt", "token id %d outside the vocabulary of %d", id, j.sv.lm.Vocab)
			}
		}
	}
	switch {
	case maxTokens != nil && *maxTokens < 1:
		return invalid(param, "%s %d: want at least 1", param, *maxTokens)
	case maxTokens != nil:
		j.maxTokens = *maxTokens
	case def > 0:
		j.maxTokens = def
	case win > 0:
		j.maxTokens = win - longest
	default:
		j.maxTokens = unboundedDefault // a recurrent model has no window to fill
	}
	if win > 0 && longest+j.maxTokens > win {
		return &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: param, Code: "context_length_exceeded",
			Message: fmt.Sprintf("this model's maximum context length is %d tokens, but %d were requested (%d in the prompt, %d for the completion): shorten the prompt or lower %s",
				win, longest+j.maxTokens, longest, j.maxTokens, param)}
	}
	return nil
}

// start submits every choice's sequence: choice i·n+k is prompt i's k-th.
func (j *job) start(ctx context.Context) ([]*choice, error) {
	most := int64(0) // the tokens the request may use: its prompts and every choice's budget
	for _, p := range j.prompts {
		most += int64(len(p) + j.n*j.maxTokens)
	}
	if err := j.acct.reserve(ctx, j.info, most); err != nil {
		return nil, err
	}
	var choices []*choice
	var seqs []*Sequence
	for i, p := range j.prompts {
		for k := range j.n {
			idx := i*j.n + k
			cctx, cancel := context.WithCancel(ctx)
			seq := &Sequence{Prompt: p, MaxTokens: j.maxTokens, Logprobs: j.logprobs, Ctx: cctx,
				Sampler: sample.New(j.cfg, rand.New(rand.NewPCG(j.seed, uint64(idx))))}
			choices = append(choices, &choice{index: idx, seq: seq, cancel: cancel, stream: tokenizer.NewStream(j.sv.lm.Tokenizer, j.stops...)})
			seqs = append(seqs, seq)
		}
	}
	if err := j.sv.submit(seqs); err != nil {
		for _, c := range choices {
			c.cancel()
		}
		switch {
		case errors.Is(err, ErrBusy):
			return nil, &apiError{Status: http.StatusTooManyRequests, Message: err.Error(), Type: "rate_limit_error", Code: "server_busy"}
		case errors.Is(err, errStopped):
			return nil, &apiError{Status: http.StatusServiceUnavailable, Message: err.Error(), Type: "server_error"}
		}
		return nil, err
	}
	return choices, nil
}

// event is a piece of one choice's output: new text and tokens, or its end.
type event struct {
	c      *choice
	text   string
	tokens []Token
	done   bool
	last   bool // done, and the last choice to be
}

// run drains the choices' sequences into events, in the order tokens come,
// and ends a choice at its stop string (cancelling its sequence). It
// returns when every choice is done or ctx ends (then with ctx's error).
func (j *job) run(ctx context.Context, choices []*choice, emit func(event) error) error {
	events := make(chan event)
	ctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait() // no goroutine outlives run: the choices are the caller's again
	defer stop()
	for _, c := range choices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.cancel()
			for tok := range c.seq.Out {
				c.count++
				text, stopped := c.stream.Next(tok.ID)
				select {
				case events <- event{c: c, text: text, tokens: []Token{tok}}:
				case <-ctx.Done():
					return
				}
				if stopped {
					c.finish = "stop"
					c.cancel()
					for range c.seq.Out { // the Batcher closes Out at its next step
					}
					break
				}
			}
			if c.finish == "" {
				text, stopped := c.stream.Flush()
				c.finish = "length"
				if stopped {
					c.finish = "stop"
				}
				select {
				case events <- event{c: c, text: text}:
				case <-ctx.Done():
					return
				}
			}
			select {
			case events <- event{c: c, done: true}:
			case <-ctx.Done():
			}
		}()
	}
	for left := len(choices); left > 0; {
		select {
		case e := <-events:
			if e.done {
				left--
				e.last = left == 0
				if e.c.seq.Reason == "error" {
					return fmt.Errorf("serve: %w", e.c.seq.Err)
				}
			}
			if e.text != "" || len(e.tokens) > 0 || e.done {
				if err := emit(e); err != nil {
					return err
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// usageOf is OpenAI's usage object: the prompts' tokens once each, and
// every choice's generated tokens.
func (j *job) usageOf(choices []*choice) map[string]int {
	p, c := 0, 0
	for _, pr := range j.prompts {
		p += len(pr)
	}
	for _, ch := range choices {
		c += ch.count
	}
	return map[string]int{"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
}

// finish puts the request's usage in its log line and ledger record,
// before the response's last bytes: what a client was told it used is
// what it is billed.
func (j *job) finish(choices []*choice) error {
	j.count(choices)
	return j.info.finish(http.StatusOK)
}

// count puts the request's usage so far in its log line and ledger record.
func (j *job) count(choices []*choice) {
	u := j.usageOf(choices)
	j.info.promptTokens, j.info.completionTokens = u["prompt_tokens"], u["completion_tokens"]
}

// deadlineError turns a request that ran out of time into a 503.
func deadlineError(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &apiError{Status: http.StatusServiceUnavailable, Message: "the request took longer than the server's per-request deadline", Type: "server_error", Code: "timeout"}
	}
	return err
}

// created is the Unix time responses carry.
func created() int64 { return time.Now().Unix() }
