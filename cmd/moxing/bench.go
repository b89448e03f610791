package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/moxing/moxing/tensor"
)

const benchExample = `  moxing bench matmul --m 256 --n 2304 --k 768 --threads 2 --trans-b`

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "matmul" {
		return usagef(`want "moxing bench matmul [flags]"`)
	}
	var m, n, k, threads int
	var transA, transB bool
	var seconds float64
	fs := newFlags("bench matmul", "Times C = op(A)·op(B) (float32) through tensor.MatMulT for a few seconds and prints the\n"+
		"best rate seen, as GFLOPS (2·M·N·K per product). The last line is machine-readable:\n"+
		"matmul M=… N=… K=… threads=… GFLOPS=…", benchExample, stderr)
	fs.IntVar(&m, "m", 512, "rows of op(A) and C")
	fs.IntVar(&n, "n", 512, "columns of op(B) and C")
	fs.IntVar(&k, "k", 512, "columns of op(A), rows of op(B)")
	fs.IntVar(&threads, "threads", runtime.NumCPU(), "threads (GOMAXPROCS)")
	fs.BoolVar(&transA, "trans-a", false, "A is stored K×M")
	fs.BoolVar(&transB, "trans-b", false, "B is stored N×K (as a Linear layer's weight)")
	fs.Float64Var(&seconds, "seconds", 2, "how long to run")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if m < 1 || n < 1 || k < 1 || threads < 1 {
		return usagef("--m, --n, --k and --threads must be at least 1")
	}
	runtime.GOMAXPROCS(threads)
	rng := rand.New(rand.NewPCG(1, 2))
	sa, sb := []int{m, k}, []int{k, n}
	if transA {
		sa = []int{k, m}
	}
	if transB {
		sb = []int{n, k}
	}
	a, b := tensor.Randn(rng, sa...), tensor.Randn(rng, sb...)
	a.MatMulT(b, transA, transB) // warm up: pools, page faults

	// The best of several rounds of about a fifth of the time each: the
	// machine is shared, and the best round is the kernel's own speed.
	flops := 2 * float64(m) * float64(n) * float64(k)
	best := 0.0
	deadline := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	for round := 0; round < 5 || time.Now().Before(deadline); round++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		reps, start := 0, time.Now()
		for time.Since(start) < time.Duration(seconds*float64(time.Second)/5) || reps == 0 {
			a.MatMulT(b, transA, transB)
			reps++
		}
		best = max(best, flops*float64(reps)/time.Since(start).Seconds()/1e9)
		if round >= 20 {
			break
		}
	}
	fmt.Fprintf(stdout, "kernels %s, trans_a=%v, trans_b=%v\n", tensor.Kernels(), transA, transB)
	fmt.Fprintf(stdout, "matmul M=%d N=%d K=%d threads=%d GFLOPS=%.1f\n", m, n, k, threads, best)
	return nil
}
