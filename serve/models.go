package serve

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"text/template"
	"time"

	"github.com/moxing/moxing/load"
)

// served is one model of a Server and what serves it.
type served struct {
	name    string
	model   *load.Model
	created int64

	lm       *load.LanguageModel // a language model, or nil
	batcher  *Batcher            // a GPT language model's
	serial   *serial             // another language model's (recurrent)
	chat     *template.Template  // renders chat messages into a prompt
	chatText string              // its source

	fullCard *modelCard // GET /v1/models/{id}/card
}

// DefaultChatTemplate renders chat messages for a model whose card has no
// chat_template: one "Role: content" paragraph a message, then
// "Assistant:" for the model to continue. Chat completions stop at
// "\nUser:", where a base model would start the user's next turn.
const DefaultChatTemplate = `{{range .}}{{if eq .Role "system"}}{{.Content}}{{else if eq .Role "user"}}User: {{.Content}}{{else}}Assistant: {{.Content}}{{end}}

{{end}}Assistant:`

// chatStop is the stop string chat completions add with the default
// template.
const chatStop = "\nUser:"

func newServed(name string, m *load.Model, o Options, mt *metrics) (*served, error) {
	sv := &served{name: name, model: m, created: time.Now().Unix()}
	if lm, err := m.LanguageModel(); err == nil {
		sv.lm = lm
		switch {
		case m.GPT != nil:
			sv.batcher = NewBatcher(m.GPT.LM, BatchOptions{Slots: o.Slots, PrefillChunk: o.PrefillChunk, MaxQueue: o.MaxQueue, Stats: mt.batchStats(name)})
		default:
			sv.serial = newSerial(lm, o.Slots, o.MaxQueue)
		}
		text := DefaultChatTemplate
		if m.Card != nil && m.Card.ChatTemplate != "" {
			text = m.Card.ChatTemplate
		}
		t, err := template.New(name).Option("missingkey=error").Parse(text)
		if err != nil {
			return nil, fmt.Errorf("serve: model %s: chat_template: %w", name, err)
		}
		sv.chat, sv.chatText = t, text
	}
	sv.fullCard = newModelCard(name, sv)
	return sv, nil
}

func (sv *served) close() {
	if sv.batcher != nil {
		sv.batcher.Close()
	}
}

// card is the model's entry in /v1/models: OpenAI's fields, and moxing's
// kind, description and context window.
func (sv *served) card() map[string]any {
	c := map[string]any{"id": sv.name, "object": "model", "created": sv.created, "owned_by": "moxing", "description": sv.model.Describe(), "kind": sv.model.Kind()}
	if sv.lm != nil {
		c["context_window"] = sv.lm.Window
	}
	return c
}

// window is the most tokens a prompt and its completion may hold together
// (0: no limit).
func (sv *served) window() int {
	if sv.batcher != nil {
		return sv.batcher.Window()
	}
	return sv.lm.Model.Window()
}

// submit starts the sequences.
func (sv *served) submit(seqs []*Sequence) error {
	if sv.batcher != nil {
		return sv.batcher.Submit(seqs...)
	}
	return sv.serial.submit(seqs)
}

// renderChat renders messages with the model's chat template.
func (sv *served) renderChat(msgs []message) (string, error) {
	var b strings.Builder
	if err := sv.chat.Execute(&b, msgs); err != nil {
		return "", fmt.Errorf("chat template: %w", err)
	}
	return b.String(), nil
}

// serial generates for a language model that has no Batcher, one
// goroutine a sequence, at most slots at once.
type serial struct {
	lm       *load.LanguageModel
	slots    chan struct{}
	waiting  atomic.Int64
	maxQueue int64
}

func newSerial(lm *load.LanguageModel, slots, maxQueue int) *serial {
	return &serial{lm: lm, slots: make(chan struct{}, slots), maxQueue: int64(maxQueue)}
}

func (g *serial) submit(seqs []*Sequence) error {
	if g.waiting.Add(int64(len(seqs))) > g.maxQueue {
		g.waiting.Add(-int64(len(seqs)))
		return ErrBusy
	}
	for _, s := range seqs {
		s.Out = make(chan Token, s.MaxTokens)
		go func() {
			defer close(s.Out)
			select {
			case g.slots <- struct{}{}:
				g.waiting.Add(-1)
			case <-s.Ctx.Done():
				g.waiting.Add(-1)
				s.Reason = "cancelled"
				return
			}
			defer func() { <-g.slots }()
			s.Reason = "length"
			for id := range g.lm.Model.Generate(s.Ctx, s.Prompt, s.MaxTokens, s.Sampler) {
				s.made++
				s.Out <- Token{ID: id}
			}
			if s.Ctx.Err() != nil {
				s.Reason = "cancelled"
			}
		}()
	}
	return nil
}

// OpenModels opens the models of specs, each "[NAME=]PATH" (a checkpoint,
// run folder or Hugging Face folder; NAME defaults to the file or folder
// name), by name, and writes a line about each to log. A name given twice
// is an error.
func OpenModels(specs []string, log io.Writer) (map[string]*load.Model, error) {
	byName := map[string]*load.Model{}
	for _, spec := range specs {
		name, path, ok := strings.Cut(spec, "=")
		if !ok {
			name, path = strings.TrimSuffix(filepath.Base(spec), ".safetensors"), spec
		}
		if _, dup := byName[name]; dup || name == "" {
			return nil, fmt.Errorf("model %s: the name %q is empty or taken: name it, NAME=PATH", spec, name)
		}
		m, err := load.Open(path)
		if err != nil {
			return nil, err
		}
		byName[name] = m
		fmt.Fprintf(log, "model %s: %s (%s)\n", name, m.Describe(), path)
	}
	return byName, nil
}
