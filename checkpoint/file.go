package checkpoint

import (
	"fmt"
	"io"
	"os"

	"github.com/moxing/moxing/internal/atomicfile"
	"github.com/moxing/moxing/tensor"
)

// Save writes tensors and metadata (as Write does) to the file at path,
// atomically: it writes a temporary file in the same directory, syncs it to
// disk, renames it over path and syncs the directory. Readers see either
// the old file or the new one, never a partial one. On any error before the
// rename the temporary file is removed and an existing file at path is
// untouched. The new file has mode 0644.
func Save(path string, tensors map[string]*tensor.Tensor, metadata map[string]string) error {
	return save(path, func(w io.Writer) error { return write(w, tensors, metadata) })
}

// save is Save with the content written by write, a seam for tests.
func save(path string, write func(io.Writer) error) error {
	if err := atomicfile.Write(path, write); err != nil {
		return fmt.Errorf("checkpoint: saving %s: %w", path, err)
	}
	return nil
}

// Load opens the file at path and Reads it. Its errors name the path.
func Load(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err) // names the path
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("checkpoint: %s: not a regular file", path)
	}
	file, err := read(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	return file, nil
}
