package mlp

import (
	"math/rand/v2"
	"testing"

	"github.com/moxing/moxing/nn"
)

func TestNumParams(t *testing.T) {
	for _, cfg := range []Config{{Inputs: 3, Outputs: 1}, {Inputs: 5, Hidden: []int{7, 4}, Outputs: 3}} {
		m, err := New(cfg, rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cfg.NumParams(), nn.NumParams(nn.Params(m)); got != float64(want) {
			t.Errorf("%+v: NumParams %v, the model has %d", cfg, got, want)
		}
	}
}
