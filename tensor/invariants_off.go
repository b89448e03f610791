//go:build !invariants

package tensor

// invariants turns on the NaN check after every op and every backward
// step. Build or test with -tags invariants to enable it.
const invariants = false
