package tensor

// AttentionDropMask exposes attentionDropMask to the external tests.
var AttentionDropMask = attentionDropMask

// FreeTwice reports whether a buffer sits in the arena's free lists twice
// (it would then be lent to two tensors at once).
func (a *Arena) FreeTwice() bool {
	seen := map[*float32]bool{}
	for _, bufs := range a.free {
		for _, f := range bufs {
			p := &f.buf[:1][0]
			if seen[p] {
				return true
			}
			seen[p] = true
		}
	}
	return false
}
