package checkpoint

import (
	"slices"
	"strings"
	"testing"

	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
)

func TestAssign(t *testing.T) {
	model := func() []nn.Param {
		return []nn.Param{
			{Name: "fc.weight", Tensor: tensor.Zeros(2, 3)},
			{Name: "fc.bias", Tensor: tensor.Zeros(3)},
		}
	}
	good := map[string]*tensor.Tensor{
		"fc.weight": tensor.New([]float32{1, 2, 3, 4, 5, 6}, 2, 3),
		"fc.bias":   tensor.New([]float32{7, 8, 9}, 3),
	}
	with := func(name string, t *tensor.Tensor) map[string]*tensor.Tensor {
		m := map[string]*tensor.Tensor{}
		for k, v := range good {
			m[k] = v
		}
		if t == nil {
			delete(m, name)
		} else {
			m[name] = t
		}
		return m
	}
	tests := []struct {
		name    string
		tensors map[string]*tensor.Tensor
		strict  bool
		want    []string // phrases of the error; none for success
	}{
		{"exact", good, true, nil},
		{"extra tensor, lenient", with("optimizer.step", tensor.Scalar(1)), false, nil},
		{"extra tensor, strict", with("optimizer.step", tensor.Scalar(1)), true, []string{`not in the model: "optimizer.step"`}},
		{"missing tensor", with("fc.bias", nil), false, []string{`missing from the file: "fc.bias"`}},
		{"shape mismatch", with("fc.weight", tensor.Zeros(3, 2)), false, []string{`tensor "fc.weight" has shape [3 2] in the file, [2 3] in the model`}},
		{"all at once", map[string]*tensor.Tensor{"fc.weight": tensor.Zeros(6), "lm_head": tensor.Zeros(1)}, true,
			[]string{`missing from the file: "fc.bias"`, `tensor "fc.weight" has shape [6] in the file, [2 3] in the model`, `not in the model: "lm_head"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params := model()
			err := Assign(params, tt.tensors, tt.strict)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range params {
					if !slices.Equal(p.Data, good[p.Name].Data) {
						t.Errorf("%s = %v, want %v", p.Name, p.Data, good[p.Name].Data)
					}
					if &p.Data[0] == &good[p.Name].Data[0] {
						t.Errorf("%s shares memory with the file's tensor", p.Name)
					}
				}
				return
			}
			if err == nil {
				t.Fatal("Assign succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			for _, p := range params {
				for _, v := range p.Data {
					if v != 0 {
						t.Fatalf("%s changed by a failed Assign: %v", p.Name, p.Data)
					}
				}
			}
		})
	}
}

// TestAssignModel loads a checkpoint into a model found by nn.Params.
func TestAssignModel(t *testing.T) {
	type model struct {
		Wte *tensor.Tensor
		H   []struct{ W, B *tensor.Tensor }
	}
	m := &model{Wte: tensor.Zeros(4, 2), H: []struct{ W, B *tensor.Tensor }{{tensor.Zeros(2, 2), tensor.Zeros(2)}}}
	tensors := map[string]*tensor.Tensor{
		"wte": tensor.Full(1, 4, 2), "h.0.w": tensor.Full(2, 2, 2), "h.0.b": tensor.Full(3, 2),
	}
	if err := Assign(nn.Params(m), tensors, true); err != nil {
		t.Fatal(err)
	}
	if m.Wte.Data[7] != 1 || m.H[0].W.Data[3] != 2 || m.H[0].B.Data[1] != 3 {
		t.Errorf("model not loaded: %v %v %v", m.Wte, m.H[0].W, m.H[0].B)
	}
}
