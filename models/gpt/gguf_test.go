package gpt_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/quant"
	"github.com/moxing/moxing/tokenizer"
)

// A GPT written as GGUF reads back with the same weights (f32: exactly;
// f16, bf16 and q8_0: within their rounding), and the same tokenizer.
func TestGGUFRoundTrip(t *testing.T) {
	tok, err := tokenizer.GPT2()
	if err != nil {
		t.Fatal(err)
	}
	m, err := gpt.New(gpt.Config{VocabSize: tok.VocabSize(), BlockSize: 64, NEmbd: 64, NLayer: 2, NHead: 4}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	p := &gpt.Pretrained{LM: m, Tokenizer: tok}
	for _, c := range []struct {
		t   quant.Type
		tol float64 // relative to the largest weight of a tensor
	}{{quant.F32, 0}, {quant.F16, 1e-3}, {quant.BF16, 8e-3}, {quant.Q8_0, 1.0 / 127}} {
		var buf bytes.Buffer
		if err := gpt.WriteGGUF(&buf, p, c.t, "test"); err != nil {
			t.Fatal(err)
		}
		back, err := gpt.ReadGGUF(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatalf("%v: %v", c.t, err)
		}
		if back.LM.Config != m.Config {
			t.Fatalf("%v: config %+v, want %+v", c.t, back.LM.Config, m.Config)
		}
		want, got := nn.Params(m), nn.Params(back.LM)
		for i := range want {
			var amax, worst float64
			for j, v := range want[i].Data {
				amax = max(amax, math.Abs(float64(v)))
				worst = max(worst, math.Abs(float64(v-got[i].Data[j])))
			}
			if worst > c.tol*amax {
				t.Fatalf("%v: %s differs by %g (largest weight %g)", c.t, want[i].Name, worst, amax)
			}
		}
		ids, _ := back.Tokenizer.Encode("Hello, GGUF!")
		if wantIDs, _ := tok.Encode("Hello, GGUF!"); len(ids) != len(wantIDs) || ids[0] != wantIDs[0] {
			t.Fatalf("%v: tokenizer %v, want %v", c.t, ids, wantIDs)
		}
		t.Logf("%v: %d bytes", c.t, buf.Len())
	}
	char, _ := tokenizer.NewChar("abc")
	if err := gpt.WriteGGUF(&bytes.Buffer{}, &gpt.Pretrained{LM: m, Tokenizer: char}, quant.F32, "x"); err == nil || !strings.Contains(err.Error(), "character tokenizer") {
		t.Fatalf("a character tokenizer: %v", err)
	}
}
