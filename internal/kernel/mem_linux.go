//go:build linux

package kernel

import (
	"syscall"
	"unsafe"
)

// adviseHuge asks Linux to back the 2 MB pages wholly inside s with huge
// pages (madvise MADV_HUGEPAGE). Best effort: a kernel without
// transparent huge pages, or with them set to "never", declines, and s
// works the same.
func adviseHuge(s []float32) {
	const huge = 2 << 20
	base := unsafe.Pointer(unsafe.SliceData(s))
	p := uintptr(base)
	lo := (p + huge - 1) &^ (huge - 1)
	hi := (p + uintptr(len(s))*4) &^ (huge - 1)
	if hi <= lo {
		return
	}
	_ = syscall.Madvise(unsafe.Slice((*byte)(unsafe.Add(base, lo-p)), hi-lo), syscall.MADV_HUGEPAGE)
}
