package checkpoint

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/moxing/moxing/tensor"
)

// FormatKey is the metadata key that says which framework's layout the
// tensors follow; Hugging Face transformers loads a safetensors file only
// when it is FormatPT.
const (
	FormatKey = "format"
	FormatPT  = "pt"
)

// Write writes tensors (all float32, dtype "F32") and metadata to w in the
// safetensors format. Tensors are laid out sorted by name and the header is
// padded with spaces so that the data starts at an 8-byte aligned offset;
// the same input always gives the same bytes. The "__metadata__" block
// always holds "format": "pt", which Hugging Face transformers requires of
// a safetensors checkpoint, unless metadata sets "format" itself. Names and
// metadata must be valid UTF-8, a tensor may not be called "__metadata__",
// and no tensor may be nil. Write does not modify or retain the tensors or
// metadata.
func Write(w io.Writer, tensors map[string]*tensor.Tensor, metadata map[string]string) error {
	if err := write(w, tensors, metadata); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

func write(w io.Writer, tensors map[string]*tensor.Tensor, metadata map[string]string) error {
	if _, ok := metadata[FormatKey]; !ok {
		metadata = maps.Clone(metadata)
		if metadata == nil {
			metadata = map[string]string{}
		}
		metadata[FormatKey] = FormatPT
	}
	names := make([]string, 0, len(tensors))
	for name := range tensors {
		names = append(names, name)
	}
	slices.Sort(names)
	header, err := encodeHeader(names, tensors, metadata)
	if err != nil {
		return err
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	buf := make([]byte, 0, chunkSize)
	for _, name := range names {
		for _, v := range tensors[name].Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) == cap(buf) {
				if _, err := w.Write(buf); err != nil {
					return fmt.Errorf("tensor %q: %w", name, err)
				}
				buf = buf[:0]
			}
		}
	}
	if len(buf) > 0 {
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// encodeHeader returns the JSON header for the named tensors, padded with
// spaces to a multiple of 8 bytes.
func encodeHeader(names []string, tensors map[string]*tensor.Tensor, metadata map[string]string) ([]byte, error) {
	h := []byte{'{'}
	if len(metadata) > 0 {
		for k, v := range metadata {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, fmt.Errorf("%s: %q: key or value is not valid UTF-8", metadataKey, k)
			}
		}
		m, err := json.Marshal(metadata) // keys sorted
		if err != nil {
			return nil, fmt.Errorf("%s: %w", metadataKey, err)
		}
		h = appendString(h, metadataKey)
		h = append(h, ':')
		h = append(h, m...)
	}
	var offset int64
	for _, name := range names {
		t := tensors[name]
		switch {
		case name == metadataKey:
			return nil, errors.New(`a tensor may not be called "__metadata__"`)
		case !utf8.ValidString(name):
			return nil, fmt.Errorf("tensor %q: name is not valid UTF-8", name)
		case t == nil:
			return nil, fmt.Errorf("tensor %q is nil", name)
		}
		shape := t.Shape()
		numel := 1
		for _, d := range shape {
			numel *= d
		}
		if numel != len(t.Data) {
			return nil, fmt.Errorf("tensor %q: %d values for shape %v", name, len(t.Data), shape)
		}
		if len(h) > 1 {
			h = append(h, ',')
		}
		h = appendString(h, name)
		h = append(h, `:{"dtype":"F32","shape":[`...)
		for i, d := range shape {
			if i > 0 {
				h = append(h, ',')
			}
			h = strconv.AppendInt(h, int64(d), 10)
		}
		end := offset + 4*int64(numel)
		h = fmt.Appendf(h, `],"data_offsets":[%d,%d]}`, offset, end)
		offset = end
	}
	h = append(h, '}')
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	return h, nil
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}
