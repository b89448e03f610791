package gpt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/internal/atomicfile"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/tokenizer"
)

// SaveHF writes p into the folder dir (created if needed) as Hugging Face
// transformers saves a GPT-2, so that GPT2LMHeadModel (or, for a
// classifier, GPT2ForSequenceClassification) and its tokenizer load it with
// from_pretrained, and LoadHF reads it back to the same weights, bit for
// bit, and the same tokenizer:
//
//   - config.json: GPT2Config's fields, model_type "gpt2", architectures,
//     activation_function "gelu_new" (moxing's tanh GELU),
//     layer_norm_epsilon 1e-05, the three dropouts from Config.Dropout,
//     tie_word_embeddings true, n_inner null (4·n_embd), bos_token_id and
//     eos_token_id: the id of <|endoftext|> when the tokenizer has it as a
//     special token, else null. A classifier adds id2label and label2id,
//     and pad_token_id (the end-of-text id, or null: transformers then
//     classifies one text at a time).
//   - model.safetensors: float32 tensors named as GPT2LMHeadModel's state
//     dict ("transformer.h.0.attn.c_attn.weight", …; no lm_head.weight,
//     which is tied to transformer.wte.weight), or GPT2ForSequenceClassification's
//     (the same and "score.weight"), with "format": "pt".
//   - the tokenizer: a *tokenizer.BPE as GPT-2's vocab.json and merges.txt,
//     a *tokenizer.Char as tokenizer.json (tokenizer.WriteHFJSON: a BPE
//     model without merges over the characters), and tokenizer_config.json
//     naming the tokenizer class and its special tokens.
//
// A model with LoRA adapters is refused: merge them into the weights first
// (Model.MergeLoRA), or write them as a PEFT folder (SavePEFT). Each file
// is written atomically; stale tokenizer or shard-index files that would
// contradict the new ones (vocab.json, merges.txt, tokenizer.json,
// model.safetensors.index.json) are removed.
func SaveHF(dir string, p *Pretrained) error {
	if err := saveHF(dir, p); err != nil {
		return fmt.Errorf("gpt: SaveHF %s: %w", dir, err)
	}
	return nil
}

func saveHF(dir string, p *Pretrained) error {
	if p.LM.LoRA != nil {
		return errors.New("the model carries LoRA adapters: merge them into its weights first (MergeLoRA), or save them as a PEFT folder (SavePEFT)")
	}
	if p.Tokenizer.VocabSize() > p.LM.Config.VocabSize {
		return fmt.Errorf("the tokenizer has %d tokens, more than the model's vocabulary of %d", p.Tokenizer.VocabSize(), p.LM.Config.VocabSize)
	}
	hc := hfConfigOf(p)
	files := map[string][]byte{} // file name -> content, written below
	var err error
	if files[HFConfigFile], err = indentJSON(hc); err != nil {
		return err
	}
	tokCfg := map[string]any{"model_max_length": p.LM.Config.BlockSize, "bos_token": nil, "eos_token": nil, "unk_token": nil}
	if hc.EosTokenID != nil {
		tokCfg["bos_token"], tokCfg["eos_token"], tokCfg["unk_token"] = tokenizer.EndOfText, tokenizer.EndOfText, tokenizer.EndOfText
	}
	switch t := p.Tokenizer.(type) {
	case *tokenizer.BPE:
		var vocab, merges bytes.Buffer
		if err := tokenizer.WriteHF(&vocab, &merges, t); err != nil {
			return err
		}
		files[HFVocabFile], files[HFMergesFile] = vocab.Bytes(), merges.Bytes()
		tokCfg["tokenizer_class"], tokCfg["add_prefix_space"] = "GPT2Tokenizer", false
	default:
		var buf bytes.Buffer
		if err := tokenizer.WriteHFJSON(&buf, t); err != nil {
			return err
		}
		files[HFTokenizerJSON] = buf.Bytes()
		tokCfg["tokenizer_class"] = "PreTrainedTokenizerFast"
	}
	if files[HFTokenizerCfg], err = indentJSON(tokCfg); err != nil {
		return err
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, stale := range []string{HFVocabFile, HFMergesFile, HFTokenizerJSON, HFIndexFile} {
		if _, ours := files[stale]; !ours {
			if err := os.Remove(filepath.Join(dir, stale)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	tensors := map[string]*tensor.Tensor{}
	for _, prm := range nn.Params(p.Module()) {
		name := prm.Name
		if p.Classifier == nil {
			name = "transformer." + name
		}
		tensors[name] = prm.Tensor
	}
	if err := checkpoint.Save(filepath.Join(dir, HFWeightsFile), tensors, nil); err != nil {
		return err
	}
	// config.json last: a folder is a model only once it has one.
	for _, name := range []string{HFVocabFile, HFMergesFile, HFTokenizerJSON, HFTokenizerCfg, HFConfigFile} {
		content, ok := files[name]
		if !ok {
			continue
		}
		err := atomicfile.Write(filepath.Join(dir, name), func(w io.Writer) error {
			_, err := w.Write(content)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// hfConfigOf returns p's config.json.
func hfConfigOf(p *Pretrained) *hfConfig {
	c := p.LM.Config
	drop := shortFloat(c.Dropout)
	gelu, eps, yes := "gelu_new", layerNormEps, true
	hc := &hfConfig{
		ModelType: "gpt2", Architectures: []string{hfArchLM},
		VocabSize: c.VocabSize, NPositions: c.BlockSize, NCtx: c.BlockSize, NEmbd: c.NEmbd, NLayer: c.NLayer, NHead: c.NHead,
		Activation: &gelu, ResidPdrop: &drop, EmbdPdrop: &drop, AttnPdrop: &drop, LayerNormEpsilon: &eps,
		InitializerRange: 0.02, ScaleAttnWeights: &yes, TieWordEmbeddings: &yes, UseCache: true, TorchDtype: "float32",
	}
	if b, ok := p.Tokenizer.(*tokenizer.BPE); ok {
		if ids, err := b.EncodeSpecial(tokenizer.EndOfText); err == nil && len(ids) == 1 {
			hc.BosTokenID, hc.EosTokenID = &ids[0], &ids[0]
		}
	}
	if p.Classifier != nil {
		hc.Architectures = []string{hfArchClassifier}
		hc.PadTokenID = hc.EosTokenID
		hc.ID2Label, hc.Label2ID = map[string]string{}, map[string]int{}
		for i, l := range p.Labels {
			hc.ID2Label[strconv.Itoa(i)], hc.Label2ID[l] = l, i
		}
	}
	return hc
}

// shortFloat is f as the float64 of its shortest decimal: 0.1, not
// float64(float32(0.1)) = 0.10000000149011612, in JSON files.
func shortFloat(f float32) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	return v
}

// indentJSON is v as indented JSON with a final newline, as transformers
// writes its JSON files.
func indentJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
