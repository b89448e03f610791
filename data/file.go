package data

import (
	"fmt"
	"os"
)

// OpenFile opens the regular file at path for reading. Anything else is an
// error naming it before it is opened: a folder, a device such as /dev/zero
// (endless), a FIFO (opening one waits for a writer, past Ctrl-C) or a
// socket. moxing reads its inputs more than once (a fingerprint, then the
// data), which a stream cannot serve.
func OpenFile(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		what := "not a regular file"
		if st.IsDir() {
			what = "a folder, not a file"
		}
		return nil, fmt.Errorf("%s is %s (%s): give a file", path, what, st.Mode().Type())
	}
	return os.Open(path)
}
