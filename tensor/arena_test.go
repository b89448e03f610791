package tensor_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/moxing/moxing/tensor"
)

// step is a small training computation: a two-layer net with layer norm,
// attention and dropout, so that most kinds of storage (results, kept
// statistics, masks, gradients) come from the arena.
func arenaStep(w1, w2, g, b *tensor.Tensor, x *tensor.Tensor, seed uint64) *tensor.Tensor {
	rng := rand.New(rand.NewPCG(seed, 1))
	h := x.MatMul(w1).LayerNorm(g, b, 1e-5)         // (2, 4, 12)
	h = tensor.CausalSelfAttention(h, 2).GELU()     // (2, 4, 4)
	h = h.Dropout(0.25, rng).MatMul(w2).Softmax(-1) // (2, 4, 3)
	return h.Mul(h).Sum(false)
}

func TestArenaSameResultsNoGrowth(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	params := func() []*tensor.Tensor {
		r := rand.New(rand.NewPCG(5, 6))
		return []*tensor.Tensor{tensor.Randn(r, 5, 12).RequireGrad(), tensor.Randn(r, 4, 3).RequireGrad(),
			tensor.Randn(r, 12).RequireGrad(), tensor.Randn(r, 12).RequireGrad()}
	}
	heap, pooled := params(), params()
	arena := tensor.NewArena()
	for _, p := range pooled {
		p.UseArena(arena)
	}
	var held int64
	for step := range 4 {
		x := tensor.Randn(rng, 2, 4, 5)
		want := arenaStep(heap[0], heap[1], heap[2], heap[3], x, uint64(step))
		got := arenaStep(pooled[0], pooled[1], pooled[2], pooled[3], x, uint64(step))
		want.Backward()
		got.Backward()
		if got.Item() != want.Item() {
			t.Fatalf("step %d: loss %v with the arena, %v without", step, got.Item(), want.Item())
		}
		arena.Reset()
		for i := range heap {
			for j, v := range heap[i].Grad.Data {
				if pooled[i].Grad.Data[j] != v {
					t.Fatalf("step %d: gradient of parameter %d differs at %d after Reset", step, i, j)
				}
			}
		}
		if step == 0 {
			held = arena.Bytes()
		} else if arena.Bytes() != held {
			t.Fatalf("step %d: the arena grew from %d to %d bytes on a repeated computation", step, held, arena.Bytes())
		}
	}
	if held == 0 {
		t.Fatal("nothing was taken from the arena")
	}
}

func TestArenaUseAfterReset(t *testing.T) {
	arena := tensor.NewArena()
	w := tensor.Ones(3).UseArena(arena)
	y := w.MulScalar(2)
	arena.Reset()
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "Reset") {
			t.Fatalf("using a result after Reset: %v", r)
		}
	}()
	y.Add(w)
}

func TestArenaDetachedParameterUsesHeap(t *testing.T) {
	arena := tensor.NewArena()
	w := tensor.Ones(3).RequireGrad().UseArena(arena)
	y := w.Detach().MulScalar(2)
	arena.Reset()
	_ = y.Add(y) // still valid: the detached copy did not use the arena
	if arena.Bytes() != 0 {
		t.Fatalf("a detached parameter allocated %d bytes from the arena", arena.Bytes())
	}
}

// arenaRun runs arenaStep with a sequence length of t and resets.
func arenaRun(params []*tensor.Tensor, arena *tensor.Arena, t int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	arenaStep(params[0], params[1], params[2], params[3], tensor.Randn(rng, 2, t, 5), seed).Backward()
	arena.Reset()
}

func arenaParams(arena *tensor.Arena) []*tensor.Tensor {
	r := rand.New(rand.NewPCG(5, 6))
	ps := []*tensor.Tensor{tensor.Randn(r, 5, 12).RequireGrad(), tensor.Randn(r, 4, 3).RequireGrad(),
		tensor.Randn(r, 12).RequireGrad(), tensor.Randn(r, 12).RequireGrad()}
	for _, p := range ps {
		p.UseArena(arena)
	}
	return ps
}

// Steps of varying lengths, as batches of texts sorted into buckets, must
// settle on one pool: once every length has been seen, a cycle over them
// allocates (almost) no new storage. It counts what the arena itself
// allocates (Arena.Allocated), not the process's allocations, which
// another goroutine or a collection of the kernels' pooled scratch can
// swell on a loaded machine.
func TestArenaVaryingShapesSettle(t *testing.T) {
	lengths := []int{40, 9, 23, 64, 17, 50, 31, 12, 58, 27}
	arena := tensor.NewArena()
	ps := arenaParams(arena)
	var first, third int64
	for c := range 3 {
		before := arena.Allocated()
		for i, n := range lengths {
			arenaRun(ps, arena, n, uint64(c*100+i))
		}
		if c == 0 {
			first = arena.Allocated() - before
		}
		third = arena.Allocated() - before
	}
	t.Logf("the first cycle over %d lengths allocated %d bytes, the third %d; the arena holds %d", len(lengths), first, third, arena.Bytes())
	if first == 0 || float64(third) > 0.05*float64(first) {
		t.Fatalf("a third cycle over lengths already seen allocated %d bytes of storage, the first %d: the arena does not reuse its buffers across lengths",
			third, first)
	}
}

// Shapes that drift (a sequence growing by one position per step) must not
// pile up storage: the arena keeps at most twice its busiest step.
func TestArenaDriftingShapesBounded(t *testing.T) {
	arena := tensor.NewArena()
	ps := arenaParams(arena)
	const last = 120
	for n := 1; n <= last; n++ {
		arenaRun(ps, arena, n, uint64(n))
	}
	one := tensor.NewArena()
	arenaRun(arenaParams(one), one, last, 0)
	if arena.Bytes() > 2*one.Bytes() {
		t.Fatalf("after %d growing steps the arena holds %d bytes; the last step alone needs %d", last, arena.Bytes(), one.Bytes())
	}
}

// Backward hands each intermediate gradient back to the arena once its op's
// backward has consumed it, so the gradients of a deep chain share a few
// buffers instead of doubling the step's storage.
func TestArenaBackwardReusesGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	arena := tensor.NewArena()
	var ws []*tensor.Tensor
	for range 16 {
		ws = append(ws, tensor.Randn(rng, 64, 64).MulScalar(0.1).RequireGrad().UseArena(arena))
	}
	x := tensor.Randn(rng, 8, 64)
	h := x
	for _, w := range ws {
		h = h.MatMul(w).Tanh()
	}
	loss := h.Sum(false)
	forward := arena.Bytes()
	loss.Backward()
	if after := arena.Bytes(); float64(after) > 1.2*float64(forward) {
		t.Fatalf("the forward pass took %d bytes from the arena, forward and backward %d: gradients are not reused", forward, after)
	}
	for i, w := range ws {
		if w.Grad == nil {
			t.Fatalf("parameter %d has no gradient", i)
		}
	}
}

// An empty intermediate (a zero-size slice) has a gradient that takes
// nothing from the arena: handing it back must not hand back another
// tensor's buffer.
func TestArenaEmptyGradient(t *testing.T) {
	arena := tensor.NewArena()
	x := tensor.Ones(2, 3).RequireGrad().UseArena(arena)
	z := x.MulScalar(2)
	loss := z.Sum(false).Add(z.Slice(1, 0, 0).Sum(false))
	loss.Backward()
	arena.Reset()
	if arena.FreeTwice() {
		t.Fatal("a buffer was handed back twice")
	}
	for _, g := range x.Grad.Data {
		if g != 2 {
			t.Fatalf("gradient %v, want 2", x.Grad.Data)
		}
	}
}

// A reshape's backward hands its gradient to its input instead of copying
// it into storage of the input's own: a language model's logits gradient
// (B·T × 50,257 values) passes through one on its way to the loss.
func TestArenaReshapeHandsGradient(t *testing.T) {
	arena := tensor.NewArena()
	x := tensor.Ones(512, 256).RequireGrad().UseArena(arena)
	y := x.MulScalar(2) // (512, 256), the arena's
	loss := y.Reshape(256, 512).Sum(false)
	forward := arena.Bytes()
	loss.Backward()
	// The reshape's gradient (n bytes) is the one buffer of that size.
	if grew, n := arena.Bytes()-forward, int64(4*x.Numel()); grew >= 2*n {
		t.Fatalf("backward took %d more bytes from the arena: the reshape's input got a %d-byte gradient of its own", grew, n)
	}
	for i, g := range x.Grad.Data {
		if g != 2 {
			t.Fatalf("dloss/dx[%d] = %v, want 2", i, g)
		}
	}
	arena.Reset()
	if arena.FreeTwice() {
		t.Fatal("a buffer was handed back twice")
	}
}
