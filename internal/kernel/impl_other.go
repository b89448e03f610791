//go:build !amd64 || purego

package kernel

// platformImpls returns the implementations this CPU runs beyond the
// portable one: none.
func platformImpls() []*impl { return nil }
