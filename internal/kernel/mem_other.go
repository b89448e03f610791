//go:build !linux

package kernel

// adviseHuge does nothing where there is no madvise(MADV_HUGEPAGE).
func adviseHuge([]float32) {}
