package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"unicode/utf8"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/sample"
	"github.com/moxing/moxing/tokenizer"
	"github.com/moxing/moxing/train"
)

// metaTokenizer is the checkpoint metadata key of a language model's
// tokenizer (tokenizer.Save's JSON).
const metaTokenizer = "moxing.tokenizer"

type gptMeta struct {
	Kind   string     `json:"kind"`
	Config gpt.Config `json:"config"`
}

// lmMeta returns the checkpoint metadata that makes a language model usable
// on its own: its architecture and its tokenizer.
func lmMeta(cfg gpt.Config, tok tokenizer.Tokenizer) (map[string]string, error) {
	var tb bytes.Buffer
	if err := tokenizer.Save(&tb, tok); err != nil {
		return nil, err
	}
	mb, _ := json.Marshal(gptMeta{Kind: "gpt", Config: cfg})
	return map[string]string{metaModel: string(mb), metaTokenizer: tb.String()}, nil
}

// loadLM loads a GPT checkpoint written by moxing (demo or pretrain).
func loadLM(path string) (*gpt.Model, tokenizer.Tokenizer, error) {
	f, err := checkpoint.Load(path)
	if err != nil {
		return nil, nil, err
	}
	raw, ok := f.Metadata[metaModel]
	if !ok {
		return nil, nil, fmt.Errorf("%s: not a moxing model checkpoint (no %s metadata)", path, metaModel)
	}
	var mm gptMeta
	if err := json.Unmarshal([]byte(raw), &mm); err != nil {
		return nil, nil, fmt.Errorf("%s: %s: %w", path, metaModel, err)
	}
	if mm.Kind != "gpt" {
		return nil, nil, fmt.Errorf("%s: a %q model, not a GPT language model", path, mm.Kind)
	}
	tok, err := tokenizer.Load(strings.NewReader(f.Metadata[metaTokenizer]))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: tokenizer: %w", path, err)
	}
	if tok.VocabSize() != mm.Config.VocabSize {
		return nil, nil, fmt.Errorf("%s: tokenizer has %d tokens, the model %d", path, tok.VocabSize(), mm.Config.VocabSize)
	}
	m, err := gpt.New(mm.Config, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := m.LoadTensors(train.ModelTensors(f.Tensors)); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, tok, nil
}

// generateText streams the continuation of prompt to w as the tokens come,
// holding back bytes until they form whole UTF-8 characters, and, with a
// stop string, the characters that might be its beginning. It stops after
// maxTokens, at stop (which is not printed), or when ctx is cancelled (not
// an error: the user asked). Warnings go to warn.
func generateText(ctx context.Context, w, warn io.Writer, m *gpt.Model, tok tokenizer.Tokenizer, prompt string, maxTokens int, cfg sample.Config, seed uint64, stop string) error {
	ids, err := tok.Encode(prompt)
	if err != nil {
		return fmt.Errorf("prompt: %w", err)
	}
	if len(ids) == 0 {
		return usagef("the prompt is empty: give at least one character with --prompt")
	}
	if len(ids) >= m.Config.BlockSize {
		fmt.Fprintf(warn, "warning: the prompt has %d tokens; only the last %d fit the context window\n", len(ids), m.Config.BlockSize-1)
	}
	s := sample.New(cfg, rand.New(rand.NewPCG(seed, 0)))
	var pending []byte // bytes of an unfinished character
	var text strings.Builder
	printed := 0 // bytes of text already written
	flush := func(upto int) error {
		if upto <= printed {
			return nil
		}
		_, err := io.WriteString(w, text.String()[printed:upto])
		printed = upto
		return err
	}
	for id := range m.Generate(ctx, ids, maxTokens, s) {
		pending = append(pending, tok.TokenBytes(id)...)
		n := validPrefix(pending)
		text.Write(pending[:n])
		pending = pending[n:]
		all := text.String()
		if stop != "" {
			if i := strings.Index(all[max(0, printed-len(stop)+1):], stop); i >= 0 {
				return flush(max(0, printed-len(stop)+1) + i)
			}
			// Hold back what could be the start of the stop string.
			keep := len(all) - (len(stop) - 1)
			for keep > printed && keep < len(all) && !utf8.RuneStart(all[keep]) {
				keep--
			}
			if err := flush(keep); err != nil {
				return err
			}
			continue
		}
		if err := flush(len(all)); err != nil {
			return err
		}
	}
	text.WriteString(strings.ToValidUTF8(string(pending), "\uFFFD"))
	return flush(text.Len())
}

// validPrefix returns the length of the longest prefix of b that does not
// end inside a UTF-8 sequence (invalid bytes count as complete).
func validPrefix(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if utf8.FullRune(b[i:]) {
				return len(b)
			}
			return i
		}
	}
	return len(b)
}

// lmProgress reports pretraining: a bar on a terminal, else a line per
// evaluation.
type lmProgress struct{ p *progress }

func (l lmProgress) Batch(b train.Batch) { l.p.Batch(b) }

func (l lmProgress) Epoch(e train.Epoch) {
	line := fmt.Sprintf("step %d  train_loss %.4f  val_loss %.4f  lr %.2g", e.Epoch, e.TrainLoss, e.Val["val_loss"], e.LR)
	if e.Best {
		line += "  *"
	}
	if l.p.bar != nil {
		l.p.bar.Describe(line)
		return
	}
	fmt.Fprintf(l.p.w, "%s  (%.0fs)\n", line, e.Seconds)
}
