package gpt_test

import (
	"encoding/json"
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
)

// referenceBase loads the exported reference language model
// (testdata/hf_export/lm), the base of the PEFT reference adapter.
func referenceBase(t *testing.T) *gpt.Pretrained {
	t.Helper()
	p, err := gpt.LoadHF(os.DirFS(filepath.Join(exportDir, "lm")))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The PEFT folder tools/reference/hf_interchange.py writes from PEFT's
// documented format loads on its base, and the adapted model computes the
// reference's logits to 1e-5.
func TestLoadPEFTReference(t *testing.T) {
	p, err := gpt.LoadPEFT(referenceBase(t), os.DirFS("../../testdata/peft_reference"))
	if err != nil {
		t.Fatal(err)
	}
	lc := p.LM.LoRA
	if lc.Rank != 2 || lc.Alpha != 4 || !slices.Equal(lc.Targets, []string{"attn.c_attn", "attn.c_proj", "mlp.c_proj"}) {
		t.Fatalf("LoRA config %+v", *lc)
	}
	raw, err := os.ReadFile("../../testdata/peft_reference_logits.json")
	if err != nil {
		t.Fatal(err)
	}
	var r referenceLogits
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	b, tt := len(r.Batch), len(r.Batch[0])
	logits, _ := nn.Detach(p.LM).Forward(slices.Concat(r.Batch...), b, tt, nil)
	worst := 0.0
	for i, v := range r.Logits {
		worst = max(worst, math.Abs(float64(logits.Data[i])-v))
	}
	t.Logf("%d logits, largest difference from PyTorch %.2g", len(r.Logits), worst)
	if len(logits.Data) != len(r.Logits) || worst > 1e-5 {
		t.Fatalf("%d logits differ from the reference's %d by %g", len(logits.Data), len(r.Logits), worst)
	}
}

// adapted returns a fresh copy of the reference base with random adapters
// (B non-zero, so that they change the outputs), as a language model or a
// classifier.
func adapted(t *testing.T, classifier bool) *gpt.Pretrained {
	t.Helper()
	p := referenceBase(t)
	rng := rand.New(rand.NewPCG(3, 4))
	if err := p.LM.AddLoRA(gpt.LoRAConfig{Rank: 3, Alpha: 5, Dropout: 0.05, Targets: []string{"attn.c_attn", "mlp.c_fc", "mlp.c_proj", "wte"}}, rng); err != nil {
		t.Fatal(err)
	}
	if classifier {
		c, err := gpt.NewClassifier(p.LM, 2, rng)
		if err != nil {
			t.Fatal(err)
		}
		p.Classifier, p.Labels = c, []string{"no", "yes"}
	}
	for _, prm := range nn.Params(p.Module()) {
		if prm.RequiresGrad() {
			nn.Normal(prm.Tensor, 0, 0.3, rng)
		}
	}
	return p
}

// SavePEFT writes PEFT's layout, and LoadPEFT reads it back onto a fresh
// base as the same model; without the moxing card a classifier's labels
// are transformers' LABEL_i.
func TestPEFTRoundTrip(t *testing.T) {
	for _, classifier := range []bool{false, true} {
		name := map[bool]string{false: "lm", true: "classifier"}[classifier]
		t.Run(name, func(t *testing.T) {
			p := adapted(t, classifier)
			dir := t.TempDir()
			if err := gpt.SavePEFT(dir, p, "gpt2"); err != nil {
				t.Fatal(err)
			}
			var cfg map[string]any
			raw, _ := os.ReadFile(filepath.Join(dir, "adapter_config.json"))
			if err := json.Unmarshal(raw, &cfg); err != nil {
				t.Fatal(err)
			}
			task, save := "CAUSAL_LM", any(nil)
			if classifier {
				task, save = "SEQ_CLS", []any{"score"}
			}
			for k, v := range map[string]any{"peft_type": "LORA", "task_type": task, "r": 3.0, "lora_alpha": 5.0, "lora_dropout": 0.05, "fan_in_fan_out": true,
				"bias": "none", "base_model_name_or_path": "gpt2", "inference_mode": true} {
				if cfg[k] != v {
					t.Errorf("adapter_config.json %s = %v, want %v", k, cfg[k], v)
				}
			}
			if s, _ := json.Marshal(cfg["modules_to_save"]); string(s) != mustMarshal(save) {
				t.Errorf("modules_to_save %s, want %s", s, mustMarshal(save))
			}
			h, err := checkpoint.LoadHeader(filepath.Join(dir, "adapter_model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, ti := range h.Tensors {
				names = append(names, ti.Name)
			}
			for _, want := range []string{"base_model.model.transformer.h.1.attn.c_attn.lora_A.weight", "base_model.model.transformer.h.0.mlp.c_proj.lora_B.weight",
				"base_model.model.transformer.wte.lora_embedding_A"} {
				if !slices.Contains(names, want) {
					t.Errorf("no %s among %q", want, names)
				}
			}
			if classifier != slices.Contains(names, "base_model.model.score.weight") || h.Metadata["format"] != "pt" {
				t.Errorf("names %q, metadata format %q", names, h.Metadata["format"])
			}

			got, err := gpt.LoadPEFT(referenceBase(t), os.DirFS(dir))
			if err != nil {
				t.Fatal(err)
			}
			samePretrained(t, got, p)
			g, w := *got.LM.LoRA, *p.LM.LoRA
			if g.Rank != w.Rank || g.Alpha != w.Alpha || g.Dropout != w.Dropout || !slices.Equal(g.Targets, w.Targets) {
				t.Errorf("LoRA %+v, saved %+v", *got.LM.LoRA, *p.LM.LoRA)
			}

			if classifier { // a folder PEFT wrote has no moxing card
				f, _ := checkpoint.Load(filepath.Join(dir, "adapter_model.safetensors"))
				checkpoint.Save(filepath.Join(dir, "adapter_model.safetensors"), f.Tensors, nil)
				got, err := gpt.LoadPEFT(referenceBase(t), os.DirFS(dir))
				if err != nil || !slices.Equal(got.Labels, []string{"LABEL_0", "LABEL_1"}) {
					t.Fatalf("labels %v, %v", got, err)
				}
			}
		})
	}
}

func mustMarshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// LoadPEFT refuses what moxing cannot compute exactly, naming the field or
// tensor, and leaves the base as it was.
func TestLoadPEFTStrict(t *testing.T) {
	ref := "../../testdata/peft_reference"
	refCfg, err := os.ReadFile(filepath.Join(ref, "adapter_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	refWeights, err := checkpoint.Load(filepath.Join(ref, "adapter_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		config  map[string]any
		tensors func(ts map[string]*tensor.Tensor)
		want    string
	}{
		{name: "prefix tuning", config: map[string]any{"peft_type": "PREFIX_TUNING"}, want: `peft_type "PREFIX_TUNING"`},
		{name: "biases", config: map[string]any{"bias": "all"}, want: `bias "all"`},
		{name: "dora", config: map[string]any{"use_dora": true}, want: "use_dora"},
		{name: "rslora", config: map[string]any{"use_rslora": true}, want: "use_rslora"},
		{name: "regex targets", config: map[string]any{"target_modules": ".*c_attn"}, want: "target_modules"},
		{name: "lm_head", config: map[string]any{"target_modules": []string{"c_attn", "lm_head"}}, want: `target_modules "lm_head"`},
		{name: "some layers", config: map[string]any{"layers_to_transform": []int{0}}, want: "layers_to_transform"},
		{name: "rank pattern", config: map[string]any{"rank_pattern": map[string]int{"c_attn": 4}}, want: "rank_pattern"},
		{name: "other task", config: map[string]any{"task_type": "TOKEN_CLS"}, want: `task_type "TOKEN_CLS"`},
		{name: "modules to save", config: map[string]any{"modules_to_save": []string{"ln_f"}}, want: `modules_to_save "ln_f"`},
		{name: "other rank", config: map[string]any{"r": 4}, want: "shape"},
		{name: "missing tensor", tensors: func(ts map[string]*tensor.Tensor) {
			delete(ts, "base_model.model.transformer.h.1.mlp.c_proj.lora_B.weight")
		}, want: `"base_model.model.transformer.h.1.mlp.c_proj.lora_B.weight" is missing`},
		{name: "unknown tensor", tensors: func(ts map[string]*tensor.Tensor) { ts["base_model.model.lm_head.lora_A.weight"] = tensor.Zeros(2, 8) }, want: "lm_head.lora_A.weight"},
		{name: "no prefix", tensors: func(ts map[string]*tensor.Tensor) {
			ts["transformer.h.0.attn.c_attn.lora_A.weight"] = ts["base_model.model.transformer.h.0.attn.c_attn.lora_A.weight"]
			delete(ts, "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight")
		}, want: `"transformer.h.0.attn.c_attn.lora_A.weight"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var cfg map[string]any
			json.Unmarshal(refCfg, &cfg)
			for k, v := range tc.config {
				cfg[k] = v
			}
			raw, _ := json.Marshal(cfg)
			os.WriteFile(filepath.Join(dir, "adapter_config.json"), raw, 0o644)
			ts := map[string]*tensor.Tensor{}
			for k, v := range refWeights.Tensors {
				ts[k] = v
			}
			if tc.tensors != nil {
				tc.tensors(ts)
			}
			checkpoint.Save(filepath.Join(dir, "adapter_model.safetensors"), ts, nil)
			base := referenceBase(t)
			_, err := gpt.LoadPEFT(base, os.DirFS(dir))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if base.LM.LoRA != nil {
				t.Fatal("a refused adapter changed the base")
			}
		})
	}
}
