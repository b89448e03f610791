// Package load opens any model moxing can run: a moxing checkpoint (a
// .safetensors file with a model card), a run folder (its best.safetensors),
// a Hugging Face GPT-2 folder (a language model or a sequence
// classifier, sharded or not) or a GGUF GPT-2 file (llama.cpp's). It reads the card from the header alone,
// maps the card's kind to the model package that builds and loads it, and
// reads the tensors once. The CLI, the examples and the server all open
// models here.
package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/gguf"
	"github.com/moxing/moxing/models/bow"
	"github.com/moxing/moxing/models/cnn"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/models/mlp"
	"github.com/moxing/moxing/models/rnn"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/sample"
	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/tokenizer"
)

// The card keys of the preprocessing that tabular and image models keep
// beside their weights (in Card.Extra).
const (
	MetaSchema = "moxing.schema" // a tabular model's data.Schema
	MetaCSV    = "moxing.csv"    // how its training CSV was read: data.CSVFormat
	MetaImages = "moxing.images" // an image model's Images preprocessing
)

// Model is an opened model: its card and, by kind, exactly one of the
// model fields.
type Model struct {
	Path string           // the file or folder it came from
	Card *checkpoint.Card // for a Hugging Face folder, made from its config

	GPT     *gpt.Pretrained // kinds gpt and gpt-classifier
	RNN     *rnn.Pretrained // kinds rnn-lm and rnn-classifier
	Tabular *Tabular        // kind mlp
	Images  *Images         // kind cnn
	BOW     *bow.Pretrained // kind bow
}

// Tabular is an MLP with what it needs to read a table: the schema fitted
// on its training rows and the CSV format of its training file.
type Tabular struct {
	Model  *mlp.Model
	Schema *data.Schema
	CSV    data.CSVFormat
}

// Images is a ConvNet with its preprocessing.
type Images struct {
	Model   *cnn.Model     `json:"-"`
	Norm    data.ImageNorm `json:"norm"`    // standardisation fitted on the training images
	Classes []string       `json:"classes"` // class names by index
}

// Resolve returns the file or folder a model path names: a run folder's
// best.safetensors, a Hugging Face folder (hf true), or the path itself.
func Resolve(path string) (file string, hf bool, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", false, err
	}
	if !st.IsDir() {
		return path, false, nil
	}
	if best := filepath.Join(path, "best.safetensors"); exists(best) {
		return best, false, nil
	}
	if exists(filepath.Join(path, gpt.HFConfigFile)) && (exists(filepath.Join(path, gpt.HFWeightsFile)) || exists(filepath.Join(path, gpt.HFIndexFile))) {
		return path, true, nil
	}
	return "", false, fmt.Errorf("%s: a folder with neither best.safetensors (a moxing run) nor config.json and model.safetensors or model.safetensors.index.json (Hugging Face)", path)
}

func exists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// Kind returns the kind of the model at path from its header alone
// (no tensor is read): a card's kind, or for a Hugging Face folder "gpt" or
// "gpt-classifier" as its config.json says.
func Kind(path string) (string, error) {
	file, hf, err := Resolve(path)
	if err != nil {
		return "", err
	}
	if hf {
		kind, err := gpt.HFKind(os.DirFS(file))
		if err != nil {
			return "", fmt.Errorf("%s: %w", file, err)
		}
		return kind, nil
	}
	if f, err := data.OpenFile(file); err == nil {
		ggufFile := isGGUF(f)
		f.Close()
		if ggufFile {
			return gpt.KindLM, nil
		}
	}
	h, err := checkpoint.LoadHeader(file)
	if err != nil {
		return "", err
	}
	card, err := checkpoint.ReadCard(h.Metadata, checkpoint.MetaCard)
	if err != nil {
		return "", fmt.Errorf("%s: %w", file, err)
	}
	return card.Kind, nil
}

// Open opens the model at path (see Resolve). It reads the header, checks
// the card and the tensors' names and shapes against the model the card
// describes, and only then reads the tensors, once. With kinds, a model of
// another kind is an error before anything is built. Errors name the file.
func Open(path string, kinds ...string) (*Model, error) {
	file, hf, err := Resolve(path)
	if err != nil {
		return nil, err
	}
	if hf {
		kind, err := gpt.HFKind(os.DirFS(file))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(kinds) > 0 && !slices.Contains(kinds, kind) {
			return nil, fmt.Errorf("%s: a Hugging Face GPT-2 (%s), not one of %s", file, kind, strings.Join(kinds, ", "))
		}
		return openHF(file)
	}
	f, err := data.OpenFile(file) // not a pipe or a device: opening a pipe would wait for a writer
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return Read(f, st.Size(), file, kinds...)
}

// Read reads a moxing checkpoint of the given size from r, as Open does a
// file: the header and the card first, checked against each other and
// against the model the card describes, then the tensors, once. name labels
// errors and becomes the Model's Path. Safe on untrusted input.
func Read(r io.ReaderAt, size int64, name string, kinds ...string) (*Model, error) {
	if isGGUF(r) {
		return readGGUF(r, size, name, kinds)
	}
	h, err := checkpoint.ReadHeader(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	m, err := open(name, h, kinds)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}

// open maps the card's kind to its model package.
func open(file string, h *checkpoint.Header, kinds []string) (*Model, error) {
	card, err := checkpoint.ReadCard(h.Metadata, checkpoint.MetaCard)
	if err != nil {
		return nil, err
	}
	if len(kinds) > 0 && !slices.Contains(kinds, card.Kind) {
		return nil, fmt.Errorf("a %q model, not one of %s", card.Kind, strings.Join(kinds, ", "))
	}
	m := &Model{Path: file, Card: card}
	switch card.Kind {
	case gpt.KindLM, gpt.KindClassifier:
		m.GPT, err = gpt.Load(card, h)
	case rnn.KindLM, rnn.KindClassifier:
		m.RNN, err = rnn.Load(card, h)
	case mlp.Kind:
		m.Tabular, err = openTabular(card, h)
	case cnn.Kind:
		m.Images, err = openImages(card, h)
	case bow.Kind:
		m.BOW, err = bow.Load(card, h)
	default:
		return nil, fmt.Errorf("a %q model: this moxing knows gpt, gpt-classifier, rnn-lm, rnn-classifier, mlp, cnn and bow", card.Kind)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// isGGUF reports whether r starts with GGUF's magic.
func isGGUF(r io.ReaderAt) bool {
	var magic [4]byte
	_, err := r.ReadAt(magic[:], 0)
	return err == nil && string(magic[:]) == gguf.Magic
}

// readGGUF reads a GGUF GPT-2 (see gpt.ReadGGUF), its weights as float32.
func readGGUF(r io.ReaderAt, size int64, name string, kinds []string) (*Model, error) {
	if len(kinds) > 0 && !slices.Contains(kinds, gpt.KindLM) {
		return nil, fmt.Errorf("%s: a GGUF language model, not one of %s", name, strings.Join(kinds, ", "))
	}
	p, err := gpt.ReadGGUF(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	card, err := p.Card()
	if err != nil {
		return nil, err
	}
	return &Model{Path: name, Card: card, GPT: p}, nil
}

func openHF(dir string) (*Model, error) {
	p, err := gpt.LoadHF(os.DirFS(dir))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	card, err := p.Card()
	if err != nil {
		return nil, err
	}
	return &Model{Path: dir, Card: card, GPT: p}, nil
}

func openTabular(card *checkpoint.Card, h *checkpoint.Header) (*Tabular, error) {
	t := &Tabular{Schema: &data.Schema{}}
	if err := decodeExtra(card, MetaSchema, t.Schema); err != nil {
		return nil, err
	}
	if err := decodeExtra(card, MetaCSV, &t.CSV); err != nil {
		return nil, err
	}
	var cfg mlp.Config
	if err := card.DecodeConfig(&cfg); err != nil {
		return nil, err
	}
	if cfg.Inputs != t.Schema.Inputs() || cfg.Outputs != t.Schema.Outputs() {
		return nil, fmt.Errorf("model has %d inputs and %d outputs, its preprocessing gives %d and %d",
			cfg.Inputs, cfg.Outputs, t.Schema.Inputs(), t.Schema.Outputs())
	}
	var err error
	t.Model, err = mlp.Load(card, h)
	return t, err
}

func openImages(card *checkpoint.Card, h *checkpoint.Header) (*Images, error) {
	im := &Images{}
	if err := decodeExtra(card, MetaImages, im); err != nil {
		return nil, err
	}
	var cfg cnn.Config
	if err := card.DecodeConfig(&cfg); err != nil {
		return nil, err
	}
	if len(im.Norm.Mean) != cfg.Channels || len(im.Norm.Std) != cfg.Channels || len(im.Classes) < 2 {
		return nil, fmt.Errorf("%s does not fit a model of %d channel(s)", MetaImages, cfg.Channels)
	}
	var err error
	im.Model, err = cnn.Load(card, h)
	return im, err
}

// decodeExtra decodes the card's extra metadata under key into v.
func decodeExtra(card *checkpoint.Card, key string, v any) error {
	raw, ok := card.Extra[key]
	if !ok {
		return fmt.Errorf("a %s model without its %s metadata", card.Kind, key)
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// TabularCard is the card of a tabular model: the MLP's, with its schema
// and CSV format.
func TabularCard(m *mlp.Model, schema *data.Schema, csv data.CSVFormat) *checkpoint.Card {
	c := m.Card()
	s, _ := json.Marshal(schema)
	f, _ := json.Marshal(csv)
	c.Extra = map[string]string{MetaSchema: string(s), MetaCSV: string(f)}
	return c
}

// ImagesCard is the card of an image model: the ConvNet's, with its
// preprocessing.
func ImagesCard(im *Images) *checkpoint.Card {
	c := im.Model.Card()
	raw, _ := json.Marshal(im)
	c.Extra = map[string]string{MetaImages: string(raw)}
	return c
}

// OpenAdapter opens the model at path (as Open, of one of kinds when
// given) and, when adapter is not "", puts the LoRA adapter at adapter on
// it: a moxing adapter file (moxing finetune --lora-rank) or a PEFT adapter
// folder (a directory with adapter_config.json; see gpt.LoadPEFT). The model
// must then be the GPT language model the adapter was trained on.
func OpenAdapter(path, adapter string, kinds ...string) (*Model, error) {
	m, err := Open(path, kinds...)
	if err != nil {
		return nil, err
	}
	if adapter == "" {
		return m, nil
	}
	if m.GPT == nil {
		return nil, fmt.Errorf("%s: a %s model takes no adapter", m.Path, m.Card.Kind)
	}
	var p *gpt.Pretrained
	if st, err := os.Stat(adapter); err == nil && st.IsDir() {
		if p, err = gpt.LoadPEFT(m.GPT, os.DirFS(adapter)); err != nil {
			return nil, fmt.Errorf("%s: %w", adapter, err)
		}
	} else {
		h, err := checkpoint.Open(adapter)
		if err != nil {
			return nil, err
		}
		defer h.Close()
		if p, err = gpt.LoadAdapter(m.GPT, h); err != nil {
			return nil, fmt.Errorf("%s: %w", adapter, err)
		}
	}
	card, err := p.Card()
	if err != nil {
		return nil, err
	}
	return &Model{Path: m.Path, Card: card, GPT: p}, nil
}

// Describe names what m is, for messages.
func (m *Model) Describe() string {
	switch {
	case m.GPT != nil:
		return m.GPT.Describe()
	case m.RNN != nil && m.RNN.Classifier != nil:
		return fmt.Sprintf("recurrent classifier (labels %s)", strings.Join(m.RNN.Labels, ", "))
	case m.RNN != nil:
		return "recurrent language model"
	case m.Tabular != nil:
		return "tabular MLP"
	case m.BOW != nil:
		return fmt.Sprintf("bag-of-n-grams classifier (labels %s)", strings.Join(m.BOW.Labels, ", "))
	}
	return "ConvNet image classifier"
}

// Kind is m's kind, as a card names it: gpt.KindLM, gpt.KindClassifier,
// rnn.KindLM, rnn.KindClassifier, mlp.Kind, cnn.Kind or bow.Kind.
func (m *Model) Kind() string {
	switch {
	case m.GPT != nil && m.GPT.Classifier != nil:
		return gpt.KindClassifier
	case m.GPT != nil:
		return gpt.KindLM
	case m.RNN != nil && m.RNN.Classifier != nil:
		return rnn.KindClassifier
	case m.RNN != nil:
		return rnn.KindLM
	case m.Tabular != nil:
		return mlp.Kind
	case m.BOW != nil:
		return bow.Kind
	}
	return cnn.Kind
}

// Parameters is the number of m's weights (its adapters' included).
func (m *Model) Parameters() int {
	var module any
	switch {
	case m.GPT != nil:
		module = m.GPT.Module()
	case m.RNN != nil && m.RNN.Classifier != nil:
		module = m.RNN.Classifier
	case m.RNN != nil:
		module = m.RNN.LM
	case m.Tabular != nil:
		module = m.Tabular.Model
	case m.BOW != nil:
		module = m.BOW.Model
	default:
		module = m.Images.Model
	}
	n := 0
	for _, p := range nn.Params(module) {
		n += p.Numel()
	}
	return n
}

// LanguageModel is a model that continues text: a GPT (its adapters
// merged) or a recurrent language model.
type LanguageModel struct {
	Model interface {
		// Forward maps b windows of t ids to logits (b, t, V) and, with
		// targets, their mean cross-entropy.
		Forward(idx []int, b, t int, targets []int) (logits, loss *tensor.Tensor)
		// Window is the longest window the model takes, 0 for no limit.
		Window() int
		// Generate streams up to maxTokens ids continuing prompt.
		Generate(ctx context.Context, prompt []int, maxTokens int, s *sample.Sampler) iter.Seq[int]
	}
	Tokenizer tokenizer.Tokenizer
	Window    int // tokens scored at once: the context window, or a recurrent model's training length
	Vocab     int // the model's vocabulary, V
}

// LanguageModel returns m as a language model, with any adapters merged
// into its weights for inference, or an error saying what m is instead.
func (m *Model) LanguageModel() (*LanguageModel, error) {
	switch {
	case m.GPT != nil && m.GPT.Classifier == nil:
		m.GPT.LM.MergeLoRA() // the same outputs at the base model's cost
		lm := m.GPT.LM
		if err := lm.QuantizeWeights(m.GPT.Quant); err != nil { // a Q8_0 or F16 GGUF runs on its stored weights
			return nil, fmt.Errorf("%s: %w", m.Path, err)
		}
		return &LanguageModel{Model: lm, Tokenizer: m.GPT.Tokenizer, Window: lm.Config.BlockSize, Vocab: lm.Config.VocabSize}, nil
	case m.RNN != nil && m.RNN.LM != nil:
		return &LanguageModel{Model: m.RNN.LM, Tokenizer: m.RNN.Tokenizer, Window: m.RNN.Window, Vocab: m.RNN.LM.Config.Vocab}, nil
	}
	if m.GPT != nil {
		return nil, fmt.Errorf("%s: a %s, not a language model: use moxing classify", m.Path, m.Describe())
	}
	return nil, fmt.Errorf("%s: a %q model, not a GPT or recurrent language model", m.Path, m.Kind())
}

// TextClassifier is a model that labels texts: a GPT classifier or a
// recurrent one.
type TextClassifier struct {
	Model     nn.Layer            // maps padded id rows (B, T) (see data.Pad), or Features's rows, to logits
	Tokenizer tokenizer.Tokenizer // nil for a bag-of-n-grams classifier
	// Features, for a bag-of-n-grams classifier, turns texts into the
	// model's rows (bow.Vectorizer.Rows) instead of the tokenizer.
	Features *bow.Vectorizer
	Labels   []string
	Window   int // texts are cut to this many tokens (0: no limit)
	// PerClassLogits is true when the model gives one logit per class even
	// for two classes (a GPT classifier), false when two classes share one
	// logit (a recurrent classifier).
	PerClassLogits bool
}

// TextClassifier returns m as a text classifier, or an error saying what m
// is instead.
func (m *Model) TextClassifier() (*TextClassifier, error) {
	switch {
	case m.GPT != nil && m.GPT.Classifier != nil:
		g := m.GPT
		return &TextClassifier{Model: g.Classifier, Tokenizer: g.Tokenizer, Labels: g.Labels, Window: g.LM.Config.BlockSize, PerClassLogits: true}, nil
	case m.RNN != nil && m.RNN.Classifier != nil:
		r := m.RNN
		return &TextClassifier{Model: r.Classifier, Tokenizer: r.Tokenizer, Labels: r.Labels, Window: r.Window}, nil
	case m.BOW != nil:
		return &TextClassifier{Model: m.BOW.Model, Features: m.BOW.Vectorizer, Labels: m.BOW.Labels, PerClassLogits: true}, nil
	}
	if m.GPT != nil {
		return nil, fmt.Errorf("%s: a %s, not a classifier: fine-tune one with moxing finetune --task classify --init %s", m.Path, m.Describe(), m.Path)
	}
	return nil, fmt.Errorf("%s: a %q model, not a text classifier", m.Path, m.Kind())
}

// Tokenizer returns the tokenizer of a text model, nil for another.
func (m *Model) Tokenizer() tokenizer.Tokenizer {
	switch {
	case m.GPT != nil:
		return m.GPT.Tokenizer
	case m.RNN != nil:
		return m.RNN.Tokenizer
	}
	return nil
}

// ErrEmptyPrompt is Complete's error for a prompt of no tokens.
var ErrEmptyPrompt = errors.New("the prompt is empty")

// Completion is what LanguageModel.Complete did besides writing the text.
type Completion struct {
	PromptTokens int  // tokens of the prompt, before cropping
	Cropped      bool // the prompt was longer than the window: only its end was read
	Replaced     int  // characters of the prompt the vocabulary lacks, read as tokenizer.Unknown
	Stopped      bool // the text ended at the stop string
}

// Complete writes to w the continuation of prompt, as whole UTF-8
// characters as the tokens come (see tokenizer.Stream): at most maxTokens
// tokens, drawn with cfg from a generator seeded by seed, ending before
// stop when it appears (stop is not written). A cancelled ctx ends it
// without an error. An empty prompt is an error; characters the vocabulary
// lacks are read as tokenizer.Unknown and counted. Safe for concurrent use
// with other calls on the same model.
func (lm *LanguageModel) Complete(ctx context.Context, w io.Writer, prompt string, maxTokens int, cfg sample.Config, seed uint64, stop string) (Completion, error) {
	lossy := tokenizer.NewLossy(lm.Tokenizer)
	ids, err := lossy.Encode(prompt)
	c := Completion{PromptTokens: len(ids), Replaced: lossy.Replaced()}
	if err != nil {
		return c, fmt.Errorf("prompt: %w", err)
	}
	if len(ids) == 0 {
		return c, ErrEmptyPrompt
	}
	win := lm.Model.Window()
	c.Cropped = win > 0 && len(ids) >= win
	s := sample.New(cfg, rand.New(rand.NewPCG(seed, 0)))
	st := tokenizer.NewStream(lm.Tokenizer, stop)
	for id := range lm.Model.Generate(ctx, ids, maxTokens, s) {
		text, stopped := st.Next(id)
		if _, err := io.WriteString(w, text); err != nil || stopped {
			c.Stopped = stopped
			return c, err
		}
	}
	text, _ := st.Flush()
	_, err = io.WriteString(w, text)
	return c, err
}
