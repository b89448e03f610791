package tensor

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/moxing/moxing/internal/kernel"
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
	gen  uint64            // generation of the tensors lent since the last Reset
	free map[int][]freeBuf // returned buffers by capacity (a size class), oldest first
	lent [][]float32       // buffers out since the last Reset; nil where released
	held int               // floats owned, lent or free
	live int               // floats lent now
	peak int               // the most floats ever lent at once
	made int64             // floats ever allocated from the Go heap
}

// freeBuf is a returned buffer and the generation it was last lent in.
type freeBuf struct {
	buf  []float32
	used uint64
}

// NewArena returns an empty arena.
func NewArena() *Arena { return &Arena{gen: 1, free: map[int][]freeBuf{}} }

// UseArena makes ops with t as an input allocate from a (nil: the Go heap)
// and returns t. It is meant for parameters: t's own storage and gradient
// stay where they are.
func (t *Tensor) UseArena(a *Arena) *Tensor {
	t.arena, t.gen = a, 0
	return t
}

// Reset takes back every buffer lent since the last Reset. Tensors computed
// from them are invalid from now on.
//
// The arena keeps at most twice the most storage it ever had lent at once,
// as a caching allocator does: when it holds more, the buffers that have gone
// unused longest go back to the garbage collector. So steps whose shapes
// vary (batches of texts of different lengths) draw on one pool instead of
// dropping the buffers of one step's shapes to allocate the next's, and a
// computation whose shapes drift (a KV cache growing by a position per
// token) does not pile up storage for shapes it no longer has.
func (a *Arena) Reset() {
	for i := range a.lent {
		if a.lent[i] != nil {
			a.release(i)
		}
	}
	clear(a.lent)
	a.lent = a.lent[:0]
	a.gen++
	if a.held > 2*a.peak {
		a.trim(2 * a.peak)
	}
}

// release takes back lent buffer i before Reset, for reuse within the step.
func (a *Arena) release(i int) {
	buf := a.lent[i][:cap(a.lent[i])]
	a.lent[i] = nil
	a.live -= len(buf)
	if invariants {
		for i := range buf {
			buf[i] = float32(math.NaN())
		}
	}
	a.free[len(buf)] = append(a.free[len(buf)], freeBuf{buf, a.gen})
}

// trim returns free buffers to the garbage collector, least recently used
// first, until the arena holds at most limit floats.
func (a *Arena) trim(limit int) {
	var all []freeBuf
	for size, bufs := range a.free {
		all = append(all, bufs...)
		clear(bufs)
		delete(a.free, size)
	}
	slices.SortFunc(all, func(x, y freeBuf) int {
		return cmp.Or(cmp.Compare(x.used, y.used), cmp.Compare(cap(x.buf), cap(y.buf)))
	})
	i := 0
	for ; i < len(all) && a.held > limit; i++ {
		a.held -= cap(all[i].buf)
	}
	for _, f := range all[i:] {
		a.free[cap(f.buf)] = append(a.free[cap(f.buf)], f)
	}
}

// Bytes returns the storage the arena owns, lent or free.
func (a *Arena) Bytes() int64 { return int64(a.held) * 4 }

// Allocated returns the bytes of storage the arena has ever allocated from
// the Go heap, reused buffers not counted: a step that allocates nothing
// new leaves it unchanged.
func (a *Arena) Allocated() int64 { return a.made * 4 }

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

// alloc lends a buffer of n floats; zeroed when zero is set (a new buffer
// always is). It reuses the most recently returned buffer of n's size class
// or, failing that, of the smallest larger class up to twice n's, and
// allocates only when the arena has none of those.
func (a *Arena) alloc(n int, zero bool) []float32 {
	buf, _ := a.allocSlot(n, zero)
	return buf
}

// allocSlot is alloc that also returns the buffer's slot, 1 + its index in
// the lent list (for release), or 0 when nothing was lent (n = 0).
func (a *Arena) allocSlot(n int, zero bool) ([]float32, int) {
	if n == 0 {
		return nil, 0
	}
	size := sizeClass(n)
	var buf []float32
	for c := size; c <= 2*size && buf == nil; c = sizeClass(c + 1) {
		if bufs := a.free[c]; len(bufs) > 0 {
			buf = bufs[len(bufs)-1].buf[:n]
			bufs[len(bufs)-1] = freeBuf{}
			a.free[c] = bufs[:len(bufs)-1]
			if zero {
				clear(buf)
			}
		}
	}
	if buf == nil {
		buf = kernel.Floats(size)[:n]
		a.held += size
		a.made += int64(size)
	}
	a.lent = append(a.lent, buf)
	a.live += cap(buf)
	a.peak = max(a.peak, a.live)
	return buf, len(a.lent)
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
