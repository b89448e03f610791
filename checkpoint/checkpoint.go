// Package checkpoint reads and writes safetensors files
// (https://github.com/huggingface/safetensors), moxing's checkpoint format.
//
// A safetensors file is an 8-byte little-endian uint64 N, then N bytes of
// UTF-8 JSON header, then a data buffer. The header maps each tensor name to
// {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, with
// offsets relative to the start of the data buffer, and may hold a
// "__metadata__" object of string to string. Data is little-endian and
// row-major; the tensors tile the buffer with no gaps or overlaps.
//
// Write and Save write float32 ("F32") tensors; Read and Load also accept
// F16, BF16 and F64 and convert them to float32. The reader treats its input
// as hostile: it validates the header against the file size before it
// allocates, and reports every problem as an error, never a panic.
package checkpoint

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/moxing/moxing/tensor"
)

// maxHeaderLen bounds the JSON header a reader accepts.
const maxHeaderLen = 100 << 20

// metadataKey is the header key of the metadata block.
const metadataKey = "__metadata__"

// File is the content of a safetensors file.
type File struct {
	Metadata map[string]string         // the "__metadata__" block (may be empty, never nil after Read)
	Tensors  map[string]*tensor.Tensor // every tensor, converted to float32
}

// Read parses a safetensors file of the given size from r. It validates the
// whole header (dtypes, shapes, offsets, and that the tensors tile the data
// buffer exactly) before it reads any tensor data, so memory use is bounded
// by the size of the file. Tensors stored as F16, BF16 or F64 are converted
// to float32; other dtypes are an error. Errors start with "checkpoint:" and
// name the tensor or field at fault. Read is safe on untrusted input.
func Read(r io.ReaderAt, size int64) (*File, error) {
	h, err := ReadHeader(r, size)
	if err != nil {
		return nil, err
	}
	return h.ReadTensors()
}

// Header is a validated safetensors header: the metadata and each tensor's
// name, dtype and shape, read without any tensor data. ReadTensors then
// reads the data from the same reader, which must stay open until then.
type Header struct {
	Metadata map[string]string // the "__metadata__" block (never nil)
	Tensors  []TensorInfo      // in data order

	r       io.ReaderAt
	closer  io.Closer // the file of Open
	path    string    // the path of Open, for errors
	start   int64     // where the data buffer begins
	entries []entry
}

// TensorInfo describes one tensor of a header.
type TensorInfo struct {
	Name  string
	DType string // as stored: "F32", "F16", "BF16", "F64" or "Q8_0" (see Encoding)
	Shape []int
}

// entry is one validated tensor of a header.
type entry struct {
	name       string
	dtype      dtype
	shape      []int
	numel      int
	begin, end int64
	scale      *entry // a Q8_0 tensor's scales (its own data is the I8 values)
	axis       int    // the dimension a Q8_0 tensor's blocks run along
}

// ReadHeader reads and validates the header of a safetensors file of the
// given size from r (as Read does) and reads no tensor data: it is how a
// caller learns what a file holds (its metadata, its tensors' names and
// shapes) and checks it before any large read or allocation. Safe on
// untrusted input; the header itself is bounded to 100 MiB.
func ReadHeader(r io.ReaderAt, size int64) (*Header, error) {
	h, err := readHeader(r, size)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return h, nil
}

func readHeader(r io.ReaderAt, size int64) (*Header, error) {
	if size < 8 {
		return nil, fmt.Errorf("not a safetensors file: %d bytes, less than the 8-byte header length", max(size, 0))
	}
	var prefix [8]byte
	if err := readFull(r, prefix[:], 0); err != nil {
		return nil, fmt.Errorf("reading header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(prefix[:])
	if n > maxHeaderLen {
		return nil, fmt.Errorf("not a safetensors file: header length %d is over the %d-byte limit", n, maxHeaderLen)
	}
	if n > uint64(size-8) {
		return nil, fmt.Errorf("not a safetensors file (or truncated): header length %d, but only %d bytes follow", n, size-8)
	}
	// The reader must really hold size bytes before size bounds any
	// allocation: one byte, the last, is the only read past the header.
	if err := readFull(r, prefix[:1], size-1); err != nil {
		return nil, fmt.Errorf("file is shorter than its stated size %d: %w", size, err)
	}
	header := make([]byte, n)
	if err := readFull(r, header, 8); err != nil {
		return nil, fmt.Errorf("reading header: %w", err)
	}
	bufLen := size - 8 - int64(n)
	metadata, entries, err := parseHeader(header, bufLen)
	if err != nil {
		return nil, err
	}
	h := &Header{Metadata: metadata, r: r, start: 8 + int64(n), entries: entries}
	for _, e := range entries {
		h.Tensors = append(h.Tensors, TensorInfo{Name: e.name, DType: e.dtype.name, Shape: e.shape})
	}
	return h, nil
}

// ReadTensors reads every tensor of the header, converted to float32. A
// Header from LoadHeader has no reader and returns an error.
func (h *Header) ReadTensors() (*File, error) {
	f, err := h.readTensors(nil)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return f, nil
}

// readTensors reads the tensors whose names keep accepts (all when keep is
// nil).
func (h *Header) readTensors(keep func(name string) bool) (*File, error) {
	if h.r == nil {
		return nil, errors.New("the header's file is closed")
	}
	tensors := make(map[string]*tensor.Tensor, len(h.entries))
	for _, e := range h.entries {
		if keep != nil && !keep(e.name) {
			continue
		}
		var data []float32
		var err error
		if e.scale != nil {
			data, err = readQ8(h.r, h.start, e)
		} else {
			data, err = readData(h.r, h.start+e.begin, e.dtype, e.numel)
		}
		if err != nil {
			if h.path != "" {
				return nil, fmt.Errorf("%s: tensor %q: reading data: %w", h.path, e.name, err)
			}
			return nil, fmt.Errorf("tensor %q: reading data: %w", e.name, err)
		}
		tensors[e.name] = tensor.New(data, e.shape...)
	}
	return &File{Metadata: h.Metadata, Tensors: tensors}, nil
}

// parseHeader checks the JSON header against a data buffer of bufLen bytes
// and returns the metadata and the tensors in data order.
func parseHeader(header []byte, bufLen int64) (map[string]string, []entry, error) {
	if len(header) == 0 || header[0] != '{' {
		return nil, nil, errors.New("not a safetensors file: header does not start with '{'")
	}
	if !utf8.Valid(header) {
		return nil, nil, errors.New("header is not valid UTF-8")
	}
	var raw json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		return nil, nil, fmt.Errorf("header is not valid JSON: %w", err)
	}
	members, err := objectMembers(header)
	if err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	metadata := map[string]string{}
	var entries []entry
	for _, m := range members {
		if m.key == metadataKey {
			if metadata, err = parseMetadata(m.value); err != nil {
				return nil, nil, err
			}
			continue
		}
		e, err := parseEntry(m.key, m.value, bufLen)
		if err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %w", m.key, err)
		}
		entries = append(entries, e)
	}

	// The tensors must tile [0, bufLen) exactly, as the reference
	// implementation checks: sorted by offsets, each starts where the
	// previous one ends.
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end), cmp.Compare(a.name, b.name))
	})
	var pos int64
	for i, e := range entries {
		if e.begin < pos {
			p := entries[i-1]
			return nil, nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] overlap tensor %q at [%d, %d]", e.name, e.begin, e.end, p.name, p.begin, p.end)
		}
		if e.begin > pos {
			return nil, nil, fmt.Errorf("data buffer has a hole: bytes [%d, %d) before tensor %q belong to no tensor", pos, e.begin, e.name)
		}
		pos = e.end
	}
	if pos != bufLen {
		return nil, nil, fmt.Errorf("data buffer has %d trailing bytes: bytes [%d, %d) belong to no tensor", bufLen-pos, pos, bufLen)
	}
	if entries, err = pairScales(entries); err != nil {
		return nil, nil, err
	}
	return metadata, entries, nil
}

func parseMetadata(value json.RawMessage) (map[string]string, error) {
	metadata := map[string]string{}
	if string(value) == "null" {
		return metadata, nil
	}
	members, err := objectMembers(value)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", metadataKey, err)
	}
	for _, m := range members {
		var s string
		if m.value[0] != '"' || json.Unmarshal(m.value, &s) != nil {
			return nil, fmt.Errorf("%s: value of %q is %s, not a string", metadataKey, m.key, kindOf(m.value))
		}
		metadata[m.key] = s
	}
	return metadata, nil
}

// parseEntry checks one tensor's header entry against a data buffer of
// bufLen bytes.
func parseEntry(name string, value json.RawMessage, bufLen int64) (entry, error) {
	members, err := objectMembers(value)
	if err != nil {
		return entry{}, err
	}
	fields := map[string]json.RawMessage{}
	for _, m := range members {
		fields[m.key] = m.value // unknown fields are ignored, as the reference does
	}
	for _, k := range []string{"dtype", "shape", "data_offsets"} {
		if fields[k] == nil {
			return entry{}, fmt.Errorf("header entry has no %q", k)
		}
	}

	var dtypeName string
	if fields["dtype"][0] != '"' || json.Unmarshal(fields["dtype"], &dtypeName) != nil {
		return entry{}, fmt.Errorf("dtype is %s, not a string", kindOf(fields["dtype"]))
	}
	dt, err := parseDtype(dtypeName)
	if err != nil {
		return entry{}, err
	}

	var dims, offsets []int64
	if fields["shape"][0] != '[' || json.Unmarshal(fields["shape"], &dims) != nil {
		return entry{}, fmt.Errorf("shape %s is not an array of integers", clip(fields["shape"]))
	}
	if fields["data_offsets"][0] != '[' || json.Unmarshal(fields["data_offsets"], &offsets) != nil || len(offsets) != 2 {
		return entry{}, fmt.Errorf("data_offsets %s is not an array of two integers", clip(fields["data_offsets"]))
	}

	numel := int64(1)
	for _, d := range dims {
		if d < 0 {
			return entry{}, fmt.Errorf("shape %v has a negative dimension", dims)
		}
		if d != 0 && numel > math.MaxInt64/d {
			return entry{}, fmt.Errorf("shape %v: element count overflows", dims)
		}
		numel *= d
	}
	if numel > math.MaxInt64/dt.size || numel > math.MaxInt {
		return entry{}, fmt.Errorf("shape %v of %s: byte count overflows", dims, dt.name)
	}
	begin, end := offsets[0], offsets[1]
	switch {
	case begin < 0 || end < 0:
		return entry{}, fmt.Errorf("data_offsets [%d, %d] are negative", begin, end)
	case begin > end:
		return entry{}, fmt.Errorf("data_offsets [%d, %d] begin after they end", begin, end)
	case end > bufLen:
		return entry{}, fmt.Errorf("data_offsets [%d, %d] run past the end of the %d-byte data buffer", begin, end, bufLen)
	case end-begin != numel*dt.size:
		return entry{}, fmt.Errorf("data_offsets [%d, %d] hold %d bytes, shape %v of %s needs %d", begin, end, end-begin, dims, dt.name, numel*dt.size)
	}
	// numel*size ≤ bufLen, so every dimension fits in an int.
	shape := make([]int, len(dims))
	for i, d := range dims {
		shape[i] = int(d)
	}
	return entry{name: name, dtype: dt, shape: shape, numel: int(numel), begin: begin, end: end}, nil
}

// member is one key and value of a JSON object, in file order.
type member struct {
	key   string
	value json.RawMessage
}

// objectMembers returns the members of the JSON object data (which must be
// valid JSON), rejecting duplicate keys: encoding/json would silently keep
// the last one, so two readers could disagree on the content.
func objectMembers(data []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%s is not a JSON object", clip(data))
	}
	var members []member
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string) // object keys are always strings
		if seen[key] {
			return nil, fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, fmt.Errorf("key %q: %w", key, err)
		}
		members = append(members, member{key, value})
	}
	return members, nil
}

// kindOf names the JSON type of a valid JSON value.
func kindOf(v json.RawMessage) string {
	switch v[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// clip returns v for an error message, shortened if long.
func clip(v []byte) string {
	if len(v) > 40 {
		return string(v[:40]) + "…"
	}
	return string(v)
}

// readFull reads len(p) bytes at off; a short read is io.ErrUnexpectedEOF.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil // a ReaderAt may report io.EOF with a full read
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}
