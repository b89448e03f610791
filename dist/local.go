package dist

import (
	"fmt"
	"sync"
)

// Local returns the n ranks of a job whose processes are goroutines of
// this one, sharing memory: for tests of what runs on several ranks, with
// the same results MPI gives (the sums add the ranks in order, so every
// rank gets the same bits). Abort panics.
func Local(n int) []Comm {
	g := &group{n: n, bufs: make([]any, n)}
	g.cond = sync.NewCond(&g.mu)
	comms := make([]Comm, n)
	for r := range n {
		comms[r] = &local{g: g, rank: r}
	}
	return comms
}

type group struct {
	n    int
	mu   sync.Mutex
	cond *sync.Cond
	wait int // ranks in the current barrier
	gen  int // barriers passed
	bufs []any
}

// barrier returns once all n ranks have called it.
func (g *group) barrier() {
	g.mu.Lock()
	defer g.mu.Unlock()
	gen := g.gen
	g.wait++
	if g.wait == g.n {
		g.wait = 0
		g.gen++
		g.cond.Broadcast()
		return
	}
	for gen == g.gen {
		g.cond.Wait()
	}
}

type local struct {
	g    *group
	rank int
}

func (c *local) Rank() int      { return c.rank }
func (c *local) Size() int      { return c.g.n }
func (c *local) LocalRank() int { return c.rank }
func (c *local) Barrier() error { c.g.barrier(); return nil }
func (c *local) Abort(code int) {
	panic(fmt.Sprintf("dist: rank %d aborted the job with code %d", c.rank, code))
}
func (c *local) Close() error { return nil }

func (c *local) AllReduce(buf []float32) error {
	g := c.g
	g.mu.Lock()
	g.bufs[c.rank] = buf
	g.mu.Unlock()
	g.barrier()
	sum := make([]float32, len(buf))
	for _, b := range g.bufs {
		b := b.([]float32)
		if len(b) != len(sum) {
			panic(fmt.Sprintf("dist: AllReduce of %d floats on rank %d, %d on another", len(sum), c.rank, len(b)))
		}
		for i, v := range b {
			sum[i] += v
		}
	}
	g.barrier() // every rank has read every buffer
	copy(buf, sum)
	return nil
}

func (c *local) Broadcast(buf []byte, root int) error {
	g := c.g
	if c.rank == root {
		g.mu.Lock()
		g.bufs[root] = buf
		g.mu.Unlock()
	}
	g.barrier()
	if c.rank != root {
		src := g.bufs[root].([]byte)
		if len(src) != len(buf) {
			panic(fmt.Sprintf("dist: Broadcast of %d bytes from rank %d into %d on rank %d", len(src), root, len(buf), c.rank))
		}
		copy(buf, src)
	}
	g.barrier()
	return nil
}
