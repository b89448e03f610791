package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/moxing/moxing/quant"
	"github.com/moxing/moxing/tensor"
)

// Encoding is how Write stores one tensor: as float32 (the zero value), as
// quant.F16 or quant.BF16 (dtype "F16" or "BF16"), or as quant.Q8_0.
//
// A Q8_0 tensor NAME is stored as two: NAME, dtype "I8", of the tensor's
// shape, and NAME.scale, dtype "F16", of the same shape but with
// dimension Axis divided by 32. Each run of 32 values along Axis is GGML's
// Q8_0 block: value = scale × int8, the scale max|x|/127 rounded to a
// float16, the int8s round(x/scale), so that the blocks are bit for bit
// llama.cpp's along that axis. Read gives back the values scale × int8
// as float32, under NAME alone.
type Encoding struct {
	Type quant.Type
	Axis int // the dimension Q8_0 blocks run along
}

// ScaleSuffix names a Q8_0 tensor's scales: NAME + ScaleSuffix.
const ScaleSuffix = ".scale"

// dtypeName is the stored dtype of a tensor with encoding e (of its values,
// for Q8_0).
func (e Encoding) dtypeName() string {
	switch e.Type {
	case quant.F16:
		return "F16"
	case quant.BF16:
		return "BF16"
	case quant.Q8_0:
		return "I8"
	}
	return "F32"
}

// check reports whether a tensor of shape can be stored as e.
func (e Encoding) check(shape []int) error {
	switch e.Type {
	case quant.F32, quant.F16, quant.BF16:
		return nil
	case quant.Q8_0:
		if e.Axis < 0 || e.Axis >= len(shape) || shape[e.Axis]%32 != 0 {
			return fmt.Errorf("Q8_0 along axis %d of shape %v: want a dimension that is a multiple of 32", e.Axis, shape)
		}
		return nil
	}
	return fmt.Errorf("cannot be stored as %v", e.Type)
}

// pairScales folds each I8 entry's NAME.scale entry into it (a Q8_0
// tensor), checking the pair's shapes; an I8 tensor without its scales, or
// with scales of the wrong dtype or shape, is an error.
func pairScales(entries []entry) ([]entry, error) {
	byName := make(map[string]int, len(entries))
	for i, e := range entries {
		byName[e.name] = i
	}
	drop := map[int]bool{}
	for i := range entries {
		e := &entries[i]
		if e.dtype.name != "I8" {
			continue
		}
		j, ok := byName[e.name+ScaleSuffix]
		if !ok {
			return nil, fmt.Errorf("tensor %q: dtype I8 is read only as Q8_0 values, and there is no %q tensor with their scales", e.name, e.name+ScaleSuffix)
		}
		s := entries[j]
		if s.dtype.name != "F16" {
			return nil, fmt.Errorf("tensor %q: the scales of Q8_0 tensor %q are %s, want F16", s.name, e.name, s.dtype.name)
		}
		axis := -1
		if len(s.shape) == len(e.shape) {
			for d := range e.shape {
				if s.shape[d] != e.shape[d] {
					if axis >= 0 || e.shape[d]%32 != 0 || s.shape[d] != e.shape[d]/32 {
						axis = -2
						break
					}
					axis = d
				}
			}
		}
		if axis < 0 {
			return nil, fmt.Errorf("tensor %q: shape %v does not hold the scales of Q8_0 tensor %q of shape %v (want its shape with one dimension divided by 32)", s.name, s.shape, e.name, e.shape)
		}
		e.dtype, e.scale, e.axis = q8Dtype, &s, axis
		drop[j] = true
	}
	kept := entries[:0]
	for i, e := range entries {
		if !drop[i] {
			kept = append(kept, e)
		}
	}
	return kept, nil
}

// q8Dtype marks a Q8_0 entry (its values' I8 data, its scales in
// entry.scale).
var q8Dtype = dtype{name: "Q8_0", size: 1}

// readQ8 reads the Q8_0 tensor e as float32.
func readQ8(r io.ReaderAt, start int64, e entry) ([]float32, error) {
	sb := make([]byte, 2*e.scale.numel)
	if err := readFull(r, sb, start+e.scale.begin); err != nil {
		return nil, err
	}
	scales := make([]uint16, e.scale.numel)
	for i := range scales {
		scales[i] = binary.LittleEndian.Uint16(sb[2*i:])
	}
	raw := make([]byte, e.numel)
	if err := readFull(r, raw, start+e.begin); err != nil {
		return nil, err
	}
	qs := make([]int8, e.numel)
	for i, b := range raw {
		qs[i] = int8(b)
	}
	out := make([]float32, e.numel)
	quant.DequantizeAlong(out, qs, scales, e.shape, e.axis)
	return out, nil
}

// stored is one tensor of a file being written: its name, dtype, shape and
// bytes (written by put).
type stored struct {
	name  string
	dtype string
	shape []int
	bytes int64
	put   func(buf []byte, w func([]byte) error) error
}

// storeAll lays out tensors as enc says (float32 where it says nothing),
// sorted by name, a Q8_0 tensor's scales beside its values.
func storeAll(tensors map[string]*tensor.Tensor, enc map[string]Encoding) ([]stored, error) {
	names := make([]string, 0, len(tensors))
	for name := range tensors {
		names = append(names, name)
	}
	slices.Sort(names)
	var out []stored
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
		shape, data := t.Shape(), t.Data
		numel := 1
		for _, d := range shape {
			numel *= d
		}
		if numel != len(data) {
			return nil, fmt.Errorf("tensor %q: %d values for shape %v", name, len(data), shape)
		}
		e := enc[name]
		if err := e.check(shape); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		switch e.Type {
		case quant.F32:
			out = append(out, stored{name, "F32", shape, 4 * int64(len(data)), func(buf []byte, w func([]byte) error) error {
				return putWords(data, buf, w, 4, func(b []byte, v float32) []byte { return binary.LittleEndian.AppendUint32(b, math.Float32bits(v)) })
			}})
		case quant.F16, quant.BF16:
			to := quant.ToF16
			if e.Type == quant.BF16 {
				to = quant.ToBF16
			}
			out = append(out, stored{name, e.dtypeName(), shape, 2 * int64(len(data)), func(buf []byte, w func([]byte) error) error {
				return putWords(data, buf, w, 2, func(b []byte, v float32) []byte { return binary.LittleEndian.AppendUint16(b, to(v)) })
			}})
		case quant.Q8_0:
			if _, ok := tensors[name+ScaleSuffix]; ok {
				return nil, fmt.Errorf("tensor %q: stored as Q8_0, its scales would be %q, which is another tensor", name, name+ScaleSuffix)
			}
			q, scales := quant.Q8Along(data, shape, e.Axis)
			qs := make([]byte, len(q))
			for i, v := range q {
				qs[i] = byte(v)
			}
			sshape := slices.Clone(shape)
			sshape[e.Axis] /= 32
			out = append(out, stored{name, "I8", shape, int64(len(qs)), func(_ []byte, w func([]byte) error) error { return w(qs) }})
			out = append(out, stored{name + ScaleSuffix, "F16", sshape, 2 * int64(len(scales)), func(buf []byte, w func([]byte) error) error {
				b := buf[:0]
				for _, h := range scales {
					b = binary.LittleEndian.AppendUint16(b, h)
				}
				return w(b)
			}})
		}
	}
	return out, nil
}

// putWords writes data through w as words of size bytes each made by
// add, in chunks of buf's capacity.
func putWords(data []float32, buf []byte, w func([]byte) error, size int, add func([]byte, float32) []byte) error {
	b := buf[:0]
	for _, v := range data {
		b = add(b, v)
		if len(b)+size > cap(b) {
			if err := w(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	if len(b) > 0 {
		return w(b)
	}
	return nil
}
