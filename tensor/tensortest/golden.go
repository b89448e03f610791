package tensortest

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/moxing/moxing/tensor"
)

// Case is one golden case written by tools/reference/gen.py: an op applied
// to inputs by PyTorch, its output, the upstream gradient it was seeded with,
// and the resulting gradient of every input that requires one.
type Case struct {
	Name     string
	Op       string
	Attrs    map[string]any
	Inputs   []*tensor.Tensor // leaves; RequiresGrad as in the reference
	Out      *tensor.Tensor
	Upstream *tensor.Tensor
	Grads    []*tensor.Tensor // nil where the input needs no gradient
}

type jsonTensor struct {
	Shape []int     `json:"shape"`
	Data  []float32 `json:"data"`
	Grad  bool      `json:"grad"`
}

func (j *jsonTensor) tensor() *tensor.Tensor {
	if j == nil {
		return nil
	}
	if j.Data == nil {
		j.Data = []float32{}
	}
	return tensor.New(j.Data, j.Shape...)
}

// LoadCases reads the golden cases of a file such as testdata/ops.json.
func LoadCases(path string) ([]Case, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("golden file (regenerate with /usr/bin/python3 tools/reference/gen.py): %w", err)
	}
	var file struct {
		Cases []struct {
			Name     string         `json:"name"`
			Op       string         `json:"op"`
			Attrs    map[string]any `json:"attrs"`
			Inputs   []*jsonTensor  `json:"inputs"`
			Out      *jsonTensor    `json:"out"`
			Upstream *jsonTensor    `json:"upstream"`
			Grads    []*jsonTensor  `json:"grads"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cases := make([]Case, len(file.Cases))
	for i, c := range file.Cases {
		cs := Case{Name: c.Name, Op: c.Op, Attrs: c.Attrs, Out: c.Out.tensor(), Upstream: c.Upstream.tensor()}
		for k, in := range c.Inputs {
			x := in.tensor()
			if in.Grad {
				x.RequireGrad()
			}
			cs.Inputs = append(cs.Inputs, x)
			cs.Grads = append(cs.Grads, c.Grads[k].tensor())
		}
		cases[i] = cs
	}
	return cases, nil
}

// Int returns the integer attribute name.
func (c *Case) Int(name string) int { return int(c.attr(name).(float64)) }

// Float returns the float attribute name.
func (c *Case) Float(name string) float32 { return float32(c.attr(name).(float64)) }

// Bool returns the boolean attribute name.
func (c *Case) Bool(name string) bool { return c.attr(name).(bool) }

// Ints returns the integer-list attribute name.
func (c *Case) Ints(name string) []int {
	var out []int
	for _, v := range c.attr(name).([]any) {
		out = append(out, int(v.(float64)))
	}
	return out
}

// Floats returns a list attribute as float32s.
func (c *Case) Floats(name string) []float32 {
	var out []float32
	for _, v := range c.attr(name).([]any) {
		out = append(out, float32(v.(float64)))
	}
	return out
}

func (c *Case) attr(name string) any {
	v, ok := c.Attrs[name]
	if !ok {
		panic(fmt.Sprintf("golden case %s: no attribute %q", c.Name, name))
	}
	return v
}

// Check runs f on the case's inputs and compares the output, and then the
// input gradients after BackwardWith(Upstream), with the reference, within
// rtol and atol (see AllClose). It then checks f's gradients against finite
// differences at the same inputs with GradCheck(opt). Failures are reported
// through t, prefixed with the case name.
func (c *Case) Check(t testing.TB, f Func, rtol, atol float64, opt Options) {
	t.Helper()
	for _, x := range c.Inputs {
		x.ZeroGrad()
	}
	out := f(c.Inputs...)
	if err := AllClose(out, c.Out, rtol, atol); err != nil {
		t.Errorf("%s: forward: %v", c.Name, err)
		return
	}
	out.BackwardWith(c.Upstream)
	for k, want := range c.Grads {
		if want == nil {
			continue
		}
		got := c.Inputs[k].Grad
		if got == nil {
			t.Errorf("%s: input %d: no gradient", c.Name, k)
			continue
		}
		if err := AllClose(got, want, rtol, atol); err != nil {
			t.Errorf("%s: gradient of input %d: %v", c.Name, k, err)
		}
	}
	if err := GradCheck(f, c.Inputs, opt); err != nil {
		t.Errorf("%s: finite differences: %v", c.Name, err)
	}
}

// Func is a computation under test, applied to a golden case's inputs.
type Func = func(xs ...*tensor.Tensor) *tensor.Tensor

// RunGolden checks every case of the golden file at path with Check, as a
// subtest: ops maps each op name in the file to a builder that returns the
// moxing computation for a case. Every case's op must be in ops, and every op
// in ops must have at least one case, so neither side can silently shrink.
func RunGolden(t *testing.T, path string, ops map[string]func(c *Case) Func, rtol, atol float64) {
	t.Helper()
	cases, err := LoadCases(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range cases {
		build, ok := ops[c.Op]
		if !ok {
			t.Errorf("%s: no Go computation for golden op %q", c.Name, c.Op)
			continue
		}
		seen[c.Op] = true
		t.Run(c.Name, func(t *testing.T) { c.Check(t, build(&c), rtol, atol, Options{}) })
	}
	for op := range ops {
		if !seen[op] {
			t.Errorf("op %q has no golden case in %s", op, path)
		}
	}
}
