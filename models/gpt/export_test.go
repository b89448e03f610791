package gpt_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/tokenizer"
)

// The reference folders in testdata/hf_export are what SaveHF writes for
// exportModels; tools/reference/hf_interchange.py reads them with an
// independent PyTorch GPT-2 and writes the logits beside them. Regenerate
// both, from the repository root, with
//
//	go test ./models/gpt -run TestSaveHFReference -update
//	/usr/bin/python3 tools/reference/hf_interchange.py
var update = flag.Bool("update", false, "rewrite testdata/hf_export with what SaveHF writes now")

const exportDir = "../../testdata/hf_export"

// exportModels are small fixed models for the export tests: a language
// model with a byte-level BPE (with <|endoftext|>, and a vocabulary two
// larger than the tokenizer's, as Hugging Face pads them), and a
// classifier with a character tokenizer. Every parameter is random, so
// that no layer norm or bias is trivial.
func exportModels(t *testing.T) map[string]*gpt.Pretrained {
	t.Helper()
	bpe, err := tokenizer.TrainBPE(context.Background(), strings.Repeat("the cat sat on the mat, then the dog sat on the log. ", 8), 270)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bpe.AddSpecial(tokenizer.EndOfText); err != nil {
		t.Fatal(err)
	}
	char, err := tokenizer.NewChar("hello world, moxing travels!\n")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	newLM := func(vocab int) *gpt.Model {
		m, err := gpt.New(gpt.Config{VocabSize: vocab, BlockSize: 8, NEmbd: 8, NLayer: 2, NHead: 2, Dropout: 0.1}, rng)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	lm := newLM(bpe.VocabSize() + 2)
	backbone := newLM(char.VocabSize())
	cls, err := gpt.NewClassifier(backbone, 3, rng)
	if err != nil {
		t.Fatal(err)
	}
	models := map[string]*gpt.Pretrained{
		"lm":         {LM: lm, Tokenizer: bpe},
		"classifier": {LM: backbone, Classifier: cls, Labels: []string{"negative", "neutral", "positive"}, Tokenizer: char},
	}
	for _, name := range []string{"lm", "classifier"} { // in a fixed order: one rng
		for _, prm := range nn.Params(models[name].Module()) {
			nn.Normal(prm.Tensor, 0, 0.3, rng)
		}
	}
	return models
}

// referenceLogits is what hf_interchange.py writes: the ids it ran, the
// logits, and the ids of a text its own tokenizer encoded.
type referenceLogits struct {
	Batch    [][]int   `json:"batch"`
	Logits   []float64 `json:"logits"` // (B, T, V) for a language model, (B, K) for a classifier
	Text     string    `json:"text"`
	TextIDs  []int     `json:"text_ids"`
	Metadata string    `json:"safetensors_format"`
}

// SaveHF writes exactly the committed reference folders, and the models
// compute the logits that an independent PyTorch GPT-2 computes from those
// folders, to 1e-5; the reference's tokenizer encodes a text to the ids
// moxing's does.
func TestSaveHFReference(t *testing.T) {
	for name, p := range exportModels(t) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := gpt.SaveHF(dir, p); err != nil {
				t.Fatal(err)
			}
			files, _ := os.ReadDir(dir)
			ref := filepath.Join(exportDir, name)
			for _, f := range files {
				got, _ := os.ReadFile(filepath.Join(dir, f.Name()))
				if *update {
					os.MkdirAll(ref, 0o755)
					if err := os.WriteFile(filepath.Join(ref, f.Name()), got, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(filepath.Join(ref, f.Name()))
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("%s differs from %s (%v): rerun with -update and the reference script", f.Name(), ref, err)
				}
			}
			if *update {
				return
			}
			raw, err := os.ReadFile(ref + "_reference.json")
			if err != nil {
				t.Fatal(err)
			}
			var r referenceLogits
			if err := json.Unmarshal(raw, &r); err != nil {
				t.Fatal(err)
			}
			if r.Metadata != "pt" {
				t.Fatalf("the reference read format %q", r.Metadata)
			}
			var logits *tensor.Tensor
			b, tt := len(r.Batch), len(r.Batch[0])
			if p.Classifier != nil {
				x := tensor.Zeros(b, tt)
				for i, row := range r.Batch {
					for j, id := range row {
						x.Data[i*tt+j] = float32(id)
					}
				}
				logits = nn.Detach(p.Classifier).Forward(x)
			} else {
				logits, _ = nn.Detach(p.LM).Forward(slices.Concat(r.Batch...), b, tt, nil)
			}
			if len(logits.Data) != len(r.Logits) {
				t.Fatalf("%d logits, the reference has %d", len(logits.Data), len(r.Logits))
			}
			worst := 0.0
			for i, v := range r.Logits {
				worst = max(worst, math.Abs(float64(logits.Data[i])-v))
			}
			t.Logf("%d logits, largest difference from PyTorch %.2g", len(r.Logits), worst)
			if worst > 1e-5 {
				t.Fatalf("logits differ from the reference by %g", worst)
			}
			ids, err := p.Tokenizer.Encode(r.Text)
			if err != nil || !slices.Equal(ids, r.TextIDs) {
				t.Fatalf("moxing encodes %q as %v (%v); the reference as %v", r.Text, ids, err, r.TextIDs)
			}
		})
	}
}

// samePretrained fails unless got has want's kind, config, labels,
// tokenizer and weights, bit for bit.
func samePretrained(t *testing.T, got, want *gpt.Pretrained) {
	t.Helper()
	if got.LM.Config != want.LM.Config || !slices.Equal(got.Labels, want.Labels) || (got.Classifier == nil) != (want.Classifier == nil) {
		t.Fatalf("loaded %+v %q, saved %+v %q", got.LM.Config, got.Labels, want.LM.Config, want.Labels)
	}
	var a, b bytes.Buffer
	tokenizer.Save(&a, got.Tokenizer)
	tokenizer.Save(&b, want.Tokenizer)
	if a.String() != b.String() {
		t.Fatalf("tokenizer %.200s, saved %.200s", a.String(), b.String())
	}
	gp, wp := nn.Params(got.Module()), nn.Params(want.Module())
	if len(gp) != len(wp) {
		t.Fatalf("%d parameters, saved %d", len(gp), len(wp))
	}
	for i := range wp {
		if gp[i].Name != wp[i].Name || !slices.EqualFunc(gp[i].Data, wp[i].Data, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) }) {
			t.Fatalf("parameter %s differs from the saved %s", gp[i].Name, wp[i].Name)
		}
	}
}

// What SaveHF writes, LoadHF reads back: the same weights bit for bit, the
// same tokenizer, config and labels; and the folder is as transformers
// expects it.
func TestSaveHFRoundTrip(t *testing.T) {
	for name, p := range exportModels(t) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := gpt.SaveHF(dir, p); err != nil {
				t.Fatal(err)
			}
			got, err := gpt.LoadHF(os.DirFS(dir))
			if err != nil {
				t.Fatal(err)
			}
			samePretrained(t, got, p)

			var cfg map[string]any
			raw, _ := os.ReadFile(filepath.Join(dir, "config.json"))
			if err := json.Unmarshal(raw, &cfg); err != nil {
				t.Fatal(err)
			}
			arch := "GPT2LMHeadModel"
			if p.Classifier != nil {
				arch = "GPT2ForSequenceClassification"
			}
			for k, v := range map[string]any{"model_type": "gpt2", "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
				"tie_word_embeddings": true, "n_inner": nil, "n_ctx": 8.0, "n_positions": 8.0, "resid_pdrop": 0.1} {
				if cfg[k] != v {
					t.Errorf("config.json %s = %v, want %v", k, cfg[k], v)
				}
			}
			if a := cfg["architectures"].([]any); len(a) != 1 || a[0] != arch {
				t.Errorf("architectures %v, want [%s]", a, arch)
			}
			h, err := checkpoint.LoadHeader(filepath.Join(dir, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			if h.Metadata["format"] != "pt" {
				t.Errorf("model.safetensors metadata %v, want format pt", h.Metadata)
			}
			for _, ti := range h.Tensors {
				if !strings.HasPrefix(ti.Name, "transformer.") && ti.Name != "score.weight" || ti.Name == "lm_head.weight" {
					t.Errorf("tensor %q is not named as transformers names GPT-2's", ti.Name)
				}
			}
		})
	}
}

// A model with adapters is refused, with the way out in the message.
func TestSaveHFRefusesAdapters(t *testing.T) {
	p := exportModels(t)["lm"]
	if err := p.LM.AddLoRA(gpt.LoRAConfig{Rank: 2}, rand.New(rand.NewPCG(1, 1))); err != nil {
		t.Fatal(err)
	}
	err := gpt.SaveHF(t.TempDir(), p)
	if err == nil || !strings.Contains(err.Error(), "MergeLoRA") || !strings.Contains(err.Error(), "SavePEFT") {
		t.Fatalf("err = %v, want it to point to MergeLoRA and SavePEFT", err)
	}
}

// shard splits dir's model.safetensors into two shards and an index, as
// transformers writes a sharded checkpoint, and returns the index.
func shard(t *testing.T, dir string) map[string]string {
	t.Helper()
	f, err := checkpoint.Load(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(f.Tensors))
	for n := range f.Tensors {
		names = append(names, n)
	}
	slices.Sort(names)
	index := map[string]string{}
	parts := []map[string]*tensor.Tensor{{}, {}}
	for i, n := range names {
		k := i * 2 / len(names)
		parts[k][n] = f.Tensors[n]
		index[n] = []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}[k]
	}
	for k, part := range parts {
		if err := checkpoint.Save(filepath.Join(dir, []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}[k]), part, nil); err != nil {
			t.Fatal(err)
		}
	}
	os.Remove(filepath.Join(dir, "model.safetensors"))
	writeIndex(t, dir, index)
	return index
}

func writeIndex(t *testing.T, dir string, index map[string]string) {
	t.Helper()
	raw, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 0}, "weight_map": index})
	if err := os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A sharded checkpoint and a folder whose tokenizer is only tokenizer.json
// load as the model they hold.
func TestLoadHFShardedAndTokenizerJSON(t *testing.T) {
	p := exportModels(t)["lm"]
	dir := t.TempDir()
	if err := gpt.SaveHF(dir, p); err != nil {
		t.Fatal(err)
	}
	shard(t, dir)
	var tj bytes.Buffer
	if err := tokenizer.WriteHFJSON(&tj, p.Tokenizer); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "vocab.json"))
	os.Remove(filepath.Join(dir, "merges.txt"))
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), tj.Bytes(), 0o644)
	got, err := gpt.LoadHF(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	samePretrained(t, got, p)
}

// setConfig rewrites config.json's field key to value (nil deletes it).
func setConfig(t *testing.T, dir, key string, value any) {
	t.Helper()
	var cfg map[string]any
	raw, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	json.Unmarshal(raw, &cfg)
	cfg[key] = value
	raw, _ = json.Marshal(cfg)
	os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644)
}

// addHead adds lm_head.weight to model.safetensors, scaled from wte by s.
func addHead(t *testing.T, dir string, s float32) {
	t.Helper()
	path := filepath.Join(dir, "model.safetensors")
	f, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Tensors["lm_head.weight"] = f.Tensors["transformer.wte.weight"].MulScalar(s)
	checkpoint.Save(path, f.Tensors, nil)
}

// LoadHF refuses what it cannot run exactly, naming the field or file; an
// untied head that equals the embedding is no problem.
func TestLoadHFStrict(t *testing.T) {
	p := exportModels(t)["lm"]
	for _, tc := range []struct {
		name   string
		breaks func(t *testing.T, dir string)
		want   string // "" means it loads
	}{
		{"llama", func(t *testing.T, d string) { setConfig(t, d, "model_type", "llama") }, `model_type "llama"`},
		{"no model_type", func(t *testing.T, d string) { setConfig(t, d, "model_type", nil) }, "model_type missing"},
		{"relu", func(t *testing.T, d string) { setConfig(t, d, "activation_function", "relu") }, `activation_function "relu"`},
		{"erf gelu", func(t *testing.T, d string) { setConfig(t, d, "activation_function", "gelu") }, `activation_function "gelu"`},
		{"pytorch tanh gelu", func(t *testing.T, d string) { setConfig(t, d, "activation_function", "gelu_pytorch_tanh") }, ""},
		{"n_inner", func(t *testing.T, d string) { setConfig(t, d, "n_inner", 16) }, "n_inner 16"},
		{"epsilon", func(t *testing.T, d string) { setConfig(t, d, "layer_norm_epsilon", 1e-6) }, "layer_norm_epsilon 1e-06"},
		{"unscaled attention", func(t *testing.T, d string) { setConfig(t, d, "scale_attn_weights", false) }, "scale_attn_weights false"},
		{"inverse layer scaling", func(t *testing.T, d string) { setConfig(t, d, "scale_attn_by_inverse_layer_idx", true) }, "scale_attn_by_inverse_layer_idx"},
		{"double heads", func(t *testing.T, d string) { setConfig(t, d, "architectures", []string{"GPT2DoubleHeadsModel"}) }, `architectures "GPT2DoubleHeadsModel"`},
		{"dropouts differ", func(t *testing.T, d string) { setConfig(t, d, "attn_pdrop", 0.2) }, "attn_pdrop"},
		{"untied head", func(t *testing.T, d string) { setConfig(t, d, "tie_word_embeddings", false); addHead(t, d, 2) }, "tie_word_embeddings false"},
		{"untied, no head", func(t *testing.T, d string) { setConfig(t, d, "tie_word_embeddings", false) }, "no lm_head.weight"},
		{"untied head equal to wte", func(t *testing.T, d string) { setConfig(t, d, "tie_word_embeddings", false); addHead(t, d, 1) }, ""},
		{"missing shard", func(t *testing.T, d string) {
			shard(t, d)
			os.Remove(filepath.Join(d, "model-00002-of-00002.safetensors"))
		}, `shard "model-00002-of-00002.safetensors" does not exist`},
		{"tensor in two shards", func(t *testing.T, d string) {
			index := shard(t, d)
			f, _ := checkpoint.Load(filepath.Join(d, "model-00001-of-00002.safetensors"))
			f.Tensors["transformer.ln_f.weight"] = tensor.Ones(8)
			checkpoint.Save(filepath.Join(d, "model-00001-of-00002.safetensors"), f.Tensors, nil)
			writeIndex(t, d, index)
		}, `"transformer.ln_f.weight" is in both`},
		{"index names a shard that lacks the tensor", func(t *testing.T, d string) {
			index := shard(t, d)
			index["transformer.ln_f.weight"] = "model-00001-of-00002.safetensors"
			writeIndex(t, d, index)
		}, "transformer.ln_f.weight"},
		{"no weights", func(t *testing.T, d string) { os.Remove(filepath.Join(d, "model.safetensors")) }, "model.safetensors.index.json"},
		{"unigram tokenizer.json", func(t *testing.T, d string) {
			os.Remove(filepath.Join(d, "vocab.json"))
			os.Remove(filepath.Join(d, "merges.txt"))
			os.WriteFile(filepath.Join(d, "tokenizer.json"), []byte(`{"version":"1.0","added_tokens":[],"normalizer":null,"pre_tokenizer":null,"model":{"type":"Unigram","vocab":[["a",0.0]]}}`), 0o644)
		}, `model.type "Unigram"`},
		{"no tokenizer", func(t *testing.T, d string) {
			os.Remove(filepath.Join(d, "vocab.json"))
			os.Remove(filepath.Join(d, "merges.txt"))
		}, "no tokenizer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			if err := gpt.SaveHF(d, p); err != nil {
				t.Fatal(err)
			}
			tc.breaks(t, d)
			_, err := gpt.LoadHF(os.DirFS(d))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("err = %v, want it to load", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
