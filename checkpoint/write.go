package checkpoint

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
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
	return WriteEncoded(w, tensors, metadata, nil)
}

// WriteEncoded is Write with the tensors named in enc stored as it says
// (see Encoding): float16, bfloat16 or GGML's Q8_0 blocks. Read converts
// them back to float32.
func WriteEncoded(w io.Writer, tensors map[string]*tensor.Tensor, metadata map[string]string, enc map[string]Encoding) error {
	if err := write(w, tensors, metadata, enc); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

func write(w io.Writer, tensors map[string]*tensor.Tensor, metadata map[string]string, enc map[string]Encoding) error {
	if _, ok := metadata[FormatKey]; !ok {
		metadata = maps.Clone(metadata)
		if metadata == nil {
			metadata = map[string]string{}
		}
		metadata[FormatKey] = FormatPT
	}
	for name := range enc {
		if tensors[name] == nil {
			return fmt.Errorf("tensor %q: an encoding for a tensor there is not", name)
		}
	}
	all, err := storeAll(tensors, enc)
	if err != nil {
		return err
	}
	header, err := encodeHeader(all, metadata)
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
	for _, t := range all {
		if err := t.put(buf, func(b []byte) error { _, err := w.Write(b); return err }); err != nil {
			return fmt.Errorf("tensor %q: %w", t.name, err)
		}
	}
	return nil
}

// encodeHeader returns the JSON header for the tensors, in their order,
// padded with spaces to a multiple of 8 bytes.
func encodeHeader(all []stored, metadata map[string]string) ([]byte, error) {
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
	for _, t := range all {
		if len(h) > 1 {
			h = append(h, ',')
		}
		h = appendString(h, t.name)
		h = fmt.Appendf(h, `:{"dtype":%q,"shape":[`, t.dtype)
		for i, d := range t.shape {
			if i > 0 {
				h = append(h, ',')
			}
			h = strconv.AppendInt(h, int64(d), 10)
		}
		end := offset + t.bytes
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
