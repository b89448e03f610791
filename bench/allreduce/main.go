//go:build mpi

// Command allreduce times dist's all-reduce (moxing's MPI wrapper, in 25 MB
// buckets) on a buffer the size of GPT-2 small's gradients, beside
// MPI_Allreduce called from C on the same buffer (c/allreduce.c), in one
// mpirun job. run.sh builds both and runs them:
//
//	bench/allreduce/run.sh 2
//
// It prints seconds per all-reduce and the bus bandwidth, 2(N−1)/N × bytes
// / seconds, the figure a ring all-reduce's cost model uses.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/moxing/moxing/dist"
)

func main() {
	floats := flag.Int("floats", 124_439_808, "buffer length (default: GPT-2 small's parameters)")
	iters := flag.Int("iters", 5, "timed all-reduces, after one untimed")
	flag.Parse()
	c, err := dist.World()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buf := make([]float32, *floats)
	for i := range buf {
		buf[i] = 1
	}
	dist.AllReduceBuckets(c, buf)
	c.Barrier()
	start := time.Now()
	for range *iters {
		if err := dist.AllReduceBuckets(c, buf); err != nil {
			fmt.Fprintln(os.Stderr, err)
			c.Abort(1)
		}
	}
	c.Barrier()
	secs := time.Since(start).Seconds() / float64(*iters)
	if c.Rank() == 0 {
		n := float64(c.Size())
		fmt.Printf("go (dist, 25 MB buckets): %d ranks, %d floats (%.0f MB): %.3f s per all-reduce, bus bandwidth %.2f GB/s\n",
			c.Size(), *floats, float64(4**floats)/1e6, secs, 2*(n-1)/n*float64(4**floats)/secs/1e9)
	}
	os.Exit(dist.End(c, 0))
}
