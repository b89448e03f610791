package checkpoint

import (
	"fmt"
	"io"
	"os"

	"github.com/moxing/moxing/internal/atomicfile"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tensor"
)

// Save writes tensors and metadata (as Write does) to the file at path,
// atomically: it writes a temporary file in the same directory, syncs it to
// disk, renames it over path and syncs the directory. Readers see either
// the old file or the new one, never a partial one. On any error before the
// rename the temporary file is removed and an existing file at path is
// untouched. The new file has mode 0644.
func Save(path string, tensors map[string]*tensor.Tensor, metadata map[string]string) error {
	return SaveEncoded(path, tensors, metadata, nil)
}

// SaveEncoded is Save with the tensors named in enc stored as it says, as
// WriteEncoded writes them.
func SaveEncoded(path string, tensors map[string]*tensor.Tensor, metadata map[string]string, enc map[string]Encoding) error {
	return save(path, func(w io.Writer) error { return write(w, tensors, metadata, enc) })
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
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("checkpoint: %s: not a regular file", path)
	}
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
	h, err := readHeader(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	file, err := h.readTensors(nil)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	return file, nil
}

// Open opens the file at path and reads its header (see ReadHeader): the
// caller learns what the file holds, checks it, then reads the tensors it
// wants (ReadTensors, LoadParams) and closes the header. Errors name the
// path.
func Open(path string) (*Header, error) {
	// Stat before opening: opening a named pipe would wait for a writer.
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("checkpoint: %s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s: not a regular file", path)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	h, err := readHeader(f, fi.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	h.closer, h.path = f, path
	return h, nil
}

// LoadHeader reads the header of the file at path and closes it: its
// metadata and tensor shapes, no tensor data.
func LoadHeader(path string) (*Header, error) {
	h, err := Open(path)
	if err != nil {
		return nil, err
	}
	return h, h.Close()
}

// Close closes the file of a header from Open; it then reads no tensors.
func (h *Header) Close() error {
	h.r = nil
	if h.closer == nil {
		return nil
	}
	c := h.closer
	h.closer = nil
	return c.Close()
}

// SaveParams saves params under their names with metadata to path, as Save
// does: a model's weights with its card.
func SaveParams(path string, params []nn.Param, metadata map[string]string) error {
	tensors := make(map[string]*tensor.Tensor, len(params))
	for _, p := range params {
		tensors[p.Name] = p.Tensor
	}
	return Save(path, tensors, metadata)
}
