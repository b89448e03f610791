package gpt

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/internal/atomicfile"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
)

// The files of a PEFT adapter folder, as PEFT's save_pretrained writes them.
const (
	PEFTConfigFile  = "adapter_config.json"
	PEFTWeightsFile = "adapter_model.safetensors"
)

// PEFT's task types for the two kinds of GPT.
const (
	peftCausalLM = "CAUSAL_LM"
	peftSeqCls   = "SEQ_CLS"
)

// peftPrefix starts every tensor name in a PEFT checkpoint: PeftModel wraps
// LoraModel, which wraps the transformers model.
const peftPrefix = "base_model.model."

// peftConfig is PEFT's adapter_config.json of a LoRA adapter (LoraConfig):
// the fields SavePEFT writes and LoadPEFT checks. Pointers are nil for
// absent or null fields, which mean LoraConfig's defaults.
type peftConfig struct {
	PeftType            string          `json:"peft_type"`
	TaskType            *string         `json:"task_type"`
	BaseModelNameOrPath *string         `json:"base_model_name_or_path"`
	Revision            *string         `json:"revision"`
	InferenceMode       bool            `json:"inference_mode"`
	R                   *int            `json:"r"`          // default 8
	LoraAlpha           *float64        `json:"lora_alpha"` // default 8
	LoraDropout         float64         `json:"lora_dropout"`
	TargetModules       json.RawMessage `json:"target_modules"` // a list of module names (or a regular expression, which moxing refuses)
	FanInFanOut         bool            `json:"fan_in_fan_out"`
	Bias                string          `json:"bias"` // default "none"
	ModulesToSave       []string        `json:"modules_to_save"`
	InitLoraWeights     json.RawMessage `json:"init_lora_weights"`
	LayersToTransform   json.RawMessage `json:"layers_to_transform"`
	LayersPattern       json.RawMessage `json:"layers_pattern"`
	RankPattern         map[string]any  `json:"rank_pattern,omitempty"`
	AlphaPattern        map[string]any  `json:"alpha_pattern,omitempty"`
	UseRSLoRA           bool            `json:"use_rslora,omitempty"`
	UseDoRA             bool            `json:"use_dora,omitempty"`
}

// peftTargets maps the target_modules names PEFT matches in GPT-2 (a
// module's name or a suffix of it after a dot) to moxing's LoRATargets.
var peftTargets = map[string][]string{
	"c_attn": {"attn.c_attn"}, "attn.c_attn": {"attn.c_attn"},
	"c_proj": {"attn.c_proj", "mlp.c_proj"}, "attn.c_proj": {"attn.c_proj"}, "mlp.c_proj": {"mlp.c_proj"},
	"c_fc": {"mlp.c_fc"}, "mlp.c_fc": {"mlp.c_fc"},
	"wte": {"wte"}, "transformer.wte": {"wte"},
}

// SavePEFT writes p's LoRA adapters into the folder dir (created if
// needed) as a PEFT adapter folder, as PEFT's save_pretrained writes one,
// so that PeftModel.from_pretrained loads it on the Hugging Face base model
// and LoadPEFT on a moxing one:
//
//   - adapter_config.json: peft_type "LORA", task_type "CAUSAL_LM" (or
//     "SEQ_CLS" for a classifier, with modules_to_save ["score"]), r,
//     lora_alpha, lora_dropout, target_modules (moxing's names, which PEFT
//     matches as suffixes: "attn.c_attn", "wte", …), fan_in_fan_out true
//     (GPT-2's projections are Conv1D, weights (in, out)), bias "none",
//     inference_mode true, and base_model_name_or_path base (null when "").
//   - adapter_model.safetensors: the adapters under PEFT's names, the
//     adapter name "default" left out as save_pretrained does:
//     base_model.model.transformer.h.0.attn.c_attn.lora_A.weight (r, in),
//     …lora_B.weight (out, r), base_model.model.transformer.wte.lora_embedding_A
//     (r, V) and …lora_embedding_B (C, r), and a classifier's head,
//     base_model.model.score.weight (K, C). Its metadata has "format": "pt"
//     and moxing's adapter card (the base architecture and the labels).
//
// p must carry adapters (AddLoRA), and its only other trained parameter may
// be a classifier's head: a folder cannot carry more.
func SavePEFT(dir string, p *Pretrained, base string) error {
	if err := savePEFT(dir, p, base); err != nil {
		return fmt.Errorf("gpt: SavePEFT %s: %w", dir, err)
	}
	return nil
}

func savePEFT(dir string, p *Pretrained, base string) error {
	lc := p.LM.LoRA
	if lc == nil {
		return errors.New("the model has no LoRA adapters: write the whole model with SaveHF")
	}
	tensors := map[string]*tensor.Tensor{}
	for _, prm := range nn.Params(p.Module()) {
		name := strings.TrimPrefix(prm.Name, "transformer.")
		switch {
		case IsLoRA(name) || p.Classifier != nil && name == "score.weight":
			tensors[peftName(prm.Name, p.Classifier != nil)] = prm.Tensor
		case prm.RequiresGrad():
			return fmt.Errorf("parameter %s is trained but is neither an adapter nor the classifier's head: a PEFT folder cannot carry it", prm.Name)
		}
	}
	task, r, alpha := peftCausalLM, lc.Rank, shortFloat(lc.Alpha)
	targets, _ := json.Marshal(lc.Targets)
	pc := peftConfig{PeftType: "LORA", TaskType: &task, InferenceMode: true, R: &r, LoraAlpha: &alpha,
		LoraDropout: shortFloat(lc.Dropout), TargetModules: targets, FanInFanOut: true, Bias: "none",
		InitLoraWeights: json.RawMessage("true"), LayersToTransform: null, LayersPattern: null}
	if base != "" {
		pc.BaseModelNameOrPath = &base
	}
	if p.Classifier != nil {
		task = peftSeqCls
		pc.ModulesToSave = []string{"score"}
	}
	cfg, err := indentJSON(pc)
	if err != nil {
		return err
	}
	card, err := p.Card()
	if err != nil {
		return err
	}
	card.Tokenizer = "" // the base model's
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := checkpoint.Save(filepath.Join(dir, PEFTWeightsFile), tensors, card.Metadata(checkpoint.MetaAdapter)); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, PEFTConfigFile), func(w io.Writer) error {
		_, err := w.Write(cfg)
		return err
	})
}

var null = json.RawMessage("null")

// peftName is the PEFT name of a moxing parameter of a language model or
// (classifier) of a Classifier.
func peftName(name string, classifier bool) string {
	if classifier {
		return peftPrefix + name
	}
	return peftPrefix + "transformer." + name
}

// LoadPEFT puts the LoRA adapter of a PEFT folder (adapter_config.json and
// adapter_model.safetensors, as PEFT's save_pretrained writes them and
// SavePEFT does) on base, a language model without adapters, and loads its
// weights: task_type CAUSAL_LM (or null) gives a language model, SEQ_CLS a
// classifier whose head is base_model.model.score.weight and whose labels
// come from the moxing card in the file's metadata when SavePEFT wrote it,
// else are LABEL_0, LABEL_1, … as transformers names them. base's weights
// become part of the result (as in LoadAdapter); base's tokenizer is kept.
//
// What moxing cannot compute exactly is an error naming the field:
// peft_type other than LORA, bias other than "none", use_dora, use_rslora,
// rank_pattern, alpha_pattern, layers_to_transform, target_modules given as
// a regular expression or naming a module moxing does not adapt (it adapts
// c_attn, c_proj, c_fc and wte in every block), modules_to_save other than
// a classifier's score. fan_in_fan_out may be either: PEFT treats GPT-2's
// Conv1D as fan-in-fan-out whatever it says, and A and B have the same
// shapes. Every tensor is checked, by name and shape, before base is
// changed.
//
// One difference remains on an adapter of wte: PEFT's unmerged forward
// adapts only the embedding lookup, while moxing (like PEFT after
// merge_and_unload) also adapts the tied LM head.
func LoadPEFT(base *Pretrained, fsys fs.FS) (*Pretrained, error) {
	p, err := loadPEFT(base, fsys)
	if err != nil {
		return nil, fmt.Errorf("gpt: PEFT adapter: %w", err)
	}
	return p, nil
}

func loadPEFT(base *Pretrained, fsys fs.FS) (*Pretrained, error) {
	if base.Classifier != nil || base.LM.LoRA != nil {
		return nil, fmt.Errorf("an adapter goes on the language model it was trained from, and the base is a %s", base.Describe())
	}
	raw, err := fs.ReadFile(fsys, PEFTConfigFile)
	if err != nil {
		return nil, err
	}
	var pc peftConfig
	if err := json.Unmarshal(raw, &pc); err != nil {
		return nil, fmt.Errorf("%s: %w", PEFTConfigFile, err)
	}
	lc, classifier, err := pc.check()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", PEFTConfigFile, err)
	}
	h, closer, err := openSafetensors(fsys, PEFTWeightsFile)
	if err != nil {
		return nil, err
	}
	defer closer.Close()

	// The names and shapes the file must hold, from the config and the
	// base's architecture alone.
	cfg := base.LM.Config
	want := map[string][]int{}
	for _, t := range lc.Targets {
		if t == "wte" {
			want["wte.lora_embedding_A"] = []int{lc.Rank, cfg.VocabSize}
			want["wte.lora_embedding_B"] = []int{cfg.NEmbd, lc.Rank}
			continue
		}
		in, out := projectionShape(cfg, t)
		for l := range cfg.NLayer {
			want[fmt.Sprintf("h.%d.%s.lora_A.weight", l, t)] = []int{lc.Rank, in}
			want[fmt.Sprintf("h.%d.%s.lora_B.weight", l, t)] = []int{out, lc.Rank}
		}
	}
	card, err := adapterCard(h, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", PEFTWeightsFile, err)
	}
	var labels []string
	if classifier {
		var k int
		if labels, k, err = peftLabels(h, card); err != nil {
			return nil, fmt.Errorf("%s: %w", PEFTWeightsFile, err)
		}
		want["score.weight"] = []int{k, cfg.NEmbd}
	}
	have := map[string]string{} // moxing name -> file name
	for _, t := range h.Tensors {
		name, ok := strings.CutPrefix(t.Name, peftPrefix)
		if ok && !(classifier && name == "score.weight") {
			name, ok = strings.CutPrefix(name, "transformer.")
		}
		shape, wanted := want[name]
		switch {
		case !ok || !wanted:
			return nil, fmt.Errorf("%s: tensor %q is not one of the adapters %s describes", PEFTWeightsFile, t.Name, PEFTConfigFile)
		case !slices.Equal(shape, t.Shape):
			return nil, fmt.Errorf("%s: tensor %q has shape %v, want %v for r %d on this base", PEFTWeightsFile, t.Name, t.Shape, shape, lc.Rank)
		}
		have[name] = t.Name
	}
	for name := range want {
		if _, ok := have[name]; !ok {
			return nil, fmt.Errorf("%s: tensor %q is missing", PEFTWeightsFile, peftName(name, classifier && name == "score.weight"))
		}
	}
	f, err := h.ReadTensors()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", PEFTWeightsFile, err)
	}

	rng := rand.New(rand.NewPCG(0, 0))
	p := &Pretrained{LM: base.LM, Labels: labels, Tokenizer: base.Tokenizer}
	if err := p.LM.AddLoRA(lc, rng); err != nil {
		return nil, err
	}
	if classifier {
		if p.Classifier, err = NewClassifier(p.LM, len(labels), rng); err != nil {
			return nil, err
		}
	}
	tensors := map[string]*tensor.Tensor{}
	for _, prm := range trainable(nn.Params(p.Module())) {
		tensors[prm.Name] = f.Tensors[have[strings.TrimPrefix(prm.Name, "transformer.")]]
	}
	if err := checkpoint.Assign(trainable(nn.Params(p.Module())), tensors, true); err != nil {
		return nil, fmt.Errorf("%s: %w", PEFTWeightsFile, err)
	}
	return p, nil
}

// check returns the LoRA configuration of c and whether it adapts a
// classifier, or an error naming the first field moxing cannot honour.
func (c *peftConfig) check() (LoRAConfig, bool, error) {
	lc := LoRAConfig{Rank: 8, Alpha: 8, Dropout: float32(c.LoraDropout)}
	if c.R != nil {
		lc.Rank = *c.R
	}
	if c.LoraAlpha != nil {
		lc.Alpha = float32(*c.LoraAlpha)
	}
	task := ""
	if c.TaskType != nil {
		task = *c.TaskType
	}
	switch {
	case c.PeftType != "LORA":
		return lc, false, fmt.Errorf("peft_type %q: moxing reads LORA adapters only", c.PeftType)
	case task != "" && task != peftCausalLM && task != peftSeqCls:
		return lc, false, fmt.Errorf("task_type %q: moxing reads %s and %s adapters", task, peftCausalLM, peftSeqCls)
	case lc.Rank < 1:
		return lc, false, fmt.Errorf("r %d: want at least 1", lc.Rank)
	case lc.Alpha == 0:
		return lc, false, errors.New("lora_alpha 0: the adapters would do nothing")
	case c.LoraDropout < 0 || c.LoraDropout >= 1:
		return lc, false, fmt.Errorf("lora_dropout %v: want [0, 1)", c.LoraDropout)
	case c.Bias != "" && c.Bias != "none":
		return lc, false, fmt.Errorf("bias %q: moxing's adapters train no biases (want \"none\")", c.Bias)
	case c.UseDoRA:
		return lc, false, errors.New("use_dora true: moxing has no DoRA")
	case c.UseRSLoRA:
		return lc, false, errors.New("use_rslora true: moxing scales adapters by lora_alpha/r")
	case len(c.RankPattern) > 0:
		return lc, false, errors.New("rank_pattern: moxing gives every adapter the same r")
	case len(c.AlphaPattern) > 0:
		return lc, false, errors.New("alpha_pattern: moxing gives every adapter the same lora_alpha")
	case !isNull(c.LayersToTransform):
		return lc, false, fmt.Errorf("layers_to_transform %s: moxing adapts every block", c.LayersToTransform)
	}
	var names []string
	if err := json.Unmarshal(c.TargetModules, &names); err != nil {
		return lc, false, fmt.Errorf("target_modules %s: want a list of module names", c.TargetModules)
	}
	for _, n := range names {
		ts, ok := peftTargets[n]
		if !ok {
			return lc, false, fmt.Errorf("target_modules %q: moxing adapts c_attn, c_proj, c_fc (attn.… and mlp.…) and wte", n)
		}
		for _, t := range ts {
			if !slices.Contains(lc.Targets, t) {
				lc.Targets = append(lc.Targets, t)
			}
		}
	}
	if len(lc.Targets) == 0 {
		return lc, false, errors.New("target_modules is empty")
	}
	classifier := task == peftSeqCls
	for _, m := range c.ModulesToSave {
		if !classifier || m != "score" && m != "classifier" {
			return lc, false, fmt.Errorf("modules_to_save %q: moxing saves only a %s adapter's score head", m, peftSeqCls)
		}
	}
	return lc, classifier, lc.Validate()
}

// projectionShape returns the (in, out) of a block's projection target.
func projectionShape(cfg Config, target string) (in, out int) {
	c := cfg.NEmbd
	switch target {
	case "attn.c_attn":
		return c, 3 * c
	case "mlp.c_fc":
		return c, 4 * c
	case "mlp.c_proj":
		return 4 * c, c
	}
	return c, c // attn.c_proj
}

// adapterCard returns the moxing card SavePEFT puts in the file's
// metadata, checked against the base's architecture, or nil when there is
// none (a folder PEFT wrote).
func adapterCard(h *checkpoint.Header, base Config) (*checkpoint.Card, error) {
	if _, ok := h.Metadata[checkpoint.MetaAdapter]; !ok {
		return nil, nil
	}
	card, err := checkpoint.ReadCard(h.Metadata, checkpoint.MetaAdapter)
	if err != nil {
		return nil, err
	}
	var want Config
	if err := card.DecodeConfig(&want); err != nil {
		return nil, err
	}
	have := base
	have.Dropout, want.Dropout = 0, 0 // training-time only
	if have != want {
		return nil, fmt.Errorf("the adapter was trained on a %s; the base is a %s", want.Describe(), have.Describe())
	}
	return card, nil
}

// peftLabels returns a SEQ_CLS adapter's labels and their number K: those
// of its moxing card when it has one, else LABEL_0 … LABEL_{K-1} for the K
// rows of its score.
func peftLabels(h *checkpoint.Header, card *checkpoint.Card) ([]string, int, error) {
	if card != nil {
		if len(card.Labels) < 2 {
			return nil, 0, fmt.Errorf("%s: a classifier's card with %d labels", checkpoint.MetaAdapter, len(card.Labels))
		}
		return card.Labels, len(card.Labels), nil
	}
	for _, t := range h.Tensors {
		if t.Name == peftPrefix+"score.weight" && len(t.Shape) == 2 && t.Shape[0] >= 2 {
			labels := make([]string, t.Shape[0])
			for i := range labels {
				labels[i] = fmt.Sprintf("LABEL_%d", i)
			}
			return labels, len(labels), nil
		}
	}
	return nil, 0, fmt.Errorf("a %s adapter without %sscore.weight (K, C), K ≥ 2", peftSeqCls, peftPrefix)
}

func isNull(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}
