package gpt

import (
	"math/rand/v2"
	"testing"

	"github.com/moxing/moxing/nn"
)

func TestNumParams(t *testing.T) {
	cfg := Tiny()
	cfg.VocabSize = 67
	m, err := New(cfg, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.NumParams(), nn.NumParams(nn.Params(m)); got != float64(want) {
		t.Errorf("NumParams %v, the model has %d", got, want)
	}
	if got := GPT2Small().NumParams(); got != 124439808 {
		t.Errorf("GPT-2 small: %v parameters, want 124,439,808", got)
	}
}
