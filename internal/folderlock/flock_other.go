//go:build !unix

package folderlock

import "os"

// flock locks nothing where flock(2) does not exist.
func flock(f *os.File, exclusive bool) error { return nil }
