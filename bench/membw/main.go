// Command membw measures the machine's memory bandwidth, STREAM's way, and
// the AdamW step against it: "at memory speed" as a number.
//
//	go run ./bench/membw                    # 1 and 2 threads, arrays of 64 Mi floats (256 MiB each)
//	go run ./bench/membw -threads 1,2,4 -n 26 -reps 7
//
// Each kernel runs over arrays far larger than the caches, split into one
// contiguous slice per thread, reps times; the best time counts, and the
// bytes are STREAM's (what the kernel reads and writes, not the write
// allocate):
//
//	copy   c = a              8 bytes a value (Go's copy, vectorized)
//	scale  a = s·a            8 (kernel.Scale, in place)
//	add    b = b + a          12 (kernel.Add)
//	triad  b = b + s·a        12 (kernel.Axpy)
//	adamw  the optimizer step of GPT-2 small's 124M parameters
//	       (optim.AdamW over one tensor: reads w, g, m, v; writes w, m, v)   28
//
// AdamW's row says what share of triad's bandwidth it reaches.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moxing/moxing/internal/kernel"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/tensor"
)

func main() {
	threads := flag.String("threads", "1,2", "thread counts, comma-separated")
	logN := flag.Int("n", 26, "values per array: 2^n float32s")
	reps := flag.Int("reps", 5, "repetitions of each kernel; the best counts")
	params := flag.Int("params", 124439808, "parameters of the AdamW step (GPT-2 small's)")
	flag.Parse()
	n := 1 << *logN
	a, b, c := fill(n, 1), fill(n, 2), fill(n, 0)
	fmt.Printf("%d CPUs, arrays of %d MiB, best of %d; load average %s\n\n", runtime.NumCPU(), n*4>>20, *reps, loadavg())
	fmt.Println("| kernel | bytes/value | " + strings.Join(strings.Split(*threads, ","), " threads GB/s | ") + " threads GB/s |")
	fmt.Println("|---|---|" + strings.Repeat("---|", len(strings.Split(*threads, ","))))
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
	triad := map[string]float64{}
	for _, k := range kernels {
		row := fmt.Sprintf("| %s | %d |", k.name, k.bytes)
		for _, th := range strings.Split(*threads, ",") {
			t, err := strconv.Atoi(th)
			if err != nil || t < 1 {
				fmt.Fprintf(os.Stderr, "membw: -threads %q: want positive counts\n", *threads)
				os.Exit(2)
			}
			best := timeBest(*reps, func() { split(n, t, k.run) })
			gbs := float64(k.bytes) * float64(n) / best.Seconds() / 1e9
			if k.name == "triad" {
				triad[th] = gbs
			}
			row += fmt.Sprintf(" %.1f |", gbs)
		}
		fmt.Println(row)
	}
	// AdamW through the optimizer, as training calls it: one tensor of
	// all the parameters (its chunks split across threads by optim).
	w := tensor.New(fill(*params, 0.01), *params)
	w.RequireGrad()
	w.Grad = tensor.New(fill(*params, 0.001), *params)
	opt := optim.NewAdamW([]nn.Param{{Name: "w", Tensor: w}}, optim.AdamConfig{LR: 1e-4, WeightDecay: 0.1})
	opt.Step() // allocate the moments
	row, share := "| adamw | 28 |", "| adamw / triad | |"
	for _, th := range strings.Split(*threads, ",") {
		t, _ := strconv.Atoi(th)
		prev := runtime.GOMAXPROCS(t)
		best := timeBest(*reps, opt.Step)
		runtime.GOMAXPROCS(prev)
		gbs := 28 * float64(*params) / best.Seconds() / 1e9
		row += fmt.Sprintf(" %.1f (%.0f ms) |", gbs, best.Seconds()*1e3)
		share += fmt.Sprintf(" %.0f%% |", 100*gbs/triad[th])
	}
	fmt.Println(row)
	fmt.Println(share)
}

// fill returns n float32s of value v, touched so that the pages exist.
func fill(n int, v float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = v
	}
	return x
}

// split runs body over [0, n) in t contiguous slices, one goroutine each.
func split(n, t int, body func(lo, hi int)) {
	var wg sync.WaitGroup
	for i := range t {
		wg.Go(func() { body(n*i/t, n*(i+1)/t) })
	}
	wg.Wait()
}

func timeBest(reps int, f func()) time.Duration {
	best := time.Duration(1 << 62)
	for range reps {
		start := time.Now()
		f()
		best = min(best, time.Since(start))
	}
	return best
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
