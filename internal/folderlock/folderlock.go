// Package folderlock takes an advisory lock on a folder, so that two
// processes (two training runs, two corpus preparations) never write the
// same folder at once. The lock is flock(2) on the file .lock in the folder,
// which holds the owner's process id for the message the other one gets.
// The operating system releases it when the process ends, however it
// ends.
package folderlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Name is the lock file's name in a locked folder.
const Name = ".lock"

// ErrInUse is wrapped by the error of Lock when another process (or
// another Lock in this one) holds the folder.
var ErrInUse = errors.New("in use")

// Lock locks dir, which must exist, for writing, without waiting: it
// fails with an error wrapping ErrInUse, naming the process that holds it,
// when the folder is locked already (for reading or writing). The
// returned unlock releases it.
func Lock(dir string) (unlock func() error, err error) { return lock(dir, true) }

// LockShared locks dir for reading: any number of readers hold it at once,
// and a writer (Lock) waits for none of them: it fails.
func LockShared(dir string) (unlock func() error, err error) { return lock(dir, false) }

func lock(dir string, exclusive bool) (unlock func() error, err error) {
	path := filepath.Join(dir, Name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil && !exclusive {
		// A reader of a folder it may not write (a shared, read-only data
		// folder): lock the lock file if it has one, else no writer can
		// be at work there either.
		if f, err = os.Open(path); errors.Is(err, os.ErrNotExist) {
			if st, serr := os.Stat(dir); serr == nil && st.IsDir() {
				return func() error { return nil }, nil
			}
		}
	}
	if err != nil {
		return nil, err
	}
	if err := flock(f, exclusive); err != nil {
		owner, _ := os.ReadFile(path)
		f.Close()
		if pid := strings.TrimSpace(string(owner)); pid != "" {
			return nil, fmt.Errorf("%s is %w by process %s", dir, ErrInUse, pid)
		}
		return nil, fmt.Errorf("%s is %w by another process", dir, ErrInUse)
	}
	if !exclusive {
		return f.Close, nil
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() error {
		f.Truncate(0)
		return f.Close() // closing releases the lock
	}, nil
}
