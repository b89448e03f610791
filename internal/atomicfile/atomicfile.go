// Package atomicfile writes files so that a crash or an error never leaves a
// partial file behind: the content goes to a temporary file in the same
// directory, which is synced and then renamed over the target.
package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// Write creates or replaces path (mode 0644) with what write produces,
// buffered. Readers see the old file or the new one, never a partial one. On
// any error before the rename the temporary file is removed and an existing
// file at path is left as it was. After the rename the directory is synced,
// so the rename survives a crash.
//
// Only a regular file is ever replaced: a device or a named pipe at path
// (/dev/null, a FIFO another program reads) is written to directly, and a
// symbolic link, a directory or anything else is an error naming it.
func Write(path string, write func(w io.Writer) error) (err error) {
	if st, err := os.Lstat(path); err == nil && !st.Mode().IsRegular() {
		return writeSpecial(path, st.Mode(), write)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable. Windows cannot sync a directory.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// writeSpecial writes to the device or named pipe at path, and refuses
// anything else that is not a regular file.
func writeSpecial(path string, mode os.FileMode, write func(w io.Writer) error) error {
	switch {
	case mode&os.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link: moxing writes its output only as a regular file; name the file itself", path)
	case mode&(os.ModeDevice|os.ModeCharDevice|os.ModeNamedPipe) == 0:
		return fmt.Errorf("%s is not a regular file (%v): moxing will not replace it", path, mode.Type())
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
