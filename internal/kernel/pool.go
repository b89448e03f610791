package kernel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// The worker pool: persistent goroutines that take tasks from one queue.
// A worker that runs out of work spins on the queue for a short while before
// it blocks, as OpenBLAS's threads do: waking a parked thread costs tens of
// microseconds on a virtual machine, more than a whole small product.
var (
	queue      = make(chan func(), 256)
	numWorkers atomic.Int32
	startMu    sync.Mutex
)

// spinRounds is how many empty polls of the queue a worker makes before it
// blocks (about 50 µs).
const spinRounds = 50000

// ensureWorkers makes sure at least n persistent workers are running.
func ensureWorkers(n int) {
	if int(numWorkers.Load()) >= n {
		return
	}
	startMu.Lock()
	defer startMu.Unlock()
	for int(numWorkers.Load()) < n {
		numWorkers.Add(1)
		go worker()
	}
}

func worker() {
	for {
		for spin := 0; spin < spinRounds; spin++ {
			select {
			case f := <-queue:
				f()
				spin = 0
			default:
			}
		}
		(<-queue)()
	}
}

// parallelFor calls body on contiguous ranges covering [0, n), on up to
// workers threads (the caller's included), and returns when all are done.
// While it waits, the caller runs queued tasks itself, so nested use cannot
// deadlock.
func parallelFor(n, workers int, body func(lo, hi int)) {
	workers = min(workers, n)
	if workers <= 1 {
		body(0, n)
		return
	}
	ensureWorkers(workers - 1)
	var remaining atomic.Int32
	remaining.Store(int32(workers - 1))
	for w := 1; w < workers; w++ {
		lo, hi := n*w/workers, n*(w+1)/workers
		f := func() {
			body(lo, hi)
			remaining.Add(-1)
		}
		select {
		case queue <- f:
		default:
			go f() // queue full: never block the caller
		}
	}
	body(0, n/workers)
	for remaining.Load() > 0 {
		select {
		case f := <-queue:
			f()
		default:
			runtime.Gosched()
		}
	}
}

// Parallel calls body on contiguous ranges covering [0, n), on up to
// GOMAXPROCS threads of the worker pool, and returns when all are done. For
// loops of independent, similar pieces of work (one per attention head, say)
// whose pieces are each too small to split.
func Parallel(n int, body func(lo, hi int)) {
	parallelFor(n, min(n, runtime.GOMAXPROCS(0)), body)
}
