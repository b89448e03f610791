package tensor

import (
	"fmt"
	"math"

	"github.com/moxing/moxing/internal/kernel"
)

// newOut allocates the result of op with the given shape. The result
// requires a gradient, and remembers its inputs, exactly when an input
// requires one. There is no global recording switch: computations on tensors
// that need no gradient (data, Detach-ed weights, a model copied by
// nn.Detach for inference) record nothing, whatever other goroutines do.
//
// The storage comes from the arena of the first input that has one (see
// Arena), else from the heap.
func newOut(op string, shape []int, inputs ...*Tensor) *Tensor {
	return allocOut(true, op, shape, inputs)
}

// newOutDirty is newOut for an op that writes every element of its
// result: storage reused from an arena is not cleared first. (With the
// invariants build tag it holds NaN, so an element left unwritten shows.)
func newOutDirty(op string, shape []int, inputs ...*Tensor) *Tensor {
	return allocOut(false, op, shape, inputs)
}

func allocOut(zero bool, op string, shape []int, inputs []*Tensor) *Tensor {
	out := &Tensor{shape: append([]int(nil), shape...), op: op}
	for _, in := range inputs {
		if in.requiresGrad && out.parents == nil {
			out.requiresGrad = true
			out.parents = inputs
		}
		if in.arena != nil {
			checkLive(op, in)
			if out.arena == nil {
				out.arena, out.gen = in.arena, in.arena.gen
			}
		}
	}
	if out.arena != nil {
		out.Data = out.arena.alloc(numel(shape), zero)
	} else {
		out.Data = make([]float32, numel(shape))
	}
	return out
}

// record attaches backward to out when out requires a gradient, runs the
// opt-in invariant checks, and returns out. backward reads out.Grad and
// accumulates into the inputs' gradients through gradOf.
func (out *Tensor) record(backward func()) *Tensor {
	if out.requiresGrad {
		out.backward = backward
	}
	if invariants {
		checkNaN(out.op, out.Data)
	}
	return out
}

// gradOf returns t's gradient storage to accumulate into, zeros on first
// use, or nil when t needs no gradient.
func gradOf(t *Tensor) []float32 {
	g, fresh := gradFresh(t)
	if fresh {
		clear(g)
	}
	return g
}

// gradFresh is gradOf for a backward pass that can write its contribution
// instead of adding it: fresh reports that the storage is new and must be
// written in full (its contents are garbage); otherwise it holds earlier
// contributions to add to. nil when t needs no gradient.
func gradFresh(t *Tensor) (g []float32, fresh bool) {
	if !t.requiresGrad {
		return nil, false
	}
	if t.Grad != nil {
		return t.Grad.Data, false
	}
	if t.spare != nil { // what ZeroGrad took away
		t.Grad, t.spare = t.spare, nil
		return t.Grad.Data, true
	}
	// A leaf (a parameter) keeps its gradient across arena resets.
	t.Grad = &Tensor{shape: t.shape}
	if t.gen != 0 {
		t.Grad.Data, t.Grad.slot = t.arena.allocSlot(len(t.Data), false)
	} else {
		t.Grad.Data = kernel.Floats(len(t.Data))
	}
	return t.Grad.Data, true
}

// handGrad gives a, the input of view, view's gradient storage as its own
// gradient, when that is the whole of a's gradient so far (a has none yet)
// and a is an op's result in the same arena (or, like view, in none), whose
// gradient is as short-lived; never a leaf, whose gradient outlives the
// step. The backward of a view with a's elements in a's order (a reshape)
// then moves nothing. It reports whether it did; Backward then releases the
// storage after a's backward instead of view's.
func handGrad(view, a *Tensor) bool {
	g := view.Grad
	if !a.requiresGrad || a.Grad != nil || a.spare != nil || a.parents == nil || a.arena != view.arena || len(g.Data) != len(a.Data) {
		return false
	}
	a.Grad = &Tensor{Data: g.Data, shape: a.shape, slot: g.slot}
	g.slot = 0
	return true
}

// writeOrAdd puts src into a gradient dst from gradFresh: copied when
// fresh, else added.
func writeOrAdd(dst, src []float32, fresh bool) {
	if fresh {
		copy(dst, src)
	} else {
		kernel.Add(src, dst)
	}
}

// betaOf is the GEMM beta that writes (fresh) or adds into a gradient
// from gradFresh.
func betaOf(fresh bool) float32 {
	if fresh {
		return 0
	}
	return 1
}

// Backward computes the gradient of t, which must hold one element, with
// respect to every tensor it was computed from that requires a gradient, and
// adds it into their Grad. The graph is freed afterwards: intermediate results
// lose their history and gradient, as in PyTorch without retain_graph.
func (t *Tensor) Backward() {
	if len(t.Data) != 1 {
		panic(fmt.Sprintf("tensor: Backward on a tensor of shape %v: only a one-element tensor has an implicit seed gradient; use BackwardWith", t.shape))
	}
	t.BackwardWith(Ones(t.shape...))
}

// BackwardWith is Backward for a tensor of any shape, seeded with the
// gradient dL/dt given as seed (same shape as t).
func (t *Tensor) BackwardWith(seed *Tensor) {
	if !sameShape(seed.shape, t.shape) {
		panic(fmt.Sprintf("tensor: BackwardWith: seed shape %v does not match tensor shape %v", seed.shape, t.shape))
	}
	if !t.requiresGrad {
		panic("tensor: Backward on a tensor that does not require a gradient (no input has RequireGrad, or the inputs were detached)")
	}
	order := topoOrder(t)
	g := gradOf(t)
	for i, v := range seed.Data {
		g[i] += v
	}
	for i := len(order) - 1; i >= 0; i-- {
		n := order[i]
		if n.backward == nil || n.Grad == nil {
			continue
		}
		n.backward()
		if invariants {
			for _, p := range n.parents {
				if p.Grad != nil {
					checkNaN("backward of "+n.op, p.Grad.Data)
				}
			}
		}
		if n.Grad.slot != 0 {
			// Nothing reads an intermediate result's gradient after its own
			// backward: later gradients of this step reuse the storage.
			n.arena.release(n.Grad.slot - 1)
			n.Grad = nil
		}
	}
	for _, n := range order {
		if n.parents != nil {
			n.Grad, n.backward, n.parents = nil, nil, nil
			n.op += " (freed)"
			n.freed = true
		}
	}
}

// topoOrder returns the tensors that t depends on and that require a
// gradient, inputs before the results computed from them, ending with t.
func topoOrder(t *Tensor) []*Tensor {
	var order []*Tensor
	visited := map[*Tensor]bool{}
	type frame struct {
		t    *Tensor
		next int
	}
	stack := []frame{{t, 0}}
	visited[t] = true
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.t.freed {
			panic("tensor: Backward through a graph that was already freed by an earlier Backward (" + f.t.op + ")")
		}
		if f.next < len(f.t.parents) {
			p := f.t.parents[f.next]
			f.next++
			if p.requiresGrad && !visited[p] {
				visited[p] = true
				stack = append(stack, frame{p, 0})
			}
			continue
		}
		order = append(order, f.t)
		stack = stack[:len(stack)-1]
	}
	return order
}

// checkNaN panics naming op when data holds a NaN. Infinities are allowed:
// a causal mask fills with -Inf on purpose.
func checkNaN(op string, data []float32) {
	for i, v := range data {
		if math.IsNaN(float64(v)) {
			panic(fmt.Sprintf("tensor: %s produced %v at element %d (invariants check)", op, v, i))
		}
	}
}
