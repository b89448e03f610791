//go:build unix

package folderlock

import (
	"os"

	"golang.org/x/sys/unix"
)

// flock takes an exclusive or shared lock on f without waiting.
func flock(f *os.File, exclusive bool) error {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	return unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
}
