package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/sample"
	"github.com/moxing/moxing/tokenizer"
	"github.com/moxing/moxing/train"
)

// metaTokenizer is the checkpoint metadata key of a language model's
// tokenizer (tokenizer.Save's JSON).
const metaTokenizer = "moxing.tokenizer"

// gptMeta is the moxing.model metadata of a GPT checkpoint: a language
// model ("gpt") or a classifier ("gpt-classifier", with its labels), and
// the adapters it carries, if any.
type gptMeta struct {
	Kind   string          `json:"kind"`
	Config gpt.Config      `json:"config"`
	Labels []string        `json:"labels,omitempty"`
	LoRA   *gpt.LoRAConfig `json:"lora,omitempty"`
}

// metaAdapter is the metadata key of an adapter file: the gptMeta of the
// fine-tuned model (its Config is the base's).
const metaAdapter = "moxing.adapter"

// gptMetadata returns the checkpoint metadata that makes a GPT usable on
// its own: its kind, architecture, labels, adapters, and its tokenizer.
func gptMetadata(mm gptMeta, tok tokenizer.Tokenizer) (map[string]string, error) {
	var tb bytes.Buffer
	if err := tokenizer.Save(&tb, tok); err != nil {
		return nil, err
	}
	mb, _ := json.Marshal(mm)
	return map[string]string{metaModel: string(mb), metaTokenizer: tb.String()}, nil
}

// lmMeta is gptMetadata for a plain language model.
func lmMeta(cfg gpt.Config, tok tokenizer.Tokenizer) (map[string]string, error) {
	return gptMetadata(gptMeta{Kind: "gpt", Config: cfg}, tok)
}

// gptModel is a loaded GPT checkpoint: a language model or a classifier on
// one, with its tokenizer.
type gptModel struct {
	gptMeta
	lm  *gpt.Model      // the language model, or the classifier's backbone
	cls *gpt.Classifier // nil for a language model
	tok tokenizer.Tokenizer
}

// module is what the checkpoint's parameter names are relative to.
func (g *gptModel) module() any {
	if g.cls != nil {
		return g.cls
	}
	return g.lm
}

// loadGPT loads a GPT checkpoint written by moxing (demo, pretrain,
// finetune), or a Hugging Face GPT-2 folder (config.json,
// model.safetensors, vocab.json, merges.txt). With adapter, it loads that
// adapter file (moxing finetune --lora-rank) onto the model, which must be
// the language model the adapter was trained from.
func loadGPT(path, adapter string) (*gptModel, error) {
	var g *gptModel
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		m, tok, err := gpt.LoadHF(os.DirFS(path))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if tok == nil {
			return nil, fmt.Errorf("%s: no vocab.json and merges.txt: the tokenizer is needed", path)
		}
		g = &gptModel{gptMeta: gptMeta{Kind: "gpt", Config: m.Config}, lm: m, tok: tok}
	} else {
		f, err := checkpoint.Load(path)
		if err != nil {
			return nil, err
		}
		g = &gptModel{}
		if err := g.decode(path, f.Metadata, metaModel); err != nil {
			return nil, err
		}
		if g.tok, err = tokenizer.Load(strings.NewReader(f.Metadata[metaTokenizer])); err != nil {
			return nil, fmt.Errorf("%s: tokenizer: %w", path, err)
		}
		if g.tok.VocabSize() > g.Config.VocabSize { // a model may have room for more (Hugging Face pads vocabularies)
			return nil, fmt.Errorf("%s: tokenizer has %d tokens, more than the model's vocabulary of %d", path, g.tok.VocabSize(), g.Config.VocabSize)
		}
		if err := g.build(path); err != nil {
			return nil, err
		}
		if err := checkpoint.Assign(nn.Params(g.module()), train.ModelTensors(f.Tensors), true); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if adapter == "" {
		return g, nil
	}
	if g.Kind != "gpt" || g.LoRA != nil {
		return nil, fmt.Errorf("%s: an adapter goes on the language model it was trained from, and this is a %s", path, g.describe())
	}
	f, err := checkpoint.Load(adapter)
	if err != nil {
		return nil, err
	}
	var am gptModel
	if err := am.decode(adapter, f.Metadata, metaAdapter); err != nil {
		return nil, err
	}
	if am.LoRA == nil {
		return nil, fmt.Errorf("%s: no LoRA configuration in its %s metadata", adapter, metaAdapter)
	}
	base, want := g.Config, am.Config
	base.Dropout, want.Dropout = 0, 0 // training-time only
	if base != want {
		return nil, fmt.Errorf("%s: the adapter was trained on a %s; %s is a %s", adapter, describeConfig(am.Config), path, describeConfig(g.Config))
	}
	am.lm, am.tok = g.lm, g.tok
	if err := am.build(adapter); err != nil {
		return nil, err
	}
	if _, err := train.LoadAdapter(adapter, am.module()); err != nil {
		return nil, err
	}
	return &am, nil
}

// decode reads the gptMeta under key.
func (g *gptModel) decode(path string, meta map[string]string, key string) error {
	raw, ok := meta[key]
	if !ok {
		return fmt.Errorf("%s: not a moxing GPT file (no %s metadata)", path, key)
	}
	if err := json.Unmarshal([]byte(raw), &g.gptMeta); err != nil {
		return fmt.Errorf("%s: %s: %w", path, key, err)
	}
	if g.Kind != "gpt" && g.Kind != "gpt-classifier" {
		return fmt.Errorf("%s: a %q model, not a GPT", path, g.Kind)
	}
	return nil
}

// build makes the model that g's metadata describes (reusing g.lm as the
// backbone when set), with empty weights to load.
func (g *gptModel) build(path string) error {
	rng := rand.New(rand.NewPCG(0, 0))
	if g.lm == nil {
		m, err := gpt.New(g.Config, rng)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		g.lm = m
	}
	if g.LoRA != nil {
		if err := g.lm.AddLoRA(*g.LoRA, rng); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if g.Kind == "gpt-classifier" {
		c, err := gpt.NewClassifier(g.lm, len(g.Labels), rng)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		g.cls = c
	}
	return nil
}

func (g *gptModel) describe() string {
	switch {
	case g.Kind == "gpt-classifier":
		return fmt.Sprintf("GPT classifier (labels %s)", strings.Join(g.Labels, ", "))
	case g.LoRA != nil:
		return "GPT language model with adapters"
	}
	return "GPT language model"
}

func describeConfig(c gpt.Config) string {
	return fmt.Sprintf("GPT of %d layers, %d heads, %d channels, window %d, vocabulary %d", c.NLayer, c.NHead, c.NEmbd, c.BlockSize, c.VocabSize)
}

// loadLM loads a GPT language model checkpoint (see loadGPT) for
// inference, with any adapters merged into its weights.
func loadLM(path, adapter string) (*gpt.Model, tokenizer.Tokenizer, error) {
	g, err := loadGPT(path, adapter)
	if err != nil {
		return nil, nil, err
	}
	if g.cls != nil {
		return nil, nil, fmt.Errorf("%s: a %s, not a language model: use moxing classify", path, g.describe())
	}
	g.lm.MergeLoRA() // for inference: the same outputs at the base model's cost
	return g.lm, g.tok, nil
}

// loadClassifier loads a GPT classifier checkpoint (see loadGPT).
func loadClassifier(path, adapter string) (*gptModel, error) {
	g, err := loadGPT(path, adapter)
	if err != nil {
		return nil, err
	}
	if g.cls == nil {
		return nil, fmt.Errorf("%s: a %s, not a classifier: fine-tune one with moxing finetune --task classify --init %s", path, g.describe(), path)
	}
	return g, nil
}

// generator is a language model that streams tokens: the GPT and the
// recurrent rnn.LM.
type generator interface {
	Generate(ctx context.Context, prompt []int, maxTokens int, s *sample.Sampler) iter.Seq[int]
}

// generateText streams the continuation of prompt to w as the tokens come,
// holding back bytes until they form whole UTF-8 characters, and, with a
// stop string, the characters that might be its beginning. It stops after
// maxTokens, at stop (which is not printed), or when ctx is cancelled (not
// an error: the user asked). Warnings go to warn.
func generateText(ctx context.Context, w, warn io.Writer, m generator, tok tokenizer.Tokenizer, prompt string, maxTokens int, cfg sample.Config, seed uint64, stop string) error {
	ids, err := tok.Encode(prompt)
	if err != nil {
		return fmt.Errorf("prompt: %w", err)
	}
	if len(ids) == 0 {
		return usagef("the prompt is empty: give at least one character with --prompt")
	}
	if g, ok := m.(*gpt.Model); ok && len(ids) >= g.Config.BlockSize {
		fmt.Fprintf(warn, "warning: the prompt has %d tokens; only the last %d fit the context window\n", len(ids), g.Config.BlockSize-1)
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
