package gpt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/tokenizer"
)

// The files of a Hugging Face model folder.
const (
	HFConfigFile     = "config.json"
	HFWeightsFile    = "model.safetensors"
	HFIndexFile      = "model.safetensors.index.json" // a sharded checkpoint's map from tensor to shard
	HFVocabFile      = "vocab.json"
	HFMergesFile     = "merges.txt"
	HFTokenizerJSON  = "tokenizer.json"
	HFTokenizerCfg   = "tokenizer_config.json"
	hfArchLM         = "GPT2LMHeadModel"
	hfArchBase       = "GPT2Model"
	hfArchClassifier = "GPT2ForSequenceClassification"
)

// layerNormEps is the epsilon of every layer norm of a GPT (nn.NewLayerNorm's),
// GPT-2's layer_norm_epsilon.
const layerNormEps = 1e-5

// hfActivations are the values of activation_function that name the GELU
// moxing computes, GPT-2's tanh approximation
// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): transformers' gelu_new (GPT-2's
// own), gelu_pytorch_tanh (the same formula in PyTorch's kernel) and
// gelu_fast (the same formula, factored).
var hfActivations = []string{"gelu_new", "gelu_pytorch_tanh", "gelu_fast"}

// hfConfig is a Hugging Face GPT-2 config.json: the fields of transformers'
// GPT2Config that decide what the model computes, and those SaveHF writes.
// A pointer is nil when the field is absent or null, which means
// GPT2Config's default.
type hfConfig struct {
	ModelType     string   `json:"model_type"`
	Architectures []string `json:"architectures,omitempty"`

	VocabSize  int  `json:"vocab_size"`
	NPositions int  `json:"n_positions"`
	NCtx       int  `json:"n_ctx,omitempty"` // older name of n_positions; transformers ignores it
	NEmbd      int  `json:"n_embd"`
	NLayer     int  `json:"n_layer"`
	NHead      int  `json:"n_head"`
	NInner     *int `json:"n_inner"` // null: 4·n_embd

	Activation       *string  `json:"activation_function"` // null: gelu_new
	ResidPdrop       *float64 `json:"resid_pdrop"`
	EmbdPdrop        *float64 `json:"embd_pdrop"`
	AttnPdrop        *float64 `json:"attn_pdrop"`
	LayerNormEpsilon *float64 `json:"layer_norm_epsilon"` // null: 1e-5
	InitializerRange float64  `json:"initializer_range,omitempty"`

	ScaleAttnWeights           *bool `json:"scale_attn_weights"` // null: true
	ScaleAttnByInverseLayerIdx bool  `json:"scale_attn_by_inverse_layer_idx"`
	ReorderAndUpcastAttn       bool  `json:"reorder_and_upcast_attn"`
	AddCrossAttention          bool  `json:"add_cross_attention"`
	TieWordEmbeddings          *bool `json:"tie_word_embeddings"` // null: true
	UseCache                   bool  `json:"use_cache"`

	BosTokenID *int `json:"bos_token_id"`
	EosTokenID *int `json:"eos_token_id"`
	PadTokenID *int `json:"pad_token_id,omitempty"`

	ID2Label map[string]string `json:"id2label,omitempty"` // a classifier's labels by id, "0", "1", …
	Label2ID map[string]int    `json:"label2id,omitempty"`

	TorchDtype string `json:"torch_dtype,omitempty"`
}

// classifier reports whether the config is a GPT2ForSequenceClassification.
func (c *hfConfig) classifier() bool { return slices.Contains(c.Architectures, hfArchClassifier) }

// check returns the moxing Config of c, or an error naming the first field
// whose value moxing cannot compute exactly.
func (c *hfConfig) check() (Config, error) {
	cfg := Config{VocabSize: c.VocabSize, BlockSize: c.NPositions, NEmbd: c.NEmbd, NLayer: c.NLayer, NHead: c.NHead}
	field := func(name string, v any, want string) error {
		return fmt.Errorf("%s %s: %s", name, v, want)
	}
	switch {
	case c.ModelType == "":
		return cfg, errors.New(`model_type missing: want "gpt2"`)
	case c.ModelType != "gpt2":
		return cfg, field("model_type", strconv.Quote(c.ModelType), `moxing runs GPT-2 ("gpt2") models only`)
	case c.NInner != nil && *c.NInner != 4*c.NEmbd:
		return cfg, field("n_inner", strconv.Itoa(*c.NInner), fmt.Sprintf("moxing's MLP is 4·n_embd = %d wide", 4*c.NEmbd))
	case c.Activation != nil && !slices.Contains(hfActivations, *c.Activation):
		return cfg, field("activation_function", strconv.Quote(*c.Activation), "moxing computes GPT-2's tanh GELU (gelu_new, gelu_pytorch_tanh, gelu_fast)")
	case c.LayerNormEpsilon != nil && *c.LayerNormEpsilon != layerNormEps:
		return cfg, field("layer_norm_epsilon", fmt.Sprint(*c.LayerNormEpsilon), "moxing's layer norms use 1e-05")
	case c.ScaleAttnWeights != nil && !*c.ScaleAttnWeights:
		return cfg, field("scale_attn_weights", "false", "moxing scales attention by 1/√head_size")
	case c.ScaleAttnByInverseLayerIdx:
		return cfg, field("scale_attn_by_inverse_layer_idx", "true", "moxing scales attention by 1/√head_size only")
	case c.AddCrossAttention:
		return cfg, field("add_cross_attention", "true", "moxing's GPT is a decoder without cross-attention")
	}
	for _, a := range c.Architectures {
		if a != hfArchLM && a != hfArchBase && a != hfArchClassifier {
			return cfg, field("architectures", strconv.Quote(a), fmt.Sprintf("moxing loads %s, %s and %s", hfArchLM, hfArchBase, hfArchClassifier))
		}
	}
	// One dropout for embeddings, attention and residual branches (used in
	// training only); GPT2Config's default is 0.1.
	drops := [3]float64{0.1, 0.1, 0.1}
	for i, d := range []*float64{c.ResidPdrop, c.EmbdPdrop, c.AttnPdrop} {
		if d != nil {
			drops[i] = *d
		}
	}
	if drops[1] != drops[0] || drops[2] != drops[0] {
		return cfg, fmt.Errorf("resid_pdrop %v, embd_pdrop %v and attn_pdrop %v differ: moxing has one dropout for all three", drops[0], drops[1], drops[2])
	}
	cfg.Dropout = float32(drops[0])
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// labels returns a classifier's labels from id2label: ids 0 to K-1, K ≥ 2.
func (c *hfConfig) labels() ([]string, error) {
	if len(c.ID2Label) < 2 {
		return nil, fmt.Errorf("id2label has %d labels: a %s needs at least 2", len(c.ID2Label), hfArchClassifier)
	}
	labels := make([]string, len(c.ID2Label))
	for k, v := range c.ID2Label {
		id, err := strconv.Atoi(k)
		if err != nil || id < 0 || id >= len(labels) || labels[id] != "" || v == "" {
			return nil, fmt.Errorf("id2label %q: %q: want ids 0 to %d, each with a non-empty label", k, v, len(labels)-1)
		}
		labels[id] = v
	}
	return labels, nil
}

// readHFConfig reads and checks config.json.
func readHFConfig(fsys fs.FS) (*hfConfig, Config, error) {
	raw, err := fs.ReadFile(fsys, HFConfigFile)
	if err != nil {
		return nil, Config{}, err
	}
	hc := &hfConfig{}
	if err := json.Unmarshal(raw, hc); err != nil {
		return nil, Config{}, fmt.Errorf("%s: %w", HFConfigFile, err)
	}
	cfg, err := hc.check()
	if err != nil {
		return nil, Config{}, fmt.Errorf("%s: %w", HFConfigFile, err)
	}
	return hc, cfg, nil
}

// HFKind returns the kind of the Hugging Face GPT-2 folder fsys from its
// config.json alone: KindClassifier for a GPT2ForSequenceClassification,
// else KindLM. It checks the config as LoadHF does.
func HFKind(fsys fs.FS) (string, error) {
	hc, _, err := readHFConfig(fsys)
	if err != nil {
		return "", fmt.Errorf("gpt: %w", err)
	}
	if hc.classifier() {
		return KindClassifier, nil
	}
	return KindLM, nil
}

// LoadHF loads a Hugging Face GPT-2 folder, as transformers saves one:
//
//   - config.json, a GPT2Config. Whatever moxing cannot compute exactly is
//     an error naming the field: a model_type other than "gpt2", an
//     activation_function other than the tanh GELU, n_inner other than
//     4·n_embd, layer_norm_epsilon other than 1e-5, scale_attn_weights
//     false, scale_attn_by_inverse_layer_idx, add_cross_attention, and
//     tie_word_embeddings false with an lm_head.weight that is not the token
//     embedding. architectures GPT2ForSequenceClassification makes a
//     Classifier whose labels come from id2label.
//   - the weights: model.safetensors, or a sharded checkpoint,
//     model.safetensors.index.json and the shards its weight_map names
//     (every shard must exist, and each tensor be in exactly the shard the
//     map names). Names may carry "transformer."; lm_head.weight, tied to
//     wte, is not loaded. F16, BF16 and F64 are converted to float32.
//   - the tokenizer: vocab.json and merges.txt (tokenizer.FromHF), or else
//     tokenizer.json (tokenizer.FromHFJSON: byte-level BPE or characters).
//
// Sizes are checked from the headers before the model is allocated. Errors
// name the file and the field or tensor at fault.
func LoadHF(fsys fs.FS) (*Pretrained, error) {
	p, err := loadHF(fsys)
	if err != nil {
		return nil, fmt.Errorf("gpt: %w", err)
	}
	return p, nil
}

func loadHF(fsys fs.FS) (*Pretrained, error) {
	hc, cfg, err := readHFConfig(fsys)
	if err != nil {
		return nil, err
	}
	var labels []string
	if hc.classifier() {
		if labels, err = hc.labels(); err != nil {
			return nil, fmt.Errorf("%s: %w", HFConfigFile, err)
		}
	}
	tok, err := readHFTokenizer(fsys)
	if err != nil {
		return nil, err
	}
	if tok.VocabSize() > cfg.VocabSize {
		return nil, fmt.Errorf("the tokenizer has %d tokens, more than config.json's vocab_size %d", tok.VocabSize(), cfg.VocabSize)
	}
	numel := cfg.NumParams() + float64(len(labels)*cfg.NEmbd)
	tensors, where, err := readHFWeights(fsys, numel)
	if err != nil {
		return nil, err
	}
	if err := checkHead(hc, tensors); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	rng := rand.New(rand.NewPCG(0, 0))
	p := &Pretrained{Labels: labels, Tokenizer: tok}
	if p.LM, err = New(cfg, nil); err != nil { // its weights are loaded next
		return nil, err
	}
	if labels == nil {
		err = p.LM.LoadTensors(tensors)
	} else if p.Classifier, err = NewClassifier(p.LM, len(labels), rng); err == nil {
		err = p.Classifier.LoadTensors(tensors)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return p, nil
}

// checkHead refuses an untied LM head that is not the token embedding:
// moxing's head is always tied, so it could not compute such a model.
func checkHead(hc *hfConfig, tensors map[string]*tensor.Tensor) error {
	if hc.TieWordEmbeddings == nil || *hc.TieWordEmbeddings || hc.classifier() {
		return nil
	}
	head, ok := tensors["lm_head.weight"]
	wte := tensors["transformer.wte.weight"]
	if wte == nil {
		wte = tensors["wte.weight"]
	}
	if !ok || wte == nil {
		return fmt.Errorf("config.json: tie_word_embeddings false, and there is no lm_head.weight beside the token embedding: moxing's head is tied to wte")
	}
	if !slices.Equal(head.Shape(), wte.Shape()) || !slices.EqualFunc(head.Data, wte.Data, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
		return fmt.Errorf("config.json: tie_word_embeddings false, and lm_head.weight differs from wte.weight: moxing's head is tied to the token embedding")
	}
	return nil
}

// readHFTokenizer reads vocab.json and merges.txt, or else tokenizer.json.
func readHFTokenizer(fsys fs.FS) (tokenizer.Tokenizer, error) {
	vocab, verr := fs.ReadFile(fsys, HFVocabFile)
	merges, merr := fs.ReadFile(fsys, HFMergesFile)
	switch {
	case errors.Is(verr, fs.ErrNotExist) && errors.Is(merr, fs.ErrNotExist):
		raw, err := fs.ReadFile(fsys, HFTokenizerJSON)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no tokenizer: want %s and %s, or %s", HFVocabFile, HFMergesFile, HFTokenizerJSON)
		}
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		return tokenizer.FromHFJSON(bytes.NewReader(raw))
	case verr != nil:
		return nil, fmt.Errorf("tokenizer: %w", verr)
	case merr != nil:
		return nil, fmt.Errorf("tokenizer: %w", merr)
	}
	return tokenizer.FromHF(bytes.NewReader(vocab), bytes.NewReader(merges))
}

// hfIndex is model.safetensors.index.json.
type hfIndex struct {
	WeightMap map[string]string `json:"weight_map"` // tensor name -> shard file
}

// readHFWeights reads the folder's tensors from model.safetensors or, when
// there is none, from the shards model.safetensors.index.json lists. It
// reads every header first and refuses files that hold fewer values than
// numel, the model's parameter count, before reading any tensor. where
// names the file(s) for errors.
func readHFWeights(fsys fs.FS, numel float64) (tensors map[string]*tensor.Tensor, where string, err error) {
	shards := []string{HFWeightsFile}
	var index *hfIndex
	if _, err := fs.Stat(fsys, HFWeightsFile); errors.Is(err, fs.ErrNotExist) {
		raw, ierr := fs.ReadFile(fsys, HFIndexFile)
		if errors.Is(ierr, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("no weights: want %s or %s", HFWeightsFile, HFIndexFile)
		}
		if ierr != nil {
			return nil, "", ierr
		}
		index = &hfIndex{}
		if err := json.Unmarshal(raw, index); err != nil {
			return nil, "", fmt.Errorf("%s: %w", HFIndexFile, err)
		}
		if len(index.WeightMap) == 0 {
			return nil, "", fmt.Errorf("%s: weight_map is empty", HFIndexFile)
		}
		shards = shards[:0]
		for _, s := range index.WeightMap {
			if !slices.Contains(shards, s) {
				shards = append(shards, s)
			}
		}
		slices.Sort(shards)
		where = HFIndexFile
	} else {
		where = HFWeightsFile
	}

	headers := make([]*checkpoint.Header, len(shards))
	inShard := map[string]string{}
	total := 0
	for i, name := range shards {
		h, closer, err := openSafetensors(fsys, name)
		if err != nil {
			if index != nil && errors.Is(err, fs.ErrNotExist) {
				return nil, where, fmt.Errorf("%s: shard %q does not exist", HFIndexFile, name)
			}
			return nil, where, err
		}
		defer closer.Close()
		headers[i] = h
		total += h.Numel()
		for _, t := range h.Tensors {
			if other, dup := inShard[t.Name]; dup {
				return nil, where, fmt.Errorf("%s: tensor %q is in both %s and %s", HFIndexFile, t.Name, other, name)
			}
			inShard[t.Name] = name
		}
	}
	if index != nil {
		for t, s := range inShard {
			if index.WeightMap[t] != s {
				return nil, where, fmt.Errorf("%s: tensor %q is in %s, but weight_map says %q", HFIndexFile, t, s, index.WeightMap[t])
			}
		}
		for t, s := range index.WeightMap {
			if inShard[t] != s {
				return nil, where, fmt.Errorf("%s: weight_map puts tensor %q in %s, which does not hold it", HFIndexFile, t, s)
			}
		}
	}
	if numel > float64(total) {
		return nil, where, fmt.Errorf("config.json describes %.0f parameters, %s holds %d values", numel, where, total)
	}
	tensors = make(map[string]*tensor.Tensor, len(inShard))
	for i, h := range headers {
		f, err := h.ReadTensors()
		if err != nil {
			return nil, where, fmt.Errorf("%s: %w", shards[i], err)
		}
		for name, t := range f.Tensors {
			tensors[name] = t
		}
	}
	return tensors, where, nil
}

// openSafetensors reads the header of the safetensors file name in fsys;
// the caller reads its tensors, then closes it.
func openSafetensors(fsys fs.FS, name string) (*checkpoint.Header, io.Closer, error) {
	if !fs.ValidPath(name) {
		return nil, nil, fmt.Errorf("%q is not a file name in the folder", name)
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("%s: not a regular file", name)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	ra, ok := f.(io.ReaderAt)
	if !ok { // fs.FS files need not read at offsets: hold this one in memory
		data, err := io.ReadAll(io.LimitReader(f, st.Size()))
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		ra = bytes.NewReader(data)
	}
	h, err := checkpoint.ReadHeader(ra, st.Size())
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	return h, f, nil
}
