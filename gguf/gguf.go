// Package gguf reads and writes GGUF files (version 3, little-endian), the
// model format of llama.cpp: a header, metadata as typed key-value pairs,
// a table of tensors (name, shape, storage type, offset), and the tensors'
// data, aligned. It knows the format, not the models: models/gpt maps
// GPT-2 to it.
//
// Read validates the header, every key and value, and the tensor table
// against the file's size before it allocates anything in proportion to
// what the file claims, so a hostile file is an error, not a crash.
package gguf

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/moxing/moxing/quant"
)

// Magic is the first four bytes of a GGUF file.
const Magic = "GGUF"

// DefaultAlignment is the alignment of tensor data when the metadata has
// no general.alignment.
const DefaultAlignment = 32

// KV is one metadata pair. Value is one of uint8, int8, uint16, int16,
// uint32, int32, uint64, int64, float32, float64, bool, string, or a slice
// of one of them (a GGUF array).
type KV struct {
	Key   string
	Value any
}

// Tensor is one entry of the tensor table and, when written, its data.
type Tensor struct {
	Name string
	// Dims is the shape in GGML's order: Dims[0] is the length of a row
	// (the fastest-varying index), so a (rows, cols) matrix is {cols, rows}.
	Dims []uint64
	Type quant.Type
	// Offset is where the data starts, from the start of the data section
	// (set by Read; Write computes it).
	Offset uint64
	// Data is the tensor's bytes, Type.Bytes(elements) of them (for Write;
	// Read leaves it nil: see File.TensorData).
	Data []byte
}

// Elements is the number of values the tensor holds.
func (t *Tensor) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// File is a GGUF file's header: its metadata and tensor table.
type File struct {
	Version    uint32
	KV         []KV
	Tensors    []Tensor
	Alignment  uint64
	DataOffset int64 // where the data section starts in the file

	r    io.ReaderAt
	size int64
}

// Get returns the value of key, or nil.
func (f *File) Get(key string) any {
	for _, kv := range f.KV {
		if kv.Key == key {
			return kv.Value
		}
	}
	return nil
}

// Tensor returns the table entry named name, or nil.
func (f *File) Tensor(name string) *Tensor {
	for i := range f.Tensors {
		if f.Tensors[i].Name == name {
			return &f.Tensors[i]
		}
	}
	return nil
}

// TensorData reads t's bytes from the file.
func (f *File) TensorData(t *Tensor) ([]byte, error) {
	n := t.Type.Bytes(int(t.Elements()))
	buf := make([]byte, n)
	if _, err := f.r.ReadAt(buf, f.DataOffset+int64(t.Offset)); err != nil {
		return nil, fmt.Errorf("gguf: tensor %s: %w", t.Name, err)
	}
	return buf, nil
}

// The value types of GGUF metadata.
const (
	typeUint8 uint32 = iota
	typeInt8
	typeUint16
	typeInt16
	typeUint32
	typeInt32
	typeFloat32
	typeBool
	typeString
	typeArray
	typeUint64
	typeInt64
	typeFloat64
)

// Limits on what a file may claim, checked before anything is allocated.
const (
	maxTensors = 1 << 16
	maxKV      = 1 << 16
	maxDims    = 4 // GGML_MAX_DIMS
	maxString  = 1 << 20
)

// reader reads a GGUF header from r, never past size.
type reader struct {
	r    io.ReaderAt
	off  int64
	size int64
	buf  [8]byte
}

func (d *reader) read(n int64) ([]byte, error) {
	if n > d.size-d.off {
		return nil, fmt.Errorf("at byte %d: %d bytes claimed, %d left in the file", d.off, n, d.size-d.off)
	}
	var b []byte
	if n <= 8 {
		b = d.buf[:n]
	} else {
		b = make([]byte, n)
	}
	if _, err := d.r.ReadAt(b, d.off); err != nil {
		return nil, fmt.Errorf("at byte %d: %w", d.off, err)
	}
	d.off += n
	return b, nil
}

func (d *reader) u32() (uint32, error) {
	b, err := d.read(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *reader) u64() (uint64, error) {
	b, err := d.read(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

func (d *reader) str() (string, error) {
	n, err := d.u64()
	if err != nil {
		return "", err
	}
	if n > maxString {
		return "", fmt.Errorf("at byte %d: a string of %d bytes", d.off-8, n)
	}
	b, err := d.read(int64(n))
	return string(b), err
}

// scalarSize is the size of a scalar value type, 0 for another.
func scalarSize(t uint32) int64 {
	switch t {
	case typeUint8, typeInt8, typeBool:
		return 1
	case typeUint16, typeInt16:
		return 2
	case typeUint32, typeInt32, typeFloat32:
		return 4
	case typeUint64, typeInt64, typeFloat64:
		return 8
	}
	return 0
}

func (d *reader) scalar(t uint32) (any, error) {
	b, err := d.read(scalarSize(t))
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	switch t {
	case typeUint8:
		return b[0], nil
	case typeInt8:
		return int8(b[0]), nil
	case typeBool:
		if b[0] > 1 {
			return nil, fmt.Errorf("at byte %d: a bool of %d", d.off-1, b[0])
		}
		return b[0] == 1, nil
	case typeUint16:
		return le.Uint16(b), nil
	case typeInt16:
		return int16(le.Uint16(b)), nil
	case typeUint32:
		return le.Uint32(b), nil
	case typeInt32:
		return int32(le.Uint32(b)), nil
	case typeFloat32:
		return math.Float32frombits(le.Uint32(b)), nil
	case typeUint64:
		return le.Uint64(b), nil
	case typeInt64:
		return int64(le.Uint64(b)), nil
	}
	return math.Float64frombits(le.Uint64(b)), nil
}

func (d *reader) value(t uint32) (any, error) {
	switch {
	case t == typeString:
		return d.str()
	case scalarSize(t) > 0:
		return d.scalar(t)
	case t != typeArray:
		return nil, fmt.Errorf("at byte %d: value type %d", d.off-4, t)
	}
	et, err := d.u32()
	if err != nil {
		return nil, err
	}
	n, err := d.u64()
	if err != nil {
		return nil, err
	}
	// Each element takes at least a byte (a string, 8): the file must hold them.
	least := max(scalarSize(et), 1)
	if et == typeString {
		least = 8
	}
	if et == typeArray || (et != typeString && scalarSize(et) == 0) {
		return nil, fmt.Errorf("at byte %d: an array of value type %d", d.off-12, et)
	}
	if n > uint64(d.size-d.off)/uint64(least) {
		return nil, fmt.Errorf("at byte %d: an array of %d elements, more than the file holds", d.off-8, n)
	}
	if et == typeString {
		out := make([]string, n)
		for i := range out {
			if out[i], err = d.str(); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	switch et {
	case typeUint8:
		return scalars[uint8](d, et, n)
	case typeInt8:
		return scalars[int8](d, et, n)
	case typeUint16:
		return scalars[uint16](d, et, n)
	case typeInt16:
		return scalars[int16](d, et, n)
	case typeUint32:
		return scalars[uint32](d, et, n)
	case typeInt32:
		return scalars[int32](d, et, n)
	case typeUint64:
		return scalars[uint64](d, et, n)
	case typeInt64:
		return scalars[int64](d, et, n)
	case typeFloat32:
		return scalars[float32](d, et, n)
	case typeFloat64:
		return scalars[float64](d, et, n)
	}
	return scalars[bool](d, et, n)
}

// scalars reads an array of n scalars of type et, whose Go type is T.
func scalars[T any](d *reader, et uint32, n uint64) ([]T, error) {
	out := make([]T, n)
	for i := range out {
		v, err := d.scalar(et)
		if err != nil {
			return nil, err
		}
		out[i] = v.(T)
	}
	return out, nil
}

// Read reads the header of the GGUF file r of size bytes and checks it:
// the magic and version, every metadata pair, and every tensor's name,
// shape, type and data range (aligned, inside the file, not overlapping
// another's). Tensor data is read later, by TensorData.
func Read(r io.ReaderAt, size int64) (*File, error) {
	f, err := read(r, size)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	return f, nil
}

func read(r io.ReaderAt, size int64) (*File, error) {
	d := &reader{r: r, size: size}
	magic, err := d.read(4)
	if err != nil {
		return nil, err
	}
	if string(magic) != Magic {
		return nil, fmt.Errorf("not a GGUF file (it starts %q, not %q)", magic, Magic)
	}
	f := &File{r: r, size: size, Alignment: DefaultAlignment}
	if f.Version, err = d.u32(); err != nil {
		return nil, err
	}
	if f.Version != 2 && f.Version != 3 {
		return nil, fmt.Errorf("version %d: moxing reads GGUF versions 2 and 3", f.Version)
	}
	nt, err := d.u64()
	if err != nil {
		return nil, err
	}
	nkv, err := d.u64()
	if err != nil {
		return nil, err
	}
	if nt > maxTensors || nkv > maxKV {
		return nil, fmt.Errorf("%d tensors and %d metadata pairs claimed (at most %d and %d)", nt, nkv, maxTensors, maxKV)
	}
	seen := map[string]bool{}
	for range nkv {
		key, err := d.str()
		if err != nil {
			return nil, err
		}
		t, err := d.u32()
		if err != nil {
			return nil, err
		}
		v, err := d.value(t)
		if err != nil {
			return nil, fmt.Errorf("metadata %q: %w", key, err)
		}
		if seen[key] {
			return nil, fmt.Errorf("metadata %q appears twice", key)
		}
		seen[key] = true
		f.KV = append(f.KV, KV{key, v})
	}
	if a := f.Get("general.alignment"); a != nil {
		u, ok := a.(uint32)
		if !ok || u == 0 || u&(u-1) != 0 {
			return nil, fmt.Errorf("general.alignment %v: want a power of two (uint32)", a)
		}
		f.Alignment = uint64(u)
	}
	names := map[string]bool{}
	for i := range nt {
		var t Tensor
		if t.Name, err = d.str(); err != nil {
			return nil, err
		}
		nd, err := d.u32()
		if err != nil {
			return nil, err
		}
		if nd < 1 || nd > maxDims {
			return nil, fmt.Errorf("tensor %d %q: %d dimensions (1 to %d)", i, t.Name, nd, maxDims)
		}
		t.Dims = make([]uint64, nd)
		elems := uint64(1)
		for j := range t.Dims {
			if t.Dims[j], err = d.u64(); err != nil {
				return nil, err
			}
			if t.Dims[j] == 0 || t.Dims[j] > 1<<40 || elems > (1<<40)/t.Dims[j] {
				return nil, fmt.Errorf("tensor %q: dimensions %v", t.Name, t.Dims[:j+1])
			}
			elems *= t.Dims[j]
		}
		ty, err := d.u32()
		if err != nil {
			return nil, err
		}
		t.Type = quant.Type(ty)
		if !t.Type.Known() {
			return nil, fmt.Errorf("tensor %q: storage type %v: moxing reads f32, f16, bf16 and q8_0", t.Name, t.Type)
		}
		if t.Dims[0]%uint64(t.Type.BlockSize()) != 0 {
			return nil, fmt.Errorf("tensor %q: rows of %d values are not whole %v blocks of %d", t.Name, t.Dims[0], t.Type, t.Type.BlockSize())
		}
		if t.Offset, err = d.u64(); err != nil {
			return nil, err
		}
		if names[t.Name] {
			return nil, fmt.Errorf("tensor %q appears twice", t.Name)
		}
		names[t.Name] = true
		f.Tensors = append(f.Tensors, t)
	}
	f.DataOffset = int64(alignUp(uint64(d.off), f.Alignment))
	data := uint64(max(0, size-f.DataOffset))
	type span struct{ lo, hi uint64 }
	var spans []span
	for _, t := range f.Tensors {
		n := uint64(t.Type.Bytes(int(t.Elements())))
		if t.Offset%f.Alignment != 0 || t.Offset > data || n > data-t.Offset {
			return nil, fmt.Errorf("tensor %q: %d bytes at offset %d of a data section of %d bytes (aligned to %d)", t.Name, n, t.Offset, data, f.Alignment)
		}
		spans = append(spans, span{t.Offset, t.Offset + n})
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
	for i := 1; i < len(spans); i++ {
		if spans[i].lo < spans[i-1].hi {
			return nil, errors.New("two tensors' data overlap")
		}
	}
	return f, nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

// Write writes a GGUF version 3 file of the metadata and tensors, their
// data aligned to DefaultAlignment (or the metadata's general.alignment).
func Write(w io.Writer, kv []KV, tensors []Tensor) error {
	align := uint64(DefaultAlignment)
	var hdr bytes.Buffer
	le := binary.LittleEndian
	putStr := func(s string) {
		binary.Write(&hdr, le, uint64(len(s)))
		hdr.WriteString(s)
	}
	hdr.WriteString(Magic)
	binary.Write(&hdr, le, uint32(3))
	binary.Write(&hdr, le, uint64(len(tensors)))
	binary.Write(&hdr, le, uint64(len(kv)))
	for _, p := range kv {
		if p.Key == "general.alignment" {
			if a, ok := p.Value.(uint32); ok && a > 0 && a&(a-1) == 0 {
				align = uint64(a)
			}
		}
		putStr(p.Key)
		if err := putValue(&hdr, p.Value); err != nil {
			return fmt.Errorf("gguf: metadata %q: %w", p.Key, err)
		}
	}
	var off uint64
	for i := range tensors {
		t := &tensors[i]
		if want := t.Type.Bytes(int(t.Elements())); len(t.Data) != want || len(t.Dims) < 1 || len(t.Dims) > maxDims {
			return fmt.Errorf("gguf: tensor %q: %d bytes for dimensions %v of %v (want %d)", t.Name, len(t.Data), t.Dims, t.Type, want)
		}
		putStr(t.Name)
		binary.Write(&hdr, le, uint32(len(t.Dims)))
		for _, dim := range t.Dims {
			binary.Write(&hdr, le, dim)
		}
		binary.Write(&hdr, le, uint32(t.Type))
		t.Offset = off
		binary.Write(&hdr, le, off)
		off = alignUp(off+uint64(len(t.Data)), align)
	}
	hdr.Write(make([]byte, alignUp(uint64(hdr.Len()), align)-uint64(hdr.Len())))
	if _, err := w.Write(hdr.Bytes()); err != nil {
		return err
	}
	var pos uint64
	for _, t := range tensors {
		if _, err := w.Write(make([]byte, t.Offset-pos)); err != nil {
			return err
		}
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
		pos = t.Offset + uint64(len(t.Data))
	}
	return nil
}

// putValue writes a metadata value: its type, then the value.
func putValue(w *bytes.Buffer, v any) error {
	le := binary.LittleEndian
	put := func(t uint32, x any) {
		binary.Write(w, le, t)
		binary.Write(w, le, x)
	}
	switch x := v.(type) {
	case uint8:
		put(typeUint8, x)
	case int8:
		put(typeInt8, x)
	case uint16:
		put(typeUint16, x)
	case int16:
		put(typeInt16, x)
	case uint32:
		put(typeUint32, x)
	case int32:
		put(typeInt32, x)
	case uint64:
		put(typeUint64, x)
	case int64:
		put(typeInt64, x)
	case float32:
		put(typeFloat32, x)
	case float64:
		put(typeFloat64, x)
	case bool:
		put(typeBool, x)
	case string:
		binary.Write(w, le, typeString)
		binary.Write(w, le, uint64(len(x)))
		w.WriteString(x)
	case []string:
		binary.Write(w, le, typeArray)
		binary.Write(w, le, typeString)
		binary.Write(w, le, uint64(len(x)))
		for _, s := range x {
			binary.Write(w, le, uint64(len(s)))
			w.WriteString(s)
		}
	case []int32:
		putArray(w, typeInt32, x)
	case []uint32:
		putArray(w, typeUint32, x)
	case []float32:
		putArray(w, typeFloat32, x)
	case []uint8:
		putArray(w, typeUint8, x)
	default:
		return fmt.Errorf("a value of type %T", v)
	}
	return nil
}

func putArray[T any](w *bytes.Buffer, et uint32, x []T) {
	le := binary.LittleEndian
	binary.Write(w, le, typeArray)
	binary.Write(w, le, et)
	binary.Write(w, le, uint64(len(x)))
	binary.Write(w, le, x)
}
