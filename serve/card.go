package serve

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"

	"github.com/moxing/moxing/tokenizer"
	"github.com/moxing/moxing/train"
)

// modelCard is a model's card as GET /v1/models/{id}/card serves it: what
// the model is, how big, what it reads, and how it was trained.
type modelCard struct {
	ID            string          `json:"id"`
	Object        string          `json:"object"` // "model.card"
	Kind          string          `json:"kind"`
	Description   string          `json:"description"`
	Parameters    int             `json:"parameters"`
	Architecture  json.RawMessage `json:"architecture,omitempty"` // the model package's Config
	ContextWindow int             `json:"context_window,omitempty"`
	Tokenizer     *tokenizerCard  `json:"tokenizer,omitempty"`
	Labels        []string        `json:"labels,omitempty"`
	LoRA          json.RawMessage `json:"lora,omitempty"`
	ChatTemplate  string          `json:"chat_template,omitempty"` // language models: the template chat completions use
	Inputs        any             `json:"inputs,omitempty"`        // a tabular model's data.Schema, an image model's preprocessing
	// Training is the run folder's config.json and metrics.jsonl, read
	// when the server started; TrainingError says why it could not be.
	Training      *train.History `json:"training,omitempty"`
	TrainingError string         `json:"training_error,omitempty"`
}

type tokenizerCard struct {
	Type      string `json:"type"` // "char" or "bpe"
	VocabSize int    `json:"vocab_size"`
}

// newModelCard makes the card of the model served as name, reading the
// training history from the folder it was loaded from (the folder itself,
// or the checkpoint file's folder), where there is one.
func newModelCard(name string, sv *served) *modelCard {
	m := sv.model
	c := &modelCard{ID: name, Object: "model.card", Kind: m.Kind(), Description: m.Describe(), Parameters: m.Parameters()}
	if m.Card != nil {
		c.Architecture, c.Labels, c.LoRA = m.Card.Config, m.Card.Labels, m.Card.LoRA
	}
	if tok := m.Tokenizer(); tok != nil {
		c.Tokenizer = &tokenizerCard{Type: tokenizerType(tok), VocabSize: tok.VocabSize()}
	}
	if sv.lm != nil {
		c.ContextWindow = sv.lm.Window
		c.ChatTemplate = sv.chatText
	}
	switch {
	case m.Tabular != nil:
		c.Inputs = m.Tabular.Schema
	case m.Images != nil:
		cfg := m.Images.Model.Config
		c.Inputs = map[string]any{"channels": cfg.Channels, "height": cfg.Height, "width": cfg.Width, "classes": m.Images.Classes}
	}
	if c.Labels == nil && m.Tabular != nil {
		c.Labels = m.Tabular.Schema.Classes
	}
	dir := m.Path
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		dir = filepath.Dir(dir)
	}
	if h, err := train.ReadHistory(dir); err != nil {
		c.TrainingError = err.Error()
	} else if h.Config != nil || len(h.Metrics) > 0 {
		c.Training = h
	}
	return c
}

// tokenizerType names a tokenizer's kind as tokenizer.Save does.
func tokenizerType(t tokenizer.Tokenizer) string {
	if l, ok := t.(*tokenizer.Lossy); ok {
		t = l.Tokenizer
	}
	switch t.(type) {
	case *tokenizer.Char:
		return "char"
	case *tokenizer.BPE:
		return "bpe"
	}
	return "other"
}

// getCard serves GET /v1/models/{id}/card.
func (s *Server) getCard(w http.ResponseWriter, r *http.Request, info *requestInfo) error {
	sv, err := s.model(r.PathValue("id"), info)
	if err != nil {
		return err
	}
	return writeJSON(w, sv.fullCard)
}
