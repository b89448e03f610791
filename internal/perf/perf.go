// Package perf times the paths moxing is measured by: a float32 matrix
// product through tensor.MatMulT, a GPT training step (forward, backward,
// AdamW) and batch-1 GPT generation with a KV cache, with the memory each
// allocates. `moxing bench` prints its results; bench/*.py compares them
// with the peers.
//
// The functions run on the calling goroutine's process as it is: they do
// not change GOMAXPROCS (the caller chooses the threads) and they use no
// global random numbers (the caller passes a *rand.Rand). Timings of one
// process are meaningful one at a time: run them one after another.
package perf

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/moxing/moxing/tensor"
)

// MatmulConfig is a matrix product to time: C = op(A)·op(B), with op(A)
// M×K and op(B) K×N.
type MatmulConfig struct {
	M, N, K int
	TransA  bool    // A is stored K×M
	TransB  bool    // B is stored N×K (as a Linear layer's weight)
	Seconds float64 // about how long to run; 0 runs the minimum of 5 short rounds
}

// MatmulResult is the speed of a matrix product.
type MatmulResult struct {
	Kernels string  // tensor.Kernels() at the time
	GFLOPS  float64 // the best round's rate, counting 2·M·N·K per product
}

// Matmul times cfg's product for about cfg.Seconds and returns the best rate
// seen. A and B are drawn from rng. The product's storage comes from an
// arena, as in a training step: allocating 4·M·N fresh bytes per product
// would time the garbage collector and page faults, not the kernel. It
// returns ctx.Err() when ctx is cancelled.
func Matmul(ctx context.Context, cfg MatmulConfig, rng *rand.Rand) (MatmulResult, error) {
	if cfg.M < 1 || cfg.N < 1 || cfg.K < 1 {
		return MatmulResult{}, fmt.Errorf("perf: matmul M=%d N=%d K=%d: want sizes of at least 1", cfg.M, cfg.N, cfg.K)
	}
	sa, sb := []int{cfg.M, cfg.K}, []int{cfg.K, cfg.N}
	if cfg.TransA {
		sa = []int{cfg.K, cfg.M}
	}
	if cfg.TransB {
		sb = []int{cfg.N, cfg.K}
	}
	arena := tensor.NewArena()
	a, b := tensor.Randn(rng, sa...).UseArena(arena), tensor.Randn(rng, sb...)
	product := func() {
		a.MatMulT(b, cfg.TransA, cfg.TransB)
		arena.Reset()
	}
	product() // warm up: pools, page faults

	// The best of several rounds of about a fifth of the time each: the
	// machine is shared, and the best round is the kernel's own speed.
	flops := 2 * float64(cfg.M) * float64(cfg.N) * float64(cfg.K)
	total := time.Duration(cfg.Seconds * float64(time.Second))
	best := 0.0
	deadline := time.Now().Add(total)
	for round := 0; round < 5 || time.Now().Before(deadline); round++ {
		if ctx.Err() != nil {
			return MatmulResult{}, ctx.Err()
		}
		reps, start := 0, time.Now()
		for time.Since(start) < total/5 || reps == 0 {
			product()
			reps++
		}
		best = max(best, flops*float64(reps)/time.Since(start).Seconds()/1e9)
		if round >= 20 {
			break
		}
	}
	return MatmulResult{Kernels: tensor.Kernels(), GFLOPS: best}, nil
}

// allocated returns the bytes allocated on the heap so far and the number of
// completed garbage collections.
func allocated() (bytes uint64, gcs uint32) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc, ms.NumGC
}
