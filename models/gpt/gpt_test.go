package gpt

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/tensor"
)

// loadReference builds the model of tools/reference/gpt2.py from its
// weights, and returns it with the golden file.
func loadReference(t *testing.T) (*Model, *checkpoint.File) {
	t.Helper()
	wf, err := checkpoint.Load("../../testdata/gpt2_tiny.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	var cfg Config
	if err := json.Unmarshal([]byte(wf.Metadata["config"]), &cfg); err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.LoadTensors(wf.Tensors); err != nil {
		t.Fatal(err)
	}
	gf, err := checkpoint.Load("../../testdata/gpt2_tiny_golden.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	return m, gf
}

func ids(t *tensor.Tensor) []int {
	out := make([]int, t.Numel())
	for i, v := range t.Data {
		out[i] = int(v)
	}
	return out
}

// maxAbsDiff returns max |a-b| and max |b|.
func maxAbsDiff(a, b []float32) (diff, scale float64) {
	for i := range b {
		diff = math.Max(diff, math.Abs(float64(a[i]-b[i])))
		scale = math.Max(scale, math.Abs(float64(b[i])))
	}
	return diff, scale
}

// TestParityWithPyTorch is llm.c's test: the same weights and batch as the
// PyTorch reference give the same logits, loss, every parameter gradient,
// and the same losses over 10 AdamW steps.
func TestParityWithPyTorch(t *testing.T) {
	m, g := loadReference(t)
	idx, targets := ids(g.Tensors["idx"]), ids(g.Tensors["targets"])
	b, tt := g.Tensors["idx"].Dim(0), g.Tensors["idx"].Dim(1)

	logits, loss := m.Forward(idx, b, tt, targets)
	d, _ := maxAbsDiff(logits.Data, g.Tensors["logits"].Data)
	if d > 1e-4 {
		t.Fatalf("logits differ from PyTorch by %g (max abs), want ≤ 1e-4", d)
	}
	t.Logf("logits max abs diff %.2g; loss %v vs PyTorch %v", d, loss.Item(), g.Tensors["loss"].Data[0])
	if d := math.Abs(float64(loss.Item() - g.Tensors["loss"].Data[0])); d > 1e-5 {
		t.Fatalf("loss %v, PyTorch %v", loss.Item(), g.Tensors["loss"].Data[0])
	}
	loss.Backward()
	params := nn.Params(m)
	worst := 0.0
	for _, p := range params {
		want, ok := g.Tensors["grad."+p.Name]
		if !ok {
			t.Fatalf("no PyTorch gradient for %s", p.Name)
		}
		d, s := maxAbsDiff(p.Grad.Data, want.Data)
		if d > 1e-3*s {
			t.Errorf("gradient of %s differs by %g, relative %g > 1e-3", p.Name, d, d/s)
		}
		worst = math.Max(worst, d/s)
	}
	t.Logf("worst gradient difference, relative to the tensor's largest entry: %.2g", worst)
	if len(params) != len(g.Tensors)-5 {
		t.Errorf("%d parameters here, %d gradients in the golden file", len(params), len(g.Tensors)-5)
	}

	// 10 AdamW steps from the same weights.
	m, g = loadReference(t)
	var cfg struct {
		LR          float32    `json:"lr"`
		Betas       [2]float32 `json:"betas"`
		Eps         float32    `json:"eps"`
		WeightDecay float32    `json:"weight_decay"`
	}
	if err := json.Unmarshal([]byte(g.Metadata["adamw"]), &cfg); err != nil {
		t.Fatal(err)
	}
	opt := optim.NewAdamW(nn.Params(m), optim.AdamConfig{LR: cfg.LR, Beta1: cfg.Betas[0], Beta2: cfg.Betas[1],
		Eps: cfg.Eps, WeightDecay: cfg.WeightDecay, Decay: func(p nn.Param) bool { return p.NDim() >= 2 }})
	worstStep := 0.0
	defer func() { t.Logf("worst AdamW step loss difference %.2g", worstStep) }()
	for step, want := range g.Tensors["step_losses"].Data {
		_, loss := m.Forward(idx, b, tt, targets)
		opt.ZeroGrad()
		loss.Backward()
		opt.Step()
		d := math.Abs(float64(loss.Item() - want))
		if d > 1e-4 {
			t.Fatalf("step %d: loss %v, PyTorch %v", step, loss.Item(), want)
		}
		worstStep = math.Max(worstStep, d)
	}
}

// A checkpoint saved by moxing and loaded again gives identical logits.
func TestSaveLoadRoundTrip(t *testing.T) {
	m, g := loadReference(t)
	idx := ids(g.Tensors["idx"])
	b, tt := g.Tensors["idx"].Dim(0), g.Tensors["idx"].Dim(1)
	want, _ := nn.Detach(m).Forward(idx, b, tt, nil)

	ts := map[string]*tensor.Tensor{}
	for _, p := range nn.Params(m) {
		ts["transformer."+p.Name] = p.Tensor // as some Hugging Face files name them
	}
	ts["lm_head.weight"] = m.Wte.Weight
	path := t.TempDir() + "/model.safetensors"
	if err := checkpoint.Save(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	f, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	m2, _ := New(m.Config, rand.New(rand.NewPCG(9, 9)))
	if err := m2.LoadTensors(f.Tensors); err != nil {
		t.Fatal(err)
	}
	got, _ := nn.Detach(m2).Forward(idx, b, tt, nil)
	for i := range want.Data {
		if got.Data[i] != want.Data[i] {
			t.Fatalf("logit %d: %v after the round trip, %v before", i, got.Data[i], want.Data[i])
		}
	}
	delete(f.Tensors, "transformer.h.1.mlp.c_fc.weight")
	if err := m2.LoadTensors(f.Tensors); err == nil {
		t.Fatal("a checkpoint missing a tensor loaded")
	}
}

func TestConfigPresets(t *testing.T) {
	m, err := New(GPT2Small(), rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	// 124,439,808 parameters (the LM head is tied).
	if n := nn.NumParams(nn.Params(m)); n != 124439808 {
		t.Fatalf("GPT-2 small has %d parameters", n)
	}
	for _, bad := range []Config{{}, {VocabSize: 10, BlockSize: 8, NEmbd: 10, NLayer: 1, NHead: 3}} {
		if _, err := New(bad, rand.New(rand.NewPCG(1, 1))); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	for name, want := range map[string]Config{"tiny": Tiny(), "gpt2-small": GPT2Small()} {
		if c, ok := Preset(name); !ok || c != want {
			t.Errorf("Preset(%q) = %+v, %v", name, c, ok)
		}
	}
	if _, ok := Preset("gpt2-huge"); ok {
		t.Error(`Preset("gpt2-huge") found one`)
	}
}
