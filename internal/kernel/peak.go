package kernel

// FMALoop runs rounds of the active implementation's peak loop on the
// calling goroutine — twelve independent chains of its widest FMA and
// nothing else, the most arithmetic a core can do — and returns the
// floating-point operations done (two per multiply-add): the denominator of
// "per cent of peak". It returns 0, doing nothing, for an implementation
// without such a loop (pure Go), whose peak is not known.
func FMALoop(rounds int) float64 {
	im := active
	if im.fmaPeak == nil || rounds <= 0 {
		return 0
	}
	im.fmaPeak(rounds)
	return 2 * 12 * float64(im.fmaLanes) * float64(rounds)
}
