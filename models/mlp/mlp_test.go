package mlp

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
)

func TestNewAndValidate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	m, err := New(Config{Inputs: 3, Hidden: []int{5, 4}, Outputs: 2, Dropout: 0.1}, rng)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.Activation != "relu" {
		t.Fatalf("default activation %q", m.Config.Activation)
	}
	if n := nn.NumParams(nn.Params(m)); n != 3*5+5+5*4+4+4*2+2 {
		t.Fatalf("%d parameters", n)
	}
	if out := m.Forward(tensor.Ones(7, 3)); out.Dim(0) != 7 || out.Dim(1) != 2 {
		t.Fatalf("output shape %v", out.Shape())
	}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Inputs: 0, Outputs: 1}, "0 inputs"},
		{Config{Inputs: 1, Outputs: 0}, "0 outputs"},
		{Config{Inputs: 1, Outputs: 1, Hidden: []int{0}}, "width 0"},
		{Config{Inputs: 1, Outputs: 1, Dropout: 1}, "dropout 1"},
		{Config{Inputs: 1, Outputs: 1, Activation: "swish"}, `unknown activation "swish"`},
	} {
		if _, err := New(tc.cfg, rng); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
