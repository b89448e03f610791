package checkpoint

import (
	"fmt"
	"slices"
	"strings"

	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
)

// Assign copies tensors into params by name, to load weights into a model
// (params as returned by nn.Params). Every parameter must have a tensor of
// the same shape; if strict, every tensor must also match a parameter. It
// checks everything before it copies anything: on error no parameter is
// changed, and the one error lists every problem: missing names, shape
// mismatches (name, file shape, model shape) and, if strict, unexpected
// tensors. The parameters do not share memory with tensors afterwards.
func Assign(params []nn.Param, tensors map[string]*tensor.Tensor, strict bool) error {
	shapes := make(map[string][]int, len(tensors))
	for name, t := range tensors {
		if t == nil {
			shapes[name] = nil
			continue
		}
		shapes[name] = t.Shape()
	}
	if err := match(params, shapes, strict); err != nil {
		return err
	}
	for _, p := range params {
		copy(p.Data, tensors[p.Name].Data)
	}
	return nil
}

// Check reports whether the header's tensors fit params as Assign would
// load them, from the header alone, so that a mismatch is found before any
// tensor data is read. Tensors whose names start with ignore (when not "")
// are left out, as a training checkpoint's optimizer state.
func (h *Header) Check(params []nn.Param, strict bool, ignore string) error {
	shapes := make(map[string][]int, len(h.Tensors))
	for _, t := range h.Tensors {
		if ignore == "" || !strings.HasPrefix(t.Name, ignore) {
			shapes[t.Name] = t.Shape
		}
	}
	return match(params, shapes, strict)
}

// match checks params against tensor shapes by name; a nil shape is a nil
// tensor. The one error lists every problem.
func match(params []nn.Param, shapes map[string][]int, strict bool) error {
	var problems, missing []string
	used := map[string]bool{}
	for _, p := range params {
		shape, ok := shapes[p.Name]
		used[p.Name] = true
		switch {
		case p.Tensor == nil:
			problems = append(problems, fmt.Sprintf("parameter %q is nil", p.Name))
		case !ok:
			missing = append(missing, fmt.Sprintf("%q", p.Name))
		case shape == nil:
			problems = append(problems, fmt.Sprintf("tensor %q is nil", p.Name))
		case !slices.Equal(shape, p.Shape()):
			problems = append(problems, fmt.Sprintf("tensor %q has shape %v in the file, %v in the model", p.Name, shape, p.Shape()))
		}
	}
	if len(missing) > 0 {
		problems = append(problems, "missing from the file: "+strings.Join(missing, ", "))
	}
	if strict {
		var extra []string
		for name := range shapes {
			if !used[name] {
				extra = append(extra, fmt.Sprintf("%q", name))
			}
		}
		slices.Sort(extra)
		if len(extra) > 0 {
			problems = append(problems, "not in the model: "+strings.Join(extra, ", "))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("checkpoint: cannot assign tensors: %s", strings.Join(problems, "; "))
	}
	return nil
}

// OptimPrefix starts the names of optimizer state in training checkpoints
// (last.safetensors): tensors that are not the model's.
const OptimPrefix = "optim."

// LoadParams loads a model's weights from the header's file: it checks,
// from the header alone, that the file holds exactly params (by name and
// shape; optimizer state is ignored), then reads only their tensors and
// copies them in. The error lists every mismatch.
func (h *Header) LoadParams(params []nn.Param) error {
	if err := h.Check(params, true, OptimPrefix); err != nil {
		return err
	}
	f, err := h.readTensors(func(name string) bool { return !strings.HasPrefix(name, OptimPrefix) })
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return Assign(params, f.Tensors, true)
}

// CheckSize reports an error when a model of n parameters, as its config
// describes it, holds more values than the file's tensors (optimizer state
// aside): a config that would allocate more than the file holds is not
// built.
func (h *Header) CheckSize(n float64) error {
	if have := h.Numel(OptimPrefix); n > float64(have) {
		return fmt.Errorf("checkpoint: the model's config describes %.0f parameters, the file holds %d values", n, have)
	}
	return nil
}
