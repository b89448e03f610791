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
