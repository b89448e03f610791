package kernel

// hugeMin is the smallest slice, in floats, that Floats asks huge pages
// for: 4 MB, which holds at least one whole aligned 2 MB page.
const hugeMin = 1 << 20

// Floats returns n zeroed float32s, fresh from the heap. A slice of 4 MB
// or more asks the operating system to back the whole 2 MB pages inside it
// with huge pages (Linux's transparent huge pages, which a kernel in its
// default "madvise" mode gives only to memory that asks): weights, their
// gradients, the optimizer's moments, activations and packing buffers are
// streamed, and read a row apart, and with 4 KB pages every page costs a
// TLB miss. Where huge pages are off or not supported it is plain make.
//
// Meant for buffers that live long (parameters, made by tensor.Zeros, their
// gradients, moments, arena slabs, pooled packing blocks): advised memory
// that goes back to the collector may be collapsed into huge pages again
// by the kernel after Go returns it, so an advised slice freed every step
// could hold more memory than its size.
func Floats(n int) []float32 {
	s := make([]float32, n)
	if n >= hugeMin {
		adviseHuge(s)
	}
	return s
}
