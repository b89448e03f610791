package rnn

import (
	"math/rand/v2"
	"testing"

	"github.com/moxing/moxing/nn"
)

func TestNumParams(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, cfg := range []Config{
		{Kind: nn.KindLSTM, Vocab: 11, Embed: 5, Hidden: 6, Layers: 2},
		{Kind: nn.KindGRU, Vocab: 11, Embed: 5, Hidden: 6, Layers: 1},
		{Kind: nn.KindRNN, Vocab: 7, Embed: 3, Hidden: 4, Layers: 3},
	} {
		lm, err := NewLM(cfg, rng)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cfg.NumParams(0), nn.NumParams(nn.Params(lm)); got != float64(want) {
			t.Errorf("LM %+v: NumParams %v, the model has %d", cfg, got, want)
		}
		cfg.Bidirectional, cfg.Classes = true, 3
		c, err := NewClassifier(cfg, rng)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cfg.NumParams(3), nn.NumParams(nn.Params(c)); got != float64(want) {
			t.Errorf("classifier %+v: NumParams %v, the model has %d", cfg, got, want)
		}
	}
}
