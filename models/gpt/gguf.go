package gpt

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/moxing/moxing/gguf"
	"github.com/moxing/moxing/internal/atomicfile"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/quant"
	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/tokenizer"
)

// ggufName maps a GPT parameter's name to its GGUF tensor name, as
// llama.cpp's converter names GPT-2's, and says whether the weight is a
// Conv1D (in, out) that GGUF stores transposed, as (out, in).
func ggufName(name string) (string, bool, error) {
	switch name {
	case "wte.weight":
		return "token_embd.weight", false, nil
	case "wpe.weight":
		return "position_embd.weight", false, nil
	case "ln_f.weight", "ln_f.bias":
		return "output_norm." + strings.TrimPrefix(name, "ln_f."), false, nil
	}
	var layer int
	var rest string
	if n, _ := fmt.Sscanf(name, "h.%d.", &layer); n == 1 {
		rest = strings.TrimPrefix(name, fmt.Sprintf("h.%d.", layer))
	}
	parts := map[string]string{"ln_1": "attn_norm", "attn.c_attn": "attn_qkv", "attn.c_proj": "attn_output", "ln_2": "ffn_norm", "mlp.c_fc": "ffn_up", "mlp.c_proj": "ffn_down"}
	for ours, theirs := range parts {
		if suffix, ok := strings.CutPrefix(rest, ours+"."); ok && (suffix == "weight" || suffix == "bias") {
			return fmt.Sprintf("blk.%d.%s.%s", layer, theirs, suffix), suffix == "weight" && !strings.HasPrefix(ours, "ln_"), nil
		}
	}
	return "", false, fmt.Errorf("parameter %s has no GGUF name", name)
}

// ggufFileType is general.file_type for weights stored as t (llama_ftype).
var ggufFileType = map[quant.Type]uint32{quant.F32: 0, quant.F16: 1, quant.Q8_0: 7, quant.BF16: 32}

// WriteGGUF writes p, a GPT language model with a byte-level BPE
// tokenizer, as a GGUF file llama.cpp loads (architecture gpt2): its
// matrices stored as t (f32, f16, bf16 or q8_0; a matrix whose rows are not
// whole Q8_0 blocks stays f32), its norms, biases and position embeddings
// as f32, its tokenizer in tokenizer.ggml.*.
func WriteGGUF(w io.Writer, p *Pretrained, t quant.Type, name string) error {
	if err := writeGGUF(w, p, t, name); err != nil {
		return fmt.Errorf("gpt: GGUF: %w", err)
	}
	return nil
}

func writeGGUF(w io.Writer, p *Pretrained, t quant.Type, name string) error {
	switch {
	case p.Classifier != nil:
		return errors.New("a classifier: GGUF's gpt2 architecture is a language model")
	case p.LM.LoRA != nil:
		return errors.New("the model carries LoRA adapters: merge them into its weights first (MergeLoRA)")
	case ggufFileType[t] == 0 && t != quant.F32:
		return fmt.Errorf("storage %v: want f32, f16, bf16 or q8_0", t)
	}
	bpe, ok := p.Tokenizer.(*tokenizer.BPE)
	if !ok {
		return errors.New("a character tokenizer: llama.cpp's gpt2 tokenizer is a byte-level BPE (prepare the corpus with --tokenizer bpe or gpt2)")
	}
	bl, err := bpe.ByteLevel()
	if err != nil {
		return err
	}
	cfg := p.LM.Config
	if len(bl.Tokens) != cfg.VocabSize {
		return fmt.Errorf("the tokenizer has %d tokens and the model %d rows of embeddings: GGUF needs them equal", len(bl.Tokens), cfg.VocabSize)
	}
	types := make([]int32, len(bl.Tokens))
	for i, s := range bl.Special {
		types[i] = 1 // normal
		if s {
			types[i] = 3 // control
		}
	}
	pair := func(k string, v any) gguf.KV { return gguf.KV{Key: k, Value: v} }
	kv := []gguf.KV{
		pair("general.architecture", "gpt2"),
		pair("general.name", name),
		pair("general.file_type", ggufFileType[t]),
		pair("general.quantization_version", uint32(2)),
		pair("gpt2.context_length", uint32(cfg.BlockSize)),
		pair("gpt2.embedding_length", uint32(cfg.NEmbd)),
		pair("gpt2.feed_forward_length", uint32(4*cfg.NEmbd)),
		pair("gpt2.block_count", uint32(cfg.NLayer)),
		pair("gpt2.attention.head_count", uint32(cfg.NHead)),
		pair("gpt2.attention.layer_norm_epsilon", float32(layerNormEps)),
		pair("tokenizer.ggml.model", "gpt2"),
		pair("tokenizer.ggml.pre", "gpt-2"),
		pair("tokenizer.ggml.tokens", bl.Tokens),
		pair("tokenizer.ggml.token_type", types),
		pair("tokenizer.ggml.merges", bl.Merges),
	}
	if ids, err := bpe.EncodeSpecial(tokenizer.EndOfText); err == nil && len(ids) == 1 {
		kv = append(kv, pair("tokenizer.ggml.bos_token_id", uint32(ids[0])), pair("tokenizer.ggml.eos_token_id", uint32(ids[0])))
	}
	var tensors []gguf.Tensor
	for _, prm := range nn.Params(p.LM) {
		gname, transpose, err := ggufName(prm.Name)
		if err != nil {
			return err
		}
		x := prm.Tensor
		if transpose {
			x = transposed(x)
		}
		shape := x.Shape()
		dims := make([]uint64, len(shape))
		for i, d := range shape {
			dims[len(shape)-1-i] = uint64(d)
		}
		st := quant.F32
		if len(shape) == 2 && gname != "position_embd.weight" && shape[1]%t.BlockSize() == 0 {
			st = t
		}
		tensors = append(tensors, gguf.Tensor{Name: gname, Dims: dims, Type: st, Data: quant.Encode(st, x.Data)})
	}
	return gguf.Write(w, kv, tensors)
}

// ReadGGUF reads a GPT-2 language model from a GGUF file (architecture
// gpt2, as llama.cpp's converter or WriteGGUF writes it), its weights
// dequantized to float32 and its tokenizer from tokenizer.ggml.*.
func ReadGGUF(r io.ReaderAt, size int64) (*Pretrained, error) {
	p, err := readGGUF(r, size)
	if err != nil {
		return nil, fmt.Errorf("gpt: GGUF: %w", err)
	}
	return p, nil
}

func readGGUF(r io.ReaderAt, size int64) (*Pretrained, error) {
	f, err := gguf.Read(r, size)
	if err != nil {
		return nil, err
	}
	if a := f.Get("general.architecture"); a != "gpt2" {
		return nil, fmt.Errorf("architecture %v: moxing reads gpt2", a)
	}
	u := func(key string) (int, error) {
		v, ok := f.Get(key).(uint32)
		if !ok || v == 0 || v > 1<<20 {
			return 0, fmt.Errorf("%s is %v: want a positive uint32", key, f.Get(key))
		}
		return int(v), nil
	}
	var cfg Config
	for key, dst := range map[string]*int{"gpt2.context_length": &cfg.BlockSize, "gpt2.embedding_length": &cfg.NEmbd,
		"gpt2.block_count": &cfg.NLayer, "gpt2.attention.head_count": &cfg.NHead} {
		if *dst, err = u(key); err != nil {
			return nil, err
		}
	}
	if ff, err := u("gpt2.feed_forward_length"); err != nil || ff != 4*cfg.NEmbd {
		return nil, fmt.Errorf("gpt2.feed_forward_length %v: moxing's GPT has 4 × embedding_length (%d)", f.Get("gpt2.feed_forward_length"), 4*cfg.NEmbd)
	}
	if eps, ok := f.Get("gpt2.attention.layer_norm_epsilon").(float32); ok && eps != layerNormEps {
		return nil, fmt.Errorf("gpt2.attention.layer_norm_epsilon %g: moxing's layer norms use %g", eps, layerNormEps)
	}
	tok, err := ggufTokenizer(f)
	if err != nil {
		return nil, err
	}
	cfg.VocabSize = tok.VocabSize()
	m, err := New(cfg, nil) // its weights are loaded next
	if err != nil {
		return nil, err
	}
	ts := map[string]*tensor.Tensor{}
	for _, prm := range nn.Params(m) {
		gname, transpose, err := ggufName(prm.Name)
		if err != nil {
			return nil, err
		}
		gt := f.Tensor(gname)
		if gt == nil {
			return nil, fmt.Errorf("no tensor %s (moxing's %s)", gname, prm.Name)
		}
		shape := prm.Shape()
		if transpose {
			shape[0], shape[1] = shape[1], shape[0]
		}
		if len(gt.Dims) != len(shape) {
			return nil, fmt.Errorf("tensor %s has dimensions %v, want %d of them", gname, gt.Dims, len(shape))
		}
		for i, d := range shape {
			if gt.Dims[len(shape)-1-i] != uint64(d) {
				return nil, fmt.Errorf("tensor %s has dimensions %v for a model of %+v", gname, gt.Dims, cfg)
			}
		}
		raw, err := f.TensorData(gt)
		if err != nil {
			return nil, err
		}
		vals, err := quant.Decode(gt.Type, raw, int(gt.Elements()))
		if err != nil {
			return nil, fmt.Errorf("tensor %s: %w", gname, err)
		}
		x := tensor.New(vals, shape...)
		if transpose {
			x = transposed(x)
		}
		ts[prm.Name] = x
	}
	if err := m.LoadTensors(ts); err != nil {
		return nil, err
	}
	p := &Pretrained{LM: m, Tokenizer: tok}
	ft, _ := f.Get("general.file_type").(uint32)
	for t, code := range ggufFileType {
		if ft == code {
			p.Quant = t
		}
	}
	return p, nil
}

// ggufTokenizer reads a gpt2 (byte-level BPE) tokenizer from f.
func ggufTokenizer(f *gguf.File) (*tokenizer.BPE, error) {
	if model := f.Get("tokenizer.ggml.model"); model != "gpt2" {
		return nil, fmt.Errorf("tokenizer.ggml.model %v: moxing reads gpt2 (byte-level BPE)", model)
	}
	tokens, ok := f.Get("tokenizer.ggml.tokens").([]string)
	if !ok || len(tokens) == 0 {
		return nil, errors.New("no tokenizer.ggml.tokens")
	}
	merges, _ := f.Get("tokenizer.ggml.merges").([]string)
	bl := &tokenizer.ByteLevel{Tokens: tokens, Merges: merges, Special: make([]bool, len(tokens))}
	if types, ok := f.Get("tokenizer.ggml.token_type").([]int32); ok && len(types) == len(tokens) {
		for i, t := range types {
			bl.Special[i] = t == 3 // control
		}
	}
	return tokenizer.FromByteLevel(bl, "tokenizer.ggml")
}

// transposed returns the transpose of the matrix x, a copy with no history.
func transposed(x *tensor.Tensor) *tensor.Tensor { return x.Detach().Transpose(0, 1) }

// SaveGGUF writes p as a GGUF file at path (atomically), its matrices
// stored as typ: f32, f16, bf16 or q8_0 (see WriteGGUF). Adapters are
// merged into the weights first.
func SaveGGUF(path string, p *Pretrained, typ string) error {
	t, err := quant.Parse(typ)
	if err != nil {
		return err
	}
	p.LM.MergeLoRA()
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return atomicfile.Write(path, func(w io.Writer) error { return WriteGGUF(w, p, t, name) })
}
