package checkpoint

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"testing"

	"github.com/moxing/moxing/tensor"
	"github.com/nlpodyssey/safetensors"
)

// TestCompatReadByOther checks that github.com/nlpodyssey/safetensors reads
// what Write writes.
func TestCompatReadByOther(t *testing.T) {
	tensors := sampleTensors()
	metadata := map[string]string{"format": "pt", "config": `{"n_embd": 768}`}
	var buf bytes.Buffer
	if err := Write(&buf, tensors, metadata); err != nil {
		t.Fatal(err)
	}
	st, err := safetensors.Deserialize(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	names := st.Names()
	slices.Sort(names)
	want := make([]string, 0, len(tensors))
	for name := range tensors {
		want = append(want, name)
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("names %q, want %q", names, want)
	}
	for name, w := range tensors {
		tv, _ := st.Tensor(name)
		if tv.DType() != safetensors.F32 {
			t.Errorf("tensor %q: dtype %v", name, tv.DType())
		}
		shape := make([]int, len(tv.Shape()))
		for i, d := range tv.Shape() {
			shape[i] = int(d)
		}
		if !slices.Equal(shape, w.Shape()) {
			t.Errorf("tensor %q: shape %v, want %v", name, shape, w.Shape())
		}
		data := tv.Data()
		if len(data) != 4*len(w.Data) {
			t.Fatalf("tensor %q: %d bytes, want %d", name, len(data), 4*len(w.Data))
		}
		for i, v := range w.Data {
			if got := binary.LittleEndian.Uint32(data[4*i:]); got != math.Float32bits(v) {
				t.Errorf("tensor %q [%d]: bits %#x, want %#x", name, i, got, math.Float32bits(v))
			}
		}
	}
	_, md, err := safetensors.ReadMetadata(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range metadata {
		if md.Metadata()[k] != v {
			t.Errorf("metadata %q = %q, want %q", k, md.Metadata()[k], v)
		}
	}
}

// view is a safetensors.View; the library's NewTensorView rejects 0-d shapes.
type view struct {
	dtype safetensors.DType
	shape []uint64
	data  []byte
}

func (v view) DType() safetensors.DType { return v.dtype }
func (v view) Shape() []uint64          { return v.shape }
func (v view) Data() []byte             { return v.data }
func (v view) DataLen() uint64          { return uint64(len(v.data)) }

// TestCompatReadOther checks that Read reads what
// github.com/nlpodyssey/safetensors writes, in several dtypes.
func TestCompatReadOther(t *testing.T) {
	le32 := func(vs ...float32) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
		return b
	}
	le64 := func(vs ...float64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
		return b
	}
	views := map[string]view{
		"wte.weight": {safetensors.F32, []uint64{2, 3}, le32(1, 2, 3, -4, 5.5, 1e-3)},
		"scale":      {safetensors.F32, []uint64{}, le32(0.25)},
		"empty":      {safetensors.F32, []uint64{0}, nil},
		"double":     {safetensors.F64, []uint64{3}, le64(0.5, -2, 1e10)},
		"half":       {safetensors.F16, []uint64{2}, []byte{0x00, 0x3c, 0x00, 0xc2}},  // 1, -3
		"brain":      {safetensors.BF16, []uint64{2}, []byte{0x80, 0x3f, 0x49, 0x40}}, // 1, 3.140625
	}
	want := map[string]*tensor.Tensor{
		"wte.weight": tensor.New([]float32{1, 2, 3, -4, 5.5, 1e-3}, 2, 3),
		"scale":      tensor.Scalar(0.25),
		"empty":      tensor.New(nil, 0),
		"double":     tensor.New([]float32{0.5, -2, 1e10}, 3),
		"half":       tensor.New([]float32{1, -3}, 2),
		"brain":      tensor.New([]float32{1, 3.140625}, 2),
	}
	metadata := map[string]string{"format": "pt", "step": "1000"}
	b, err := safetensors.Serialize(views, metadata)
	if err != nil {
		t.Fatal(err)
	}
	f, err := readBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	sameTensors(t, f.Tensors, want)
	if len(f.Metadata) != len(metadata) || f.Metadata["format"] != "pt" || f.Metadata["step"] != "1000" {
		t.Errorf("metadata %v, want %v", f.Metadata, metadata)
	}
}
