package nn_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
)

type attention struct {
	CAttn *nn.Linear `nn:"c_attn"`
	CProj *nn.Linear `nn:"c_proj"`
	Drop  nn.Dropout
}

type block struct {
	Ln1  *nn.LayerNorm `nn:"ln_1"`
	Attn attention
}

type model struct {
	Wte    *nn.Embedding  `nn:"wte"`
	H      []*block       `nn:"h"`
	LnF    *nn.LayerNorm  `nn:"ln_f"`
	LMHead *nn.Linear     `nn:"lm_head"` // weight tied to wte
	Mask   *tensor.Tensor `nn:"-"`
	hidden *tensor.Tensor
}

func TestParamsNames(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	wte := nn.NewEmbedding(10, 4, rng)
	m := &model{Wte: wte, LnF: nn.NewLayerNorm(4), Mask: tensor.Ones(2, 2), hidden: tensor.Ones(1)}
	for range 2 {
		m.H = append(m.H, &block{Ln1: nn.NewLayerNorm(4), Attn: attention{
			CAttn: nn.NewLinear(4, 12, true, rng), CProj: nn.NewLinear(4, 4, false, rng), Drop: nn.Dropout{P: 0.1}}})
	}
	m.LMHead = &nn.Linear{Weight: wte.Weight}
	var names []string
	for _, p := range nn.Params(m) {
		names = append(names, p.Name)
	}
	want := "wte.weight h.0.ln_1.weight h.0.ln_1.bias h.0.attn.c_attn.weight h.0.attn.c_attn.bias h.0.attn.c_proj.weight " +
		"h.1.ln_1.weight h.1.ln_1.bias h.1.attn.c_attn.weight h.1.attn.c_attn.bias h.1.attn.c_proj.weight ln_f.weight ln_f.bias"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("names:\n got %s\nwant %s", got, want)
	}
	if n := nn.NumParams(nn.Params(m)); n != 40+2*(8+60+16)+8 {
		t.Fatalf("NumParams = %d", n)
	}

	// Train and Eval reach a Dropout held by value inside nested structs.
	nn.Train(m, rng)
	if m.H[1].Attn.Drop.RNG != rng {
		t.Fatal("Train did not set the dropout RNG")
	}
	nn.Eval(m)
	if m.H[1].Attn.Drop.RNG != nil {
		t.Fatal("Eval did not clear the dropout RNG")
	}
}

func TestSequentialNames(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	m := nn.NewMLP([]int{3, 5, 5, 2}, nn.ReLU{}, 0.2, rng)
	var names []string
	for _, p := range nn.Params(m) {
		names = append(names, p.Name)
	}
	// Layers: 0 Linear, 1 ReLU, 2 Dropout, 3 Linear, 4 ReLU, 5 Dropout, 6 Linear.
	if got := strings.Join(names, " "); got != "0.weight 0.bias 3.weight 3.bias 6.weight 6.bias" {
		t.Fatalf("names %s", got)
	}
	x := tensor.Randn(rng, 4, 3)
	nn.Train(m, rng)
	a := m.Forward(x)
	nn.Eval(m)
	b, c := m.Forward(x), m.Forward(x)
	if b.Data[0] != c.Data[0] {
		t.Fatal("Eval forward is not deterministic")
	}
	if a.Data[0] == b.Data[0] && a.Data[1] == b.Data[1] && a.Data[2] == b.Data[2] {
		t.Fatal("Train forward did not apply dropout")
	}
}

func std(d []float32) (mean, sd float64) {
	for _, v := range d {
		mean += float64(v)
	}
	mean /= float64(len(d))
	for _, v := range d {
		sd += (float64(v) - mean) * (float64(v) - mean)
	}
	return mean, math.Sqrt(sd / float64(len(d)))
}

func TestInitialisers(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	w := tensor.Zeros(200, 300) // fanIn 300, fanOut 200
	for _, tc := range []struct {
		name string
		init func()
		sd   float64 // expected standard deviation
		max  float64 // bound on |w|, 0 for none
	}{
		{"xavier_uniform", func() { nn.XavierUniform(w, 1, rng) }, math.Sqrt(2.0 / 500), math.Sqrt(6.0 / 500)},
		{"xavier_normal", func() { nn.XavierNormal(w, 1, rng) }, math.Sqrt(2.0 / 500), 0},
		{"kaiming_uniform", func() { nn.KaimingUniform(w, rng) }, math.Sqrt(2.0 / 300), math.Sqrt(6.0 / 300)},
		{"kaiming_normal", func() { nn.KaimingNormal(w, rng) }, math.Sqrt(2.0 / 300), 0},
		{"normal", func() { nn.Normal(w, 0, 0.02, rng) }, 0.02, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.init()
			mean, sd := std(w.Data)
			if math.Abs(mean) > 0.05*tc.sd || math.Abs(sd-tc.sd) > 0.02*tc.sd {
				t.Fatalf("mean %.4g sd %.4g, want 0 and %.4g", mean, sd, tc.sd)
			}
			for _, v := range w.Data {
				if tc.max > 0 && math.Abs(float64(v)) > tc.max {
					t.Fatalf("|%v| beyond bound %v", v, tc.max)
				}
			}
		})
	}
	nn.Zeros(w)
	if _, sd := std(w.Data); sd != 0 || w.Data[7] != 0 {
		t.Fatal("Zeros left values")
	}
	l := nn.NewLinear(16, 4, true, rng)
	for _, v := range append(l.Weight.Data, l.Bias.Data...) {
		if math.Abs(float64(v)) > 0.25 {
			t.Fatalf("Linear init %v outside U(-1/√16, 1/√16)", v)
		}
	}
}

func TestLossMisuse(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func()
		want string
	}{
		{"mse_shapes", func() { nn.MSELoss(tensor.Zeros(3, 1), tensor.Zeros(3)) }, "[3 1]"},
		{"bce_shapes", func() { nn.BCEWithLogits(tensor.Zeros(3), tensor.Zeros(4)) }, "[4]"},
		{"ce_count", func() { nn.CrossEntropy(tensor.Zeros(3, 4), []int{1, 2}, 0) }, "2 targets"},
		{"ce_range", func() { nn.CrossEntropy(tensor.Zeros(2, 4), []int{1, 4}, 0) }, "target 4"},
		{"linear_in", func() { nn.NewLinear(3, 2, true, rand.New(rand.NewPCG(1, 1))).Forward(tensor.Zeros(5, 4)) }, "Linear with 3 inputs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.Contains(msg, tc.want) {
					t.Fatalf("panic %q, want it to mention %q", msg, tc.want)
				}
			}()
			tc.f()
		})
	}
}

func TestCrossEntropyAllIgnoredIsNaN(t *testing.T) {
	l := nn.CrossEntropy(tensor.Zeros(2, 3), []int{-1, -100}, 0)
	if !math.IsNaN(float64(l.Item())) {
		t.Fatalf("loss %v, want NaN as PyTorch", l.Item())
	}
}

func TestDetach(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	wte := nn.NewEmbedding(5, 4, rng)
	m := &model{Wte: wte, LnF: nn.NewLayerNorm(4), H: []*block{{Ln1: nn.NewLayerNorm(4), Attn: attention{
		CAttn: nn.NewLinear(4, 4, true, rng), CProj: nn.NewLinear(4, 4, true, rng), Drop: nn.Dropout{P: 0.5}}}},
		Mask: tensor.Ones(2, 2), hidden: tensor.Ones(1)}
	m.LMHead = &nn.Linear{Weight: wte.Weight}
	d := nn.Detach(m)

	if d == m || d.H[0] == m.H[0] || d.H[0].Attn.CAttn == m.H[0].Attn.CAttn {
		t.Fatal("Detach did not copy the layers")
	}
	for _, p := range nn.Params(d) {
		if p.RequiresGrad() {
			t.Fatalf("%s still requires a gradient", p.Name)
		}
	}
	for _, p := range nn.Params(m) {
		if !p.RequiresGrad() {
			t.Fatalf("original %s was modified", p.Name)
		}
	}
	if d.LMHead.Weight != d.Wte.Weight {
		t.Fatal("tied weights came apart")
	}
	if d.hidden != m.hidden {
		t.Fatal("unexported tensors should be shared as they are")
	}
	if d.Mask == m.Mask || &d.Mask.Data[0] != &m.Mask.Data[0] {
		t.Fatal("a constant tensor should get its own header over the same storage")
	}
	x := tensor.Randn(rng, 3, 4)
	want := m.H[0].Attn.CAttn.Forward(x)
	got := d.H[0].Attn.CAttn.Forward(x)
	if got.RequiresGrad() || got.Data[5] != want.Data[5] {
		t.Fatalf("detached forward: requiresGrad %v, %v vs %v", got.RequiresGrad(), got.Data[5], want.Data[5])
	}
	m.H[0].Attn.CAttn.Weight.Data[0] += 1 // an optimizer step on the original…
	if d.H[0].Attn.CAttn.Weight.Data[0] != m.H[0].Attn.CAttn.Weight.Data[0] {
		t.Fatal("…is not seen by the detached copy")
	}

	// An interface holding a model works too.
	var l nn.Layer = nn.NewMLP([]int{2, 3, 1}, nn.ReLU{}, 0, rng)
	if out := nn.Detach(l).Forward(tensor.Ones(1, 2)); out.RequiresGrad() {
		t.Fatal("detached Sequential recorded a graph")
	}
}

// Evaluating a detached copy in one goroutine never disturbs training in
// another: recording is decided by the inputs, not by a global switch.
func TestDetachWhileTraining(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := nn.NewMLP([]int{3, 8, 1}, nn.Tanh{}, 0, rng)
	x, y := tensor.Randn(rng, 16, 3), tensor.Randn(rng, 16, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			nn.Detach(m).Forward(x)
		}
	}()
	for range 200 {
		loss := nn.MSELoss(m.Forward(x), y)
		loss.Backward() // panics if recording were switched off
	}
	<-done
}

// A copy made by Detach computes on the heap, even through frozen
// parameters of a model that trains on an arena.
func TestDetachLeavesTheArena(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	l := nn.NewLinear(3, 2, true, rng)
	l.Weight.SetRequiresGrad(false)
	arena := tensor.NewArena()
	nn.UseArena(l, arena)
	nn.Detach(l).Forward(tensor.Randn(rng, 4, 3))
	if arena.Bytes() != 0 {
		t.Fatalf("the detached copy took %d bytes from the training arena", arena.Bytes())
	}
	l.Forward(tensor.Randn(rng, 4, 3))
	if arena.Bytes() == 0 {
		t.Fatal("the model itself did not use its arena")
	}
}
