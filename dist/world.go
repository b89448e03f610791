//go:build !mpi

package dist

// World returns this process's job: without -tags mpi, always one process.
func World() (Comm, error) { return Single{}, nil }
