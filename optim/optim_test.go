package optim_test

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/tensor"
)

type jsonTensor struct {
	Shape []int     `json:"shape"`
	Data  []float32 `json:"data"`
}

func (j jsonTensor) tensor() *tensor.Tensor {
	return tensor.New(append([]float32(nil), j.Data...), j.Shape...)
}

type goldenCase struct {
	Name   string `json:"name"`
	Config struct {
		Kind        string  `json:"kind"`
		LR          float32 `json:"lr"`
		Momentum    float32 `json:"momentum"`
		Dampening   float32 `json:"dampening"`
		Nesterov    bool    `json:"nesterov"`
		Beta1       float32 `json:"beta1"`
		Beta2       float32 `json:"beta2"`
		Eps         float32 `json:"eps"`
		WeightDecay float32 `json:"weight_decay"`
		History     int     `json:"history"`
		Clip        float64 `json:"clip"`
		Schedule    *struct {
			Kind     string  `json:"kind"`
			StepSize int     `json:"step_size"`
			Gamma    float32 `json:"gamma"`
			Warmup   int     `json:"warmup"`
			Decay    int     `json:"decay"`
			TMax     int     `json:"t_max"`
			MinLR    float32 `json:"min_lr"`
		} `json:"schedule"`
	} `json:"config"`
	Trajectory []struct {
		W []float32 `json:"W"`
		B []float32 `json:"b"`
	} `json:"trajectory"`
	LRs []float64 `json:"lrs"`
}

// TestGoldenOptimizers runs each optimizer, schedule and clipping setting of
// testdata/optim.json on the same least-squares problem as PyTorch and
// compares the parameters after every step.
func TestGoldenOptimizers(t *testing.T) {
	raw, err := os.ReadFile("../testdata/optim.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		X, Y, W0, B0 jsonTensor   `json:"-"`
		Cases        []goldenCase `json:"cases"`
	}
	var tensors struct {
		X  jsonTensor `json:"X"`
		Y  jsonTensor `json:"Y"`
		W0 jsonTensor `json:"W0"`
		B0 jsonTensor `json:"b0"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &tensors); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, c := range file.Cases {
		t.Run(c.Name, func(t *testing.T) {
			cfg := c.Config
			kinds[cfg.Kind] = true
			x, y := tensors.X.tensor(), tensors.Y.tensor()
			w, b := tensors.W0.tensor().RequireGrad(), tensors.B0.tensor().RequireGrad()
			params := []nn.Param{{Name: "W", Tensor: w}, {Name: "b", Tensor: b}}
			var opt optim.Optimizer
			switch cfg.Kind {
			case "sgd":
				opt = optim.NewSGD(params, optim.SGDConfig{LR: cfg.LR, Momentum: cfg.Momentum, Dampening: cfg.Dampening,
					WeightDecay: cfg.WeightDecay, Nesterov: cfg.Nesterov})
			case "adam", "adamw":
				ac := optim.AdamConfig{LR: cfg.LR, Beta1: cfg.Beta1, Beta2: cfg.Beta2, Eps: cfg.Eps, WeightDecay: cfg.WeightDecay}
				if cfg.Kind == "adam" {
					opt = optim.NewAdam(params, ac)
				} else {
					opt = optim.NewAdamW(params, ac)
				}
			case "lbfgs":
				opt = optim.NewLBFGS(params, optim.LBFGSConfig{LR: cfg.LR, History: cfg.History})
			default:
				t.Fatalf("unknown optimizer %q", cfg.Kind)
			}
			var sched optim.Schedule = optim.Constant{LR: cfg.LR}
			if s := cfg.Schedule; s != nil {
				switch s.Kind {
				case "step":
					sched = optim.StepDecay{LR: cfg.LR, StepSize: s.StepSize, Gamma: s.Gamma}
				case "warmup_cosine":
					sched = optim.WarmupCosine{MaxLR: cfg.LR, MinLR: s.MinLR, WarmupSteps: s.Warmup, DecaySteps: s.Decay}
				case "cosine":
					sched = optim.WarmupCosine{MaxLR: cfg.LR, MinLR: s.MinLR, DecaySteps: s.TMax}
				default:
					t.Fatalf("unknown schedule %q", s.Kind)
				}
			}
			for step, want := range c.Trajectory {
				d := x.MatMulT(w, false, true).Add(b).Sub(y)
				loss := d.Mul(d).Mean(false)
				opt.ZeroGrad()
				loss.Backward()
				if cfg.Clip > 0 {
					optim.ClipGradNorm(opt.Params(), cfg.Clip)
				}
				lr := sched.At(step)
				if math.Abs(float64(lr)-c.LRs[step]) > 1e-6*c.LRs[step] {
					t.Fatalf("step %d: lr %v, PyTorch %v", step, lr, c.LRs[step])
				}
				opt.SetLR(lr)
				opt.Step()
				if cfg.Kind == "lbfgs" {
					// A quasi-Newton step divides by curvatures, which carry
					// the rounding of the gradients (the portable kernels'
					// differ from the vector ones) and of PyTorch's float32
					// two-loop recursion (ours runs in float64); near the
					// optimum the differences of gradients are mostly that
					// rounding: 5e-4 of the largest value.
					compareScaled(t, step, "W", w.Data, want.W, 5e-4)
					compareScaled(t, step, "b", b.Data, want.B, 5e-4)
					continue
				}
				compare(t, step, "W", w.Data, want.W, 1e-5)
				compare(t, step, "b", b.Data, want.B, 1e-5)
			}
		})
	}
	for _, k := range []string{"sgd", "adam", "adamw", "lbfgs"} {
		if !kinds[k] {
			t.Errorf("no golden case for %s", k)
		}
	}
}

// compareScaled requires agreement to tol times the largest |want|.
func compareScaled(t *testing.T, step int, name string, got, want []float32, tol float64) {
	t.Helper()
	var scale float64
	for _, v := range want {
		scale = max(scale, math.Abs(float64(v)))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); !(d <= tol*scale) { // a NaN fails too
			t.Fatalf("step %d: %s[%d] = %.8g, PyTorch %.8g (diff %.2g of the largest, %.3g)", step, name, i, got[i], want[i], d/scale, scale)
		}
	}
}

// compare requires relative agreement to tol (with a 1e-6 floor near zero).
func compare(t *testing.T, step int, name string, got, want []float32, tol float64) {
	t.Helper()
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); !(d <= tol*math.Abs(float64(want[i]))+1e-6) {
			t.Fatalf("step %d: %s[%d] = %.8g, PyTorch %.8g (rel diff %.2g)", step, name, i, got[i], want[i], d/math.Abs(float64(want[i])))
		}
	}
}

func TestClipGradNorm(t *testing.T) {
	a := tensor.New([]float32{3, 0}, 2).RequireGrad()
	b := tensor.New([]float32{4}, 1).RequireGrad()
	a.Sum(false).Backward()
	a.Grad.Data[0], a.Grad.Data[1] = 3, 0
	b.Mul(b).MulScalar(0.5).Sum(false).Backward() // grad 4
	ps := []nn.Param{{Name: "a", Tensor: a}, {Name: "b", Tensor: b}, {Name: "frozen", Tensor: tensor.Ones(3)}}
	if n := optim.ClipGradNorm(ps, 1); math.Abs(n-5) > 1e-6 {
		t.Fatalf("norm %v, want 5", n)
	}
	if g := b.Grad.Data[0]; math.Abs(float64(g)-4/(5+1e-6)) > 1e-6 {
		t.Fatalf("clipped grad %v, want 0.8", g)
	}
	if n := optim.ClipGradNorm(ps, 10); math.Abs(n-1) > 1e-5 || math.Abs(float64(b.Grad.Data[0])-0.8) > 1e-6 {
		t.Fatalf("norm below max changed gradients: norm %v grad %v", n, b.Grad.Data[0])
	}
}

func TestSchedules(t *testing.T) {
	wc := optim.WarmupCosine{MaxLR: 1, MinLR: 0.1, WarmupSteps: 10, DecaySteps: 110}
	for _, tc := range []struct {
		step int
		want float32
	}{{0, 0.1}, {4, 0.5}, {9, 1}, {10, 1}, {60, 0.55}, {110, 0.1}, {1000, 0.1}} {
		if got := wc.At(tc.step); math.Abs(float64(got-tc.want)) > 1e-6 {
			t.Errorf("WarmupCosine.At(%d) = %v, want %v", tc.step, got, tc.want)
		}
	}
	sd := optim.StepDecay{LR: 1, StepSize: 3, Gamma: 0.1}
	if sd.At(2) != 1 || math.Abs(float64(sd.At(3))-0.1) > 1e-7 || math.Abs(float64(sd.At(7))-0.01) > 1e-8 {
		t.Errorf("StepDecay: %v %v %v", sd.At(2), sd.At(3), sd.At(7))
	}
}

func TestSkipsParamsWithoutGrad(t *testing.T) {
	p := tensor.Ones(2).RequireGrad()
	for _, opt := range []optim.Optimizer{
		optim.NewSGD([]nn.Param{{Name: "p", Tensor: p}}, optim.SGDConfig{LR: 1, Momentum: 0.9}),
		optim.NewAdamW([]nn.Param{{Name: "p", Tensor: p}}, optim.AdamConfig{LR: 1, WeightDecay: 0.5}),
	} {
		opt.Step()
		if p.Data[0] != 1 {
			t.Fatalf("%T changed a parameter with no gradient", opt)
		}
	}
}

// Resuming from State gives the same parameters as never stopping.
func TestStateResume(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func([]nn.Param) optim.Optimizer
	}{
		{"sgd", func(ps []nn.Param) optim.Optimizer {
			return optim.NewSGD(ps, optim.SGDConfig{LR: 0.1, Momentum: 0.9, Nesterov: true})
		}},
		{"adamw", func(ps []nn.Param) optim.Optimizer {
			return optim.NewAdamW(ps, optim.AdamConfig{LR: 0.05, WeightDecay: 0.1})
		}},
		{"adamw+ema", func(ps []nn.Param) optim.Optimizer {
			return optim.NewEMA(optim.NewAdamW(ps, optim.AdamConfig{LR: 0.05, WeightDecay: 0.1}), 0.7)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := tensor.New([]float32{1, -2, 3}, 3)
			step := func(opt optim.Optimizer, w *tensor.Tensor) {
				d := w.Sub(target)
				loss := d.Mul(d).Sum(false)
				opt.ZeroGrad()
				loss.Backward()
				opt.Step()
			}
			w := tensor.Zeros(3).RequireGrad()
			straight := tc.make([]nn.Param{{Name: "w", Tensor: w}})
			for range 6 {
				step(straight, w)
			}

			w2 := tensor.Zeros(3).RequireGrad()
			first := tc.make([]nn.Param{{Name: "w", Tensor: w2}})
			for range 3 {
				step(first, w2)
			}
			saved := map[string]*tensor.Tensor{}
			for k, v := range first.State() {
				saved[k] = v.Clone()
			}
			w3 := w2.Clone().RequireGrad()
			resumed := tc.make([]nn.Param{{Name: "w", Tensor: w3}})
			if err := resumed.LoadState(saved); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				step(resumed, w3)
			}
			for i := range w.Data {
				if w.Data[i] != w3.Data[i] {
					t.Fatalf("resumed %v, straight %v", w3.Data, w.Data)
				}
			}
			if optim.SwapIfAveraging(straight) && optim.SwapIfAveraging(resumed) {
				for i := range w.Data {
					if w.Data[i] != w3.Data[i] {
						t.Fatalf("resumed average %v, straight %v", w3.Data, w.Data)
					}
				}
			}
			bad := map[string]*tensor.Tensor{}
			for k := range saved {
				bad[k] = tensor.Zeros(5)
			}
			if err := resumed.LoadState(bad); err == nil {
				t.Fatal("state of the wrong size accepted")
			}
		})
	}
}

// EMA's average after n steps is the iterates weighted by dⁿ⁻ⁱ and
// normalised; Swap puts it in place and swapping back restores training
// exactly.
func TestEMA(t *testing.T) {
	w := tensor.New([]float32{1, 2}, 2).RequireGrad()
	opt := optim.NewEMA(optim.NewSGD([]nn.Param{{Name: "w", Tensor: w}}, optim.SGDConfig{LR: 0.1}), 0.9)
	opt.Swap()
	if w.Data[0] != 1 || w.Data[1] != 2 {
		t.Fatalf("the average before any step is %v, want the weights", w.Data)
	}
	opt.Swap()
	var iterates [][]float32
	for range 30 {
		loss := w.Mul(w).Sum(false) // gradient 2w: w ← 0.8·w
		opt.ZeroGrad()
		loss.Backward()
		opt.Step()
		iterates = append(iterates, append([]float32(nil), w.Data...))
	}
	want := make([]float64, 2)
	var norm float64
	for i, it := range iterates {
		weight := math.Pow(0.9, float64(len(iterates)-1-i))
		norm += weight
		for j, v := range it {
			want[j] += weight * float64(v)
		}
	}
	trained := append([]float32(nil), w.Data...)
	opt.Swap()
	for j, v := range w.Data {
		if math.Abs(float64(v)-want[j]/norm) > 1e-6 {
			t.Fatalf("average %v, want %v", w.Data, []float64{want[0] / norm, want[1] / norm})
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Step with the average swapped in did not panic")
		}
	}()
	opt.Step()
	_ = trained
}

// The trained weights come back exactly after a round of Swap.
func TestEMASwapBack(t *testing.T) {
	w := tensor.New([]float32{0.3, -0.7}, 2).RequireGrad()
	opt := optim.NewEMA(optim.NewAdamW([]nn.Param{{Name: "w", Tensor: w}}, optim.AdamConfig{LR: 0.1}), 0.99)
	for range 5 {
		loss := w.Mul(w).Sum(false)
		opt.ZeroGrad()
		loss.Backward()
		opt.Step()
	}
	trained := append([]float32(nil), w.Data...)
	opt.Swap()
	if w.Data[0] == trained[0] {
		t.Fatal("Swap left the trained weights in place")
	}
	opt.Swap()
	for i, v := range w.Data {
		if v != trained[i] {
			t.Fatalf("after swapping back %v, trained %v", w.Data, trained)
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("decay 1 accepted")
		}
	}()
	optim.NewEMA(opt, 1)
}
