//go:build mpi && cgo && mpich

package dist

// MPICH's compiler and linker flags (Debian: libmpich-dev), with -tags mpi,mpich.

// #cgo pkg-config: mpich
import "C"
