//go:build mpi && cgo

package dist

// The MPI wrapper: every C type and call of the package is in this file.
// MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, …) are macros that cgo cannot
// always use, so small C functions take them.

/*
#include <mpi.h>

static int mx_init(int *provided) { return MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, provided); }
static int mx_initialized(int *flag) { return MPI_Initialized(flag); }
static int mx_rank(int *r) { return MPI_Comm_rank(MPI_COMM_WORLD, r); }
static int mx_size(int *n) { return MPI_Comm_size(MPI_COMM_WORLD, n); }
static int mx_local_rank(int *r) {
	MPI_Comm node;
	int err = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
	if (err != MPI_SUCCESS) return err;
	err = MPI_Comm_rank(node, r);
	MPI_Comm_free(&node);
	return err;
}
static int mx_allreduce(float *buf, int n) { return MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); }
static int mx_bcast(void *buf, int n, int root) { return MPI_Bcast(buf, n, MPI_BYTE, root, MPI_COMM_WORLD); }
static int mx_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }
static int mx_abort(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }
static int mx_finalize(void) { return MPI_Finalize(); }
static int mx_serialized(void) { return MPI_THREAD_SERIALIZED; }
static void mx_error(int code, char *msg, int *n) { MPI_Error_string(code, msg, n); }
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// maxCount is the most elements one MPI call takes (its count is a C int).
const maxCount = 1<<31 - 1

var (
	worldOnce sync.Once
	world     *mpiComm
	worldErr  error
)

// World joins the MPI job this process was started in (MPI_Init_thread at
// the first call, asking for MPI_THREAD_SERIALIZED: goroutines move between
// threads, and calls never overlap). A process started without mpirun is
// rank 0 of 1.
func World() (Comm, error) {
	worldOnce.Do(func() {
		var provided C.int
		if err := check(C.mx_init(&provided)); err != nil {
			worldErr = fmt.Errorf("dist: MPI_Init_thread: %w", err)
			return
		}
		if provided < C.mx_serialized() {
			worldErr = fmt.Errorf("dist: this MPI gives thread level %d, below MPI_THREAD_SERIALIZED (%d)", provided, C.mx_serialized())
			return
		}
		c := &mpiComm{}
		var r, n, local C.int
		for _, err := range []error{check(C.mx_rank(&r)), check(C.mx_size(&n)), check(C.mx_local_rank(&local))} {
			if err != nil {
				worldErr = fmt.Errorf("dist: %w", err)
				return
			}
		}
		c.rank, c.size, c.local = int(r), int(n), int(local)
		world = c
	})
	if worldErr != nil {
		return nil, worldErr
	}
	return world, nil
}

type mpiComm struct {
	mu                sync.Mutex // one call at a time
	rank, size, local int
}

func (c *mpiComm) Rank() int      { return c.rank }
func (c *mpiComm) Size() int      { return c.size }
func (c *mpiComm) LocalRank() int { return c.local }

func (c *mpiComm) AllReduce(buf []float32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(buf) > 0 {
		n := min(len(buf), maxCount)
		if err := check(C.mx_allreduce((*C.float)(unsafe.Pointer(&buf[0])), C.int(n))); err != nil {
			return fmt.Errorf("dist: MPI_Allreduce: %w", err)
		}
		buf = buf[n:]
	}
	return nil
}

func (c *mpiComm) Broadcast(buf []byte, root int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(buf) > 0 {
		n := min(len(buf), maxCount)
		if err := check(C.mx_bcast(unsafe.Pointer(&buf[0]), C.int(n), C.int(root))); err != nil {
			return fmt.Errorf("dist: MPI_Bcast: %w", err)
		}
		buf = buf[n:]
	}
	return nil
}

func (c *mpiComm) Barrier() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := check(C.mx_barrier()); err != nil {
		return fmt.Errorf("dist: MPI_Barrier: %w", err)
	}
	return nil
}

func (c *mpiComm) Abort(code int) { C.mx_abort(C.int(code)) }

func (c *mpiComm) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := check(C.mx_finalize()); err != nil {
		return fmt.Errorf("dist: MPI_Finalize: %w", err)
	}
	return nil
}

// check turns an MPI error code into an error with MPI's message.
func check(code C.int) error {
	if code == C.MPI_SUCCESS {
		return nil
	}
	var msg [C.MPI_MAX_ERROR_STRING]C.char
	var n C.int
	C.mx_error(code, &msg[0], &n)
	return fmt.Errorf("MPI error %d: %s", int(code), C.GoStringN(&msg[0], n))
}
