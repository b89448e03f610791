package kernel

// hugeMin is the smallest slice, in floats, that Floats asks huge pages
// for: 4 MB, which holds at least one whole aligned 2 MB page.
const hugeMin = 1 << 20

// Floats returns n zeroed float32s, fresh from the heap. A slice of 4 MB
// or more asks the operating system to back the whole 2 MB pages inside it
// with huge pages (Linux's transparent huge pages, which a kernel in its
// default "madvise" mode gives only to memory that asks): a training step
// streams its gradients, the optimizer's moments, activations and packing
// buffers, and with 4 KB pages every page costs a TLB miss. Where huge
// pages are off or not supported it is plain make.
//
// Meant for the buffers a training run writes every step and keeps
// (gradients, moments, arena slabs, pooled packing blocks), not for
// parameters or transient tensors: advised memory that goes back to the
// collector may be collapsed into huge pages again by the kernel after Go
// returns it, and a fresh huge page can cost far more to fault in than its
// 512 small pages (8 s a GB against 0.4 s on a VM whose host reclaims the
// guest's free memory), which a long run repays and a model loaded to
// generate or serve would not.
func Floats(n int) []float32 {
	s := make([]float32, n)
	if n >= hugeMin {
		adviseHuge(s)
	}
	return s
}
