package tensor_test

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/moxing/moxing/tensor"
)

// mustPanic runs f and checks that it panics with a message containing every
// one of want.
func mustPanic(t *testing.T, f func(), want ...string) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("no panic, want one mentioning %q", want)
		}
		msg, _ := r.(string)
		for _, w := range want {
			if !strings.Contains(msg, w) {
				t.Fatalf("panic %q does not mention %q", msg, w)
			}
		}
	}()
	f()
}

func TestGradientsAccumulate(t *testing.T) {
	x := tensor.New([]float32{1, 2, 3}, 3).RequireGrad()
	x.Mul(x).Sum(false).Backward() // d/dx Σx² = 2x
	x.Sum(false).Backward()        // + 1
	want := []float32{3, 5, 7}
	for i, g := range x.Grad.Data {
		if g != want[i] {
			t.Fatalf("grad = %v, want %v", x.Grad.Data, want)
		}
	}
	g, data := x.Grad, &x.Grad.Data[0]
	x.ZeroGrad()
	if x.Grad != nil {
		t.Fatal("ZeroGrad left a gradient")
	}
	// The next Backward writes into the same storage (no stale values:
	// its first contribution is written, not added), then adds.
	x.Mul(x).Sum(false).Backward()
	if x.Grad != g || &x.Grad.Data[0] != data {
		t.Fatal("Backward after ZeroGrad did not reuse the storage")
	}
	x.Sum(false).Backward()
	if !slices.Equal(x.Grad.Data, want) {
		t.Fatalf("after ZeroGrad: grad = %v, want %v", x.Grad.Data, want)
	}
	// A gradient the op adds into (Sum's) is cleared first.
	x.ZeroGrad()
	x.Sum(false).Backward()
	if !slices.Equal(x.Grad.Data, []float32{1, 1, 1}) {
		t.Fatalf("after ZeroGrad: grad = %v, want [1 1 1]", x.Grad.Data)
	}
}

func TestSharedSubexpression(t *testing.T) {
	// y = h + h·h with h = 3x: dy/dx = 3 + 2·h·3.
	x := tensor.New([]float32{0.5, -1}, 2).RequireGrad()
	h := x.MulScalar(3)
	h.Add(h.Mul(h)).Sum(false).Backward()
	for i, v := range []float32{0.5, -1} {
		if want := 3 + 18*v; x.Grad.Data[i] != want {
			t.Fatalf("grad[%d] = %v, want %v", i, x.Grad.Data[i], want)
		}
	}
}

func TestDetachedRecordsNothing(t *testing.T) {
	w := tensor.Ones(2, 2).RequireGrad()
	y := w.Detach().MatMul(w.Detach()).Sum(false)
	if y.RequiresGrad() || y.Op() != "Sum" {
		t.Fatalf("on detached inputs: RequiresGrad=%v op=%q", y.RequiresGrad(), y.Op())
	}
	mustPanic(t, y.Backward, "does not require a gradient")
	w.Data[0] = 7
	if d := w.Detach(); d.Data[0] != 7 || d.RequiresGrad() {
		t.Fatal("Detach does not share storage, or needs a gradient")
	}
	if z := w.MatMul(w.Detach()).Sum(false); !z.RequiresGrad() {
		t.Fatal("one input needing a gradient must be enough to record")
	}
}

func TestBackwardMisuse(t *testing.T) {
	x := tensor.Ones(2, 3).RequireGrad()
	mustPanic(t, func() { x.MulScalar(2).Backward() }, "Backward", "[2 3]", "BackwardWith")
	mustPanic(t, func() { x.MulScalar(2).BackwardWith(tensor.Ones(3, 2)) }, "seed shape [3 2]", "[2 3]")
	y := x.MulScalar(2).Sum(false)
	y.Backward()
	mustPanic(t, y.Backward, "already freed")
	h := x.MulScalar(2)
	h.Sum(false).Backward()
	mustPanic(t, func() { h.Mul(h).Sum(false).Backward() }, "already freed")
}

func TestShapeErrorsNameOpAndShapes(t *testing.T) {
	a, b := tensor.Zeros(2, 3), tensor.Zeros(4, 5)
	mustPanic(t, func() { a.Add(b) }, "Add", "[2 3]", "[4 5]")
	mustPanic(t, func() { a.MatMul(b) }, "MatMul", "[2 3]", "[4 5]")
	mustPanic(t, func() { tensor.Zeros(2, 3, 4).MatMul(tensor.Zeros(3, 4, 2)) }, "MatMul", "batch")
	mustPanic(t, func() { a.Reshape(4, 2) }, "Reshape", "[2 3]", "[4 2]")
	mustPanic(t, func() { a.Sum(false, 2) }, "Sum", "axis 2")
	mustPanic(t, func() { a.Slice(1, 2, 4) }, "Slice", "[2 3]")
	mustPanic(t, func() { tensor.Concat(0, a, b) }, "Concat", "[2 3]", "[4 5]")
	mustPanic(t, func() { a.IndexSelect(0, []int{0, 2}) }, "IndexSelect", "index 2")
	mustPanic(t, func() { a.Gather(1, []int{0, 1, 2}) }, "Gather", "3 indices")
	mustPanic(t, func() { a.Permute(0, 0) }, "Permute", "repeated")
	mustPanic(t, func() { a.MaskedFill(tensor.Zeros(3, 2, 3), 0) }, "MaskedFill", "[3 2 3]")
	mustPanic(t, func() { tensor.New([]float32{1, 2}, 3) }, "New", "[3]")
}

func TestReshapeSharesStorage(t *testing.T) {
	x := tensor.New([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	y := x.Reshape(3, -1)
	if got := y.Shape(); got[0] != 3 || got[1] != 2 {
		t.Fatalf("shape %v", got)
	}
	x.Data[0] = 42
	if y.Data[0] != 42 {
		t.Fatal("Reshape copied its data")
	}
}

func TestDropout(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	x := tensor.Ones(100, 100).RequireGrad()
	y := x.Dropout(0.3, rng)
	zeros, sum := 0, 0.0
	for _, v := range y.Data {
		if v == 0 {
			zeros++
		} else if math.Abs(float64(v)-1/0.7) > 1e-6 {
			t.Fatalf("kept value %v, want 1/(1-p)", v)
		}
		sum += float64(v)
	}
	if frac := float64(zeros) / 1e4; math.Abs(frac-0.3) > 0.02 {
		t.Fatalf("dropped %.3f of elements, want 0.3", frac)
	}
	if mean := sum / 1e4; math.Abs(mean-1) > 0.03 {
		t.Fatalf("mean %v, want ≈1 (expectation preserved)", mean)
	}
	y.Sum(false).Backward()
	for i, g := range x.Grad.Data {
		if g != y.Data[i] { // with x = 1, the gradient is the mask itself
			t.Fatalf("grad[%d] = %v, want the mask value %v", i, g, y.Data[i])
		}
	}
	// Same seed, same mask.
	a := tensor.Ones(10).Dropout(0.5, rand.New(rand.NewPCG(1, 2)))
	b := tensor.Ones(10).Dropout(0.5, rand.New(rand.NewPCG(1, 2)))
	for i := range a.Data {
		if a.Data[i] != b.Data[i] {
			t.Fatal("Dropout is not deterministic for a fixed seed")
		}
	}
	if z := tensor.Ones(4).Dropout(0, rng); z.Data[0] != 1 {
		t.Fatal("p = 0 changed the input")
	}
}

// TestDropoutThreads checks that a mask drawn in many pieces (in parallel)
// is the same on one thread and on several, keeps about 1-p of the
// elements, and is the gradient's mask.
func TestDropoutThreads(t *testing.T) {
	const n = 3<<14 + 45 // three whole pieces and a partial one
	run := func(procs int) (y, g []float32) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		x := tensor.Ones(n).RequireGrad()
		out := x.Dropout(0.25, rand.New(rand.NewPCG(3, 4)))
		out.Sum(false).Backward()
		return out.Data, x.Grad.Data
	}
	y1, g1 := run(1)
	y4, g4 := run(4)
	if !slices.Equal(y1, y4) || !slices.Equal(g1, g4) {
		t.Fatal("Dropout's mask depends on the number of threads")
	}
	kept := 0
	for i, v := range y1 {
		if v != 0 {
			kept++
		}
		if g1[i] != v {
			t.Fatalf("grad[%d] = %v, want the mask value %v", i, g1[i], v)
		}
	}
	if frac := float64(kept) / n; math.Abs(frac-0.75) > 0.01 {
		t.Fatalf("kept %.4f of the elements, want 0.75", frac)
	}
	if slices.Equal(y1[:1<<14], y1[1<<14:2<<14]) {
		t.Fatal("two pieces drew the same mask: one stream for all")
	}
}

// TestLargeMatMul runs the parallel GEMM path through autograd and checks it
// against the same product computed row by row.
func TestLargeMatMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	a := tensor.Randn(rng, 3, 70, 96).RequireGrad()
	w := tensor.Randn(rng, 80, 96).RequireGrad()
	y := a.MatMulT(w, false, true) // (3, 70, 80)
	up := tensor.Randn(rng, 3, 70, 80)
	y.BackwardWith(up)
	for bi := 0; bi < 3; bi++ {
		for i := 0; i < 70; i += 13 {
			for j := 0; j < 80; j += 7 {
				var s float64
				for k := 0; k < 96; k++ {
					s += float64(a.Data[(bi*70+i)*96+k]) * float64(w.Data[j*96+k])
				}
				if got := float64(y.Data[(bi*70+i)*80+j]); math.Abs(got-s) > 1e-3 {
					t.Fatalf("y[%d][%d][%d] = %v, want %v", bi, i, j, got, s)
				}
			}
		}
	}
	// dW[j][k] = Σ_b,i up[b][i][j]·a[b][i][k]
	for j := 0; j < 80; j += 11 {
		for k := 0; k < 96; k += 17 {
			var s float64
			for r := 0; r < 3*70; r++ {
				s += float64(up.Data[r*80+j]) * float64(a.Data[r*96+k])
			}
			if got := float64(w.Grad.Data[j*96+k]); math.Abs(got-s) > 1e-3 {
				t.Fatalf("dW[%d][%d] = %v, want %v", j, k, got, s)
			}
		}
	}
}

func TestEmbeddingBagPanics(t *testing.T) {
	w := tensor.New(make([]float32, 6), 3, 2)
	mustPanic(t, func() { tensor.EmbeddingBag(w, []int{0, 3}, []int{0}, nil, false) }, "EmbeddingBag", "id 3")
	mustPanic(t, func() { tensor.EmbeddingBag(w, []int{0, 1}, []int{1}, nil, false) }, "EmbeddingBag", "offset 1")
	mustPanic(t, func() { tensor.EmbeddingBag(w, []int{0, 1}, []int{0, 2, 1}, nil, false) }, "EmbeddingBag", "offset 1")
	mustPanic(t, func() { tensor.EmbeddingBag(w, []int{0, 1}, []int{0}, []float32{1}, false) }, "EmbeddingBag", "1 weights for 2 ids")
	mustPanic(t, func() { tensor.EmbeddingBag(tensor.New(make([]float32, 6), 6), []int{0}, []int{0}, nil, false) }, "EmbeddingBag", "want (V, D)")
}

// A product writes a fresh gradient rather than adding to what the storage
// held (after ZeroGrad it still holds the last step's), and an operand on
// both sides, x·xᵀ, gets both contributions.
func TestMatMulGradFreshAndShared(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	x := tensor.Randn(rng, 5, 3).RequireGrad()
	w := tensor.Randn(rng, 4, 3).RequireGrad()
	for step := 0; step < 2; step++ {
		x.ZeroGrad()
		w.ZeroGrad()
		x.MatMulT(x, false, true).Sum(false).Add(x.MatMulT(w, false, true).Sum(false)).Backward()
		for j := 0; j < 3; j++ {
			var sx, sw float32 // Σ_i x[i][j], Σ_r w[r][j]
			for i := 0; i < 5; i++ {
				sx += x.Data[i*3+j]
			}
			for r := 0; r < 4; r++ {
				sw += w.Data[r*3+j]
			}
			for i := 0; i < 5; i++ { // d/dx[i][j] of Σ x·xᵀ + Σ x·wᵀ = 2·sx + sw
				if got, want := x.Grad.Data[i*3+j], 2*sx+sw; math.Abs(float64(got-want)) > 1e-4 {
					t.Fatalf("step %d: dx[%d][%d] = %v, want %v", step, i, j, got, want)
				}
			}
			for r := 0; r < 4; r++ { // d/dw[r][j] = sx
				if got := w.Grad.Data[r*3+j]; math.Abs(float64(got-sx)) > 1e-4 {
					t.Fatalf("step %d: dw[%d][%d] = %v, want %v", step, r, j, got, sx)
				}
			}
		}
	}
}
