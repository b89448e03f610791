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
	var problems, missing []string
	used := map[string]bool{}
	for _, p := range params {
		t, ok := tensors[p.Name]
		used[p.Name] = true
		switch {
		case p.Tensor == nil:
			problems = append(problems, fmt.Sprintf("parameter %q is nil", p.Name))
		case !ok:
			missing = append(missing, fmt.Sprintf("%q", p.Name))
		case t == nil:
			problems = append(problems, fmt.Sprintf("tensor %q is nil", p.Name))
		case !slices.Equal(t.Shape(), p.Shape()) || len(t.Data) != len(p.Data):
			problems = append(problems, fmt.Sprintf("tensor %q has shape %v in the file, %v in the model", p.Name, t.Shape(), p.Shape()))
		}
	}
	if len(missing) > 0 {
		problems = append(problems, "missing from the file: "+strings.Join(missing, ", "))
	}
	if strict {
		var extra []string
		for name := range tensors {
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
	for _, p := range params {
		copy(p.Data, tensors[p.Name].Data)
	}
	return nil
}
