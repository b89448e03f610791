package gpt

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/nn"
)

// Adapters on the reference weights match PyTorch (tools/reference/gpt2.py,
// PEFT's formulation): logits, loss and the adapters' gradients; the base
// gets none. Merged, the model computes the same logits without adapters.
// The second file puts an adapter on the token embedding too.
func TestLoRAParityWithPyTorch(t *testing.T) {
	for _, file := range []string{"gpt2_tiny_lora_golden.safetensors", "gpt2_tiny_lora_wte_golden.safetensors"} {
		t.Run(file, func(t *testing.T) { testLoRAParity(t, file) })
	}
}

func testLoRAParity(t *testing.T, file string) {
	m, g := loadReference(t)
	lg, err := checkpoint.Load("../../testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var cfg LoRAConfig
	if err := json.Unmarshal([]byte(lg.Metadata["lora"]), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := m.AddLoRA(cfg, rand.New(rand.NewPCG(1, 1))); err != nil {
		t.Fatal(err)
	}
	adapters := 0
	for _, p := range nn.Params(m) {
		if !IsLoRA(p.Name) {
			if p.RequiresGrad() {
				t.Fatalf("base parameter %s is not frozen", p.Name)
			}
			continue
		}
		want, ok := lg.Tensors[p.Name]
		if !ok {
			t.Fatalf("adapter %s is not in the PyTorch file", p.Name)
		}
		copy(p.Data, want.Data)
		adapters++
	}
	want := 0 // A and B per target: once for wte, in every block for a projection
	for _, target := range cfg.Targets {
		if target == "wte" {
			want += 2
		} else {
			want += 2 * m.Config.NLayer
		}
	}
	if adapters != want {
		t.Fatalf("%d adapter tensors, want %d", adapters, want)
	}
	idx, targets := ids(g.Tensors["idx"]), ids(g.Tensors["targets"])
	b, tt := g.Tensors["idx"].Dim(0), g.Tensors["idx"].Dim(1)
	logits, loss := m.Forward(idx, b, tt, targets)
	if d, _ := maxAbsDiff(logits.Data, lg.Tensors["logits"].Data); d > 1e-4 {
		t.Fatalf("logits differ from PyTorch by %g", d)
	}
	if d := math.Abs(float64(loss.Item() - lg.Tensors["loss"].Data[0])); d > 1e-5 {
		t.Fatalf("loss %v, PyTorch %v", loss.Item(), lg.Tensors["loss"].Data[0])
	}
	loss.Backward()
	for _, p := range nn.Params(m) {
		if !IsLoRA(p.Name) {
			if p.Grad != nil {
				t.Fatalf("frozen %s got a gradient", p.Name)
			}
			continue
		}
		d, s := maxAbsDiff(p.Grad.Data, lg.Tensors["grad."+p.Name].Data)
		if d > 1e-3*s {
			t.Errorf("gradient of %s differs by %g relative", p.Name, d/s)
		}
	}

	m.MergeLoRA()
	for _, p := range nn.Params(m) {
		if IsLoRA(p.Name) {
			t.Fatalf("%s is still there after MergeLoRA", p.Name)
		}
	}
	merged, _ := nn.Detach(m).Forward(idx, b, tt, nil)
	if d, _ := maxAbsDiff(merged.Data, logits.Data); d > 1e-4 {
		t.Fatalf("merged logits differ by %g", d)
	}
}

func TestLoRAStartsAsTheBase(t *testing.T) {
	m, g := loadReference(t)
	idx := ids(g.Tensors["idx"])
	b, tt := g.Tensors["idx"].Dim(0), g.Tensors["idx"].Dim(1)
	base, _ := nn.Detach(m).Forward(idx, b, tt, nil)
	if err := m.AddLoRA(LoRAConfig{Rank: 2, Targets: LoRATargets}, rand.New(rand.NewPCG(1, 1))); err != nil {
		t.Fatal(err)
	}
	adapted, _ := nn.Detach(m).Forward(idx, b, tt, nil)
	if d, _ := maxAbsDiff(adapted.Data, base.Data); d != 0 {
		t.Fatalf("fresh adapters change the logits by %g (B must start at zero)", d)
	}
	for _, bad := range []LoRAConfig{{Rank: 0}, {Rank: 2, Dropout: 1}, {Rank: 2, Targets: []string{"attn.q"}}} {
		if err := mustNew(t, m.Config).AddLoRA(bad, rand.New(rand.NewPCG(1, 1))); err == nil {
			t.Errorf("AddLoRA(%+v) succeeded", bad)
		}
	}
}
