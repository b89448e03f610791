//go:build invariants

package tensor

// invariants turns on the NaN check after every op and every backward
// step (this build has -tags invariants).
const invariants = true
