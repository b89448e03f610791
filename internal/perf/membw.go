package perf

import (
	"runtime"
	"sync"
	"time"

	"github.com/moxing/moxing/internal/kernel"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/tensor"
)

// Bandwidth is one memory-bound kernel's rate.
type Bandwidth struct {
	Kernel string  // copy, scale, add, triad or adamw
	Bytes  int     // bytes moved per value, as STREAM counts them
	GBs    float64 // the best repetition's rate
	Best   time.Duration
	Triad  float64 // triad's rate in the same run, GB/s
}

// MemBandwidth measures memory bandwidth STREAM's way on threads
// goroutines, each on its own contiguous slice of arrays of n float32s
// (far larger than the caches), best of reps:
//
//	copy   c = a              8 bytes a value (Go's copy)
//	scale  a = s·a            8 (the vectorized kernel, in place)
//	add    b = b + a          12
//	triad  b = b + s·a        12
//
// then AdamW as training runs it: optim.AdamW's step over one tensor of
// params parameters, 28 bytes a parameter (it reads the weights,
// gradients and both moments, and writes three back), on threads threads
// (GOMAXPROCS, restored after), its repetitions alternating with triad's
// (triad's row is that second round). The moments are allocated, and their pages
// touched, before the timing.
func MemBandwidth(n, params, threads, reps int) []Bandwidth {
	a, b, c := fill(n, 1), fill(n, 2), fill(n, 0)
	kernels := []struct {
		name  string
		bytes int
		run   func(lo, hi int)
	}{
		{"copy", 8, func(lo, hi int) { copy(c[lo:hi], a[lo:hi]) }},
		{"scale", 8, func(lo, hi int) { kernel.Scale(1.0000001, a[lo:hi]) }},
		{"add", 12, func(lo, hi int) { kernel.Add(a[lo:hi], b[lo:hi]) }},
		{"triad", 12, func(lo, hi int) { kernel.Axpy(0.5, a[lo:hi], b[lo:hi]) }},
	}
	split := func(run func(lo, hi int)) func() {
		return func() {
			var wg sync.WaitGroup
			for i := range threads {
				wg.Go(func() { run(n*i/threads, n*(i+1)/threads) })
			}
			wg.Wait()
		}
	}
	var out []Bandwidth
	for _, k := range kernels {
		best := timeBest(reps, split(k.run))
		out = append(out, Bandwidth{k.name, k.bytes, float64(k.bytes) * float64(n) / best.Seconds() / 1e9, best, 0})
	}
	c = nil
	w := tensor.New(fill(params, 0.01), params).RequireGrad()
	w.Grad = tensor.New(fill(params, 0.001), params)
	opt := optim.NewAdamW([]nn.Param{{Name: "w", Tensor: w}}, optim.AdamConfig{LR: 1e-4, WeightDecay: 0.1})
	opt.Step() // allocates the moments and faults their pages in
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
	// Triad is timed again, its repetitions alternating with AdamW's: the
	// memory's speed here drifts within a minute, by as much as two times,
	// and the ratio of the two must compare the same minutes.
	triad, tri, adam := split(kernels[3].run), time.Duration(1<<62), time.Duration(1<<62)
	for range max(reps, 1) {
		tri = min(tri, timeBest(1, triad))
		adam = min(adam, timeBest(1, opt.Step))
	}
	out[3].Best, out[3].GBs = tri, 12*float64(n)/tri.Seconds()/1e9
	out = append(out, Bandwidth{"adamw", 28, 28 * float64(params) / adam.Seconds() / 1e9, adam, 0})
	for i := range out {
		out[i].Triad = out[3].GBs
	}
	return out
}

// fill returns n float32s of value v, touched so that their pages exist.
func fill(n int, v float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = v
	}
	return x
}

func timeBest(reps int, f func()) time.Duration {
	best := time.Duration(1 << 62)
	for range max(reps, 1) {
		start := time.Now()
		f()
		best = min(best, time.Since(start))
	}
	return best
}
