//go:build mpi && cgo && !mpich

package dist

// Open MPI's compiler and linker flags (Debian: libopenmpi-dev).

// #cgo pkg-config: ompi-c
import "C"
