//go:build mpi && !cgo

package dist

// -tags mpi wraps MPI's C library through cgo: build with CGO_ENABLED=1
// and Open MPI's headers installed (Debian: apt-get install
// libopenmpi-dev openmpi-bin), or without the tag for one process.
var _ = dist_tags_mpi_needs_cgo__build_with_CGO_ENABLED_1_and_libopenmpi_dev
