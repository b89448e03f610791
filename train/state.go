package train

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/tensor"
)

// The checkpoints the training loops write: the weights under their
// parameter names, the optimizer state (when saved) under "optim.<name>",
// the caller's metadata, and the loop state as JSON under one metadata key.

// optimPrefix starts the names of optimizer state in training checkpoints.
const optimPrefix = "optim."

// ModelTensors returns the model's weights among the tensors of a training
// checkpoint (last.safetensors also holds optimizer state).
func ModelTensors(ts map[string]*tensor.Tensor) map[string]*tensor.Tensor {
	out := make(map[string]*tensor.Tensor, len(ts))
	for name, t := range ts {
		if !strings.HasPrefix(name, optimPrefix) {
			out[name] = t
		}
	}
	return out
}

// saveCheckpoint writes params, opt's state (unless opt is nil), meta and
// state (JSON, under key; none when key is "") to path, atomically.
func saveCheckpoint(path string, params []nn.Param, opt optim.Optimizer, meta map[string]string, key string, state any) error {
	tensors := map[string]*tensor.Tensor{}
	for _, p := range params {
		tensors[p.Name] = p.Tensor
	}
	if opt != nil {
		for k, v := range opt.State() {
			tensors[optimPrefix+k] = v
		}
	}
	all := map[string]string{}
	for k, v := range meta {
		all[k] = v
	}
	if key != "" {
		raw, err := json.Marshal(state)
		if err != nil {
			return fmt.Errorf("train: state: %w", err)
		}
		all[key] = string(raw)
	}
	return checkpoint.Save(path, tensors, all)
}

// loadCheckpoint restores params and opt's state from a checkpoint written
// by saveCheckpoint, and decodes the loop state under key into state.
func loadCheckpoint(path string, params []nn.Param, opt optim.Optimizer, key string, state any) error {
	f, err := checkpoint.Load(path)
	if err != nil {
		return err
	}
	raw, ok := f.Metadata[key]
	if !ok {
		return fmt.Errorf("%s: no training state (%s metadata): not a last.safetensors of this kind of run", path, key)
	}
	if err := json.Unmarshal([]byte(raw), state); err != nil {
		return fmt.Errorf("%s: training state: %w", path, err)
	}
	optState := map[string]*tensor.Tensor{}
	for name, t := range f.Tensors {
		if rest, ok := strings.CutPrefix(name, optimPrefix); ok {
			optState[rest] = t
		}
	}
	if err := checkpoint.Assign(params, ModelTensors(f.Tensors), true); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := opt.LoadState(optState); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// loadBest returns the weights of dir/best.safetensors by name, or nil when
// there is none.
func loadBest(dir string) map[string][]float32 {
	bf, err := checkpoint.Load(filepath.Join(dir, "best.safetensors"))
	if err != nil {
		return nil
	}
	best := map[string][]float32{}
	for name, t := range bf.Tensors {
		best[name] = t.Data
	}
	return best
}

// snapshot copies the parameters' values by name.
func snapshot(params []nn.Param) map[string][]float32 {
	m := make(map[string][]float32, len(params))
	for _, p := range params {
		m[p.Name] = append([]float32(nil), p.Data...)
	}
	return m
}

// restore copies saved values (from snapshot or loadBest) back into params.
func restore(params []nn.Param, w map[string][]float32) {
	for _, p := range params {
		if v, ok := w[p.Name]; ok && len(v) == p.Numel() {
			copy(p.Data, v)
		}
	}
}

// Trainable returns the parameters that require a gradient: what an
// optimizer should update when part of a model is frozen.
func Trainable(params []nn.Param) []nn.Param {
	var out []nn.Param
	for _, p := range params {
		if p.RequiresGrad() {
			out = append(out, p)
		}
	}
	return out
}

// SaveAdapter writes the trainable parameters of m (after gpt.AddLoRA: the
// adapters, and a classifier's head) with meta to path, atomically: the
// part of a parameter-efficient fine-tune that is not the base model.
func SaveAdapter(path string, m any, meta map[string]string) error {
	return saveCheckpoint(path, Trainable(nn.Params(m)), nil, meta, "", nil)
}

// LoadAdapter fills the trainable parameters of m from a file written by
// SaveAdapter, and returns the file's metadata. Every trainable parameter
// must be in the file with its shape and the file must hold nothing else;
// the error lists what does not match.
func LoadAdapter(path string, m any) (map[string]string, error) {
	f, err := checkpoint.Load(path)
	if err != nil {
		return nil, err
	}
	if err := checkpoint.Assign(Trainable(nn.Params(m)), f.Tensors, true); err != nil {
		return nil, fmt.Errorf("%s: the adapter does not fit this base model: %w", path, err)
	}
	return f.Metadata, nil
}
