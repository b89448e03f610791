package perf

import (
	"runtime"
	"sync"

	"github.com/moxing/moxing/internal/kernel"
)

// FMAPeak measures the floating-point peak of threads cores, in GFLOP/s:
// threads goroutines, each locked to its own OS thread, run
// kernel.FMALoop at once (GOMAXPROCS is raised to threads for the
// measurement when below it); the best of reps repetitions (about 13 ms
// each at 250 GFLOP/s a core) counts. It returns 0 where the kernels have
// no FMA loop (pure Go).
//
// It is the denominator of "per cent of peak": measured in the same run as
// the work it is compared with, since a shared machine's speed drifts.
func FMAPeak(threads, reps int) float64 {
	const rounds = 1 << 23     // 3.2 GFLOP a thread with 16 lanes, 1.6 with 8
	round := kernel.FMALoop(1) // the operations of one round; 0 without a loop
	if round == 0 || threads < 1 {
		return 0
	}
	if runtime.GOMAXPROCS(0) < threads {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
	}
	best := timeBest(reps, func() {
		var wg sync.WaitGroup
		for range threads {
			wg.Go(func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				kernel.FMALoop(rounds)
			})
		}
		wg.Wait()
	})
	return round * rounds * float64(threads) / best.Seconds() / 1e9
}
