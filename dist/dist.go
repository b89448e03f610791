// Package dist is collective communication for data-parallel training: a
// Comm joins the processes (ranks) of one job, which all-reduce their
// gradients, broadcast rank 0's weights and wait for each other.
//
// The default build has one process (World returns rank 0 of 1) and no
// cgo. Built with -tags mpi, World joins the job mpirun, srun or an MPIJob
// started, through MPI's C API (Open MPI; -tags mpi,mpich for MPICH). Local
// runs n ranks as goroutines of one process, for tests.
package dist

import (
	"encoding/binary"
	"fmt"
	"os"
)

// Comm is one rank's view of a job. Every rank must make the same
// collective calls (AllReduce, Broadcast, Barrier) in the same order with
// buffers of the same length, or the job hangs. A Comm is used by one
// goroutine at a time.
type Comm interface {
	Rank() int      // this process's rank, 0 ≤ Rank < Size
	Size() int      // the ranks in the job
	LocalRank() int // this process's rank among those on its machine
	// AllReduce replaces buf, on every rank, with the element-wise sum of
	// every rank's buf. Every rank gets the same bits.
	AllReduce(buf []float32) error
	// Broadcast copies root's buf into every other rank's buf.
	Broadcast(buf []byte, root int) error
	// Barrier returns once every rank has called it.
	Barrier() error
	// Abort ends the whole job with the exit code, from any rank: the
	// others stop too, instead of waiting for this one forever.
	Abort(code int)
	// Close leaves the job (MPI_Finalize). Call it once, at the end.
	Close() error
}

// Single is a job of one process: rank 0 of 1, whose collectives do nothing.
type Single struct{}

func (Single) Rank() int                   { return 0 }
func (Single) Size() int                   { return 1 }
func (Single) LocalRank() int              { return 0 }
func (Single) AllReduce([]float32) error   { return nil }
func (Single) Broadcast([]byte, int) error { return nil }
func (Single) Barrier() error              { return nil }
func (Single) Abort(code int)              { os.Exit(code) }
func (Single) Close() error                { return nil }

// Or returns c, or Single when c is nil.
func Or(c Comm) Comm {
	if c == nil {
		return Single{}
	}
	return c
}

// BucketFloats is how many float32 AllReduceBuckets sums per call: 25 MB,
// the bucket size of PyTorch's DistributedDataParallel.
const BucketFloats = 25 << 20 / 4

// AllReduceBuckets all-reduces buf in pieces of at most BucketFloats, so
// that no call passes MPI's int count and a slow link starts on the first
// piece early.
func AllReduceBuckets(c Comm, buf []float32) error {
	for len(buf) > 0 {
		n := min(len(buf), BucketFloats)
		if err := c.AllReduce(buf[:n]); err != nil {
			return err
		}
		buf = buf[n:]
	}
	return nil
}

// BroadcastBlob sends root's blob to every rank and returns it there: the
// length first, then the bytes. Other ranks pass nil.
func BroadcastBlob(c Comm, blob []byte, root int) ([]byte, error) {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(blob)))
	if err := c.Broadcast(n[:], root); err != nil {
		return nil, err
	}
	size := binary.LittleEndian.Uint64(n[:])
	if size > 1<<40 {
		return nil, fmt.Errorf("dist: a broadcast of %d bytes", size)
	}
	if c.Rank() != root {
		blob = make([]byte, size)
	}
	if err := c.Broadcast(blob, root); err != nil {
		return nil, err
	}
	return blob, nil
}

// End leaves the job c (nil: none was joined) when a command ends with the
// exit code: a rank that failed (code ≠ 0) in a job of several aborts them
// all, since the others would wait for it forever; otherwise it closes c.
// It returns the code.
func End(c Comm, code int) int {
	if c == nil {
		return code
	}
	if code != 0 && c.Size() > 1 {
		c.Abort(code)
	}
	if err := c.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "moxing: %v\n", err)
		return max(code, 1)
	}
	return code
}
