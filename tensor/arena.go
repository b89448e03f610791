package tensor

import (
	"fmt"
	"math"
	"math/bits"
)

// Arena lends storage to op results and their gradients and takes all of it
// back at Reset, so that a loop running the same computation step after step
// reuses its buffers instead of allocating afresh (PyTorch gets the same from
// its caching allocator; a garbage collector only frees what it has traced).
//
// Tensors opt in through their inputs: an op whose input belongs to an arena
// (a parameter given one with UseArena, or the result of an earlier op in
// the arena) takes its result's storage, the storage it keeps for backward,
// and its gradient from that arena. Leaves keep their own gradients, so a
// parameter's Grad stays valid across Reset.
//
// The contract is the caller's: after Reset, results computed since the
// previous Reset must not be read. Using one as the input of an op panics;
// reading its Data directly sees another step's numbers (with the
// invariants build tag, NaN). A training loop calls Reset after Backward
// and after it has read the loss. An Arena is not safe for concurrent use;
// give each training goroutine its own model and arena.
type Arena struct {
	gen  uint64              // generation of the tensors lent since the last Reset
	free map[int][][]float32 // returned buffers by capacity (a size class)
	lent [][]float32         // buffers out since the last Reset
	held int                 // floats owned, lent or free
}

// NewArena returns an empty arena.
func NewArena() *Arena { return &Arena{gen: 1, free: map[int][][]float32{}} }

// UseArena makes ops with t as an input allocate from a (nil: the Go heap)
// and returns t. It is meant for parameters: t's own storage and gradient
// stay where they are.
func (t *Tensor) UseArena(a *Arena) *Tensor {
	t.arena, t.gen = a, 0
	return t
}

// Reset takes back every buffer lent since the last Reset. Tensors computed
// from them are invalid from now on. Buffers that sat unused through the
// whole step since the last Reset go back to the garbage collector, so a
// computation whose shapes drift (a KV cache growing by a position per
// token) does not pile up storage for shapes it no longer has.
func (a *Arena) Reset() {
	for size, bufs := range a.free {
		a.held -= size * len(bufs)
		clear(bufs)
		a.free[size] = bufs[:0]
	}
	for _, buf := range a.lent {
		buf = buf[:cap(buf)]
		if invariants {
			for i := range buf {
				buf[i] = float32(math.NaN())
			}
		}
		a.free[len(buf)] = append(a.free[len(buf)], buf)
	}
	clear(a.lent)
	a.lent = a.lent[:0]
	a.gen++
}

// Bytes returns the storage the arena owns, lent or free.
func (a *Arena) Bytes() int64 { return int64(a.held) * 4 }

// sizeClass rounds n up to one of 16 sizes per power of two, so that
// buffers are shared between lengths that differ a little (at most 1/16 is
// wasted).
func sizeClass(n int) int {
	if n <= 64 {
		return 64
	}
	step := 1 << max(bits.Len(uint(n-1))-4, 0)
	return (n + step - 1) &^ (step - 1)
}

// alloc lends a buffer of n floats, reusing one of the same size class when
// the arena has it; zeroed when zero is set (a new buffer always is).
func (a *Arena) alloc(n int, zero bool) []float32 {
	if n == 0 {
		return nil
	}
	size := sizeClass(n)
	var buf []float32
	if bufs := a.free[size]; len(bufs) > 0 {
		buf = bufs[len(bufs)-1][:n]
		bufs[len(bufs)-1] = nil
		a.free[size] = bufs[:len(bufs)-1]
		if zero {
			clear(buf)
		}
	} else {
		buf = make([]float32, n, size)
		a.held += size
	}
	a.lent = append(a.lent, buf)
	return buf
}

// scratch returns n zeroed floats that live as long as t's storage: from
// t's arena when it has one, else from the heap.
func scratch(t *Tensor, n int) []float32 {
	if t.arena != nil {
		return t.arena.alloc(n, true)
	}
	return make([]float32, n)
}

// scratchDirty is scratch for a caller that writes every element before
// reading it: arena storage is not cleared first.
func scratchDirty(t *Tensor, n int) []float32 {
	if t.arena != nil {
		return t.arena.alloc(n, false)
	}
	return make([]float32, n)
}

// checkLive panics when t is an op result whose arena has been reset since
// t was computed.
func checkLive(op string, t *Tensor) {
	if t.gen != 0 && t.gen != t.arena.gen {
		panic(fmt.Sprintf("tensor: %s: input %v (from %s) was computed before its arena's last Reset", op, t.shape, t.op))
	}
}
