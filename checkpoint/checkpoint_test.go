package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moxing/moxing/tensor"
)

// rawFile builds a safetensors file by hand: header length, header, data.
func rawFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

// readBytes runs Read on b.
func readBytes(b []byte) (*File, error) { return Read(bytes.NewReader(b), int64(len(b))) }

// sameTensors fails t unless got and want hold the same tensors, bit for bit.
func sameTensors(t *testing.T, got, want map[string]*tensor.Tensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d tensors, want %d", len(got), len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Fatalf("tensor %q missing", name)
		}
		if !slices.Equal(g.Shape(), w.Shape()) {
			t.Fatalf("tensor %q: shape %v, want %v", name, g.Shape(), w.Shape())
		}
		for i := range w.Data {
			if math.Float32bits(g.Data[i]) != math.Float32bits(w.Data[i]) {
				t.Fatalf("tensor %q [%d]: %v (%#x), want %v (%#x)", name, i, g.Data[i], math.Float32bits(g.Data[i]), w.Data[i], math.Float32bits(w.Data[i]))
			}
		}
	}
}

// withFormat is metadata as Write stores it: with "format": "pt" unless
// metadata has a format of its own.
func withFormat(metadata map[string]string) map[string]string {
	out := map[string]string{"format": "pt"}
	for k, v := range metadata {
		out[k] = v
	}
	return out
}

func sampleTensors() map[string]*tensor.Tensor {
	nan := math.Float32frombits(0x7fc00123) // NaN with a payload
	return map[string]*tensor.Tensor{
		"h.0.attn.c_attn.weight": tensor.New([]float32{1, -2.5, 3e-38, 1e-45, nan, float32(math.Inf(-1))}, 2, 3),
		"bias":                   tensor.New([]float32{0.1, float32(math.Copysign(0, -1)), 65504, 7}, 4),
		"step":                   tensor.Scalar(42),
		"empty":                  tensor.New([]float32{}, 0),
		"wide.empty":             tensor.New(nil, 2, 0, 3),
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		tensors  map[string]*tensor.Tensor
		metadata map[string]string
	}{
		{"tensors and metadata", sampleTensors(), map[string]string{"config": `{"n_layer": 2, "note": "quotes \" and <tags>"}`, "ünïcode": "日本語", "empty": ""}},
		{"no metadata", sampleTensors(), nil},
		{"no tensors", map[string]*tensor.Tensor{}, map[string]string{"format": "pt"}},
		{"nothing", nil, nil},
		{"caller's format", sampleTensors(), map[string]string{"format": "np"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tt.tensors, tt.metadata); err != nil {
				t.Fatal(err)
			}
			b := buf.Bytes()
			n := binary.LittleEndian.Uint64(b)
			if (8+n)%8 != 0 {
				t.Errorf("data starts at %d, not 8-byte aligned", 8+n)
			}
			if header := string(b[8 : 8+n]); !strings.Contains(header, metadataKey) {
				t.Errorf("header %s: no __metadata__", header)
			}
			var again bytes.Buffer
			if err := Write(&again, tt.tensors, tt.metadata); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, again.Bytes()) {
				t.Error("two Writes of the same input differ")
			}

			f, err := readBytes(b)
			if err != nil {
				t.Fatal(err)
			}
			sameTensors(t, f.Tensors, tt.tensors)
			if f.Metadata == nil || f.Tensors == nil {
				t.Error("Read returned a nil map")
			}
			want := withFormat(tt.metadata)
			if len(f.Metadata) != len(want) {
				t.Errorf("metadata %v, want %v", f.Metadata, want)
			}
			for k, v := range want {
				if f.Metadata[k] != v {
					t.Errorf("metadata %q = %q, want %q", k, f.Metadata[k], v)
				}
			}
		})
	}
}

// TestWriteLayout pins the exact bytes of a small file.
func TestWriteLayout(t *testing.T) {
	var buf bytes.Buffer
	err := Write(&buf, map[string]*tensor.Tensor{
		"b": tensor.New([]float32{1}, 1),
		"a": tensor.New([]float32{2, 3}, 2),
	}, map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	header := `{"__metadata__":{"format":"pt","k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`
	header += strings.Repeat(" ", (8-len(header)%8)%8)
	data := binary.LittleEndian.AppendUint32(nil, math.Float32bits(2))
	data = binary.LittleEndian.AppendUint32(data, math.Float32bits(3))
	data = binary.LittleEndian.AppendUint32(data, math.Float32bits(1))
	if want := rawFile(header, data); !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("Write:\n%q\nwant\n%q", buf.Bytes(), want)
	}
}

type failWriter struct{ n int } // accepts n bytes, then fails

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteErrors(t *testing.T) {
	ok := tensor.New([]float32{1, 2}, 2)
	big := tensor.Zeros(100000) // more than one chunk
	tests := []struct {
		name     string
		w        *failWriter
		tensors  map[string]*tensor.Tensor
		metadata map[string]string
		want     string
	}{
		{"nil tensor", &failWriter{1 << 30}, map[string]*tensor.Tensor{"w": nil}, nil, `tensor "w" is nil`},
		{"reserved name", &failWriter{1 << 30}, map[string]*tensor.Tensor{"__metadata__": ok}, nil, `may not be called "__metadata__"`},
		{"invalid UTF-8 name", &failWriter{1 << 30}, map[string]*tensor.Tensor{"w\xff": ok}, nil, "not valid UTF-8"},
		{"invalid UTF-8 metadata", &failWriter{1 << 30}, map[string]*tensor.Tensor{"w": ok}, map[string]string{"k": "\xff"}, "not valid UTF-8"},
		{"data and shape disagree", &failWriter{1 << 30}, map[string]*tensor.Tensor{"w": {Data: []float32{1, 2}}}, nil, `tensor "w": 2 values for shape []`},
		{"failing writer in header", &failWriter{4}, map[string]*tensor.Tensor{"w": ok}, nil, "disk full"},
		{"failing writer in data", &failWriter{1000}, map[string]*tensor.Tensor{"w": big}, nil, `tensor "w": disk full`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Write(tt.w, tt.tensors, tt.metadata)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "checkpoint: ") {
				t.Errorf("Write error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestReadDtypes reads hand-built F16, BF16, F64 and F32 data, with the
// expected float32 values worked out from the bit layouts by formula.
func TestReadDtypes(t *testing.T) {
	f16 := []uint16{0x0000, 0x8000, 0x3c00, 0xc000, 0x3555, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x7c00, 0xfc00, 0x7e00, 0x5640}
	// (-1)^s × 2^(e-15) × (1 + m/1024), subnormals 2^-14 × m/1024.
	half := func(h uint16) float64 {
		s, e, m := h>>15, int(h>>10&0x1f), float64(h&0x3ff)
		v := math.Ldexp(1+m/1024, e-15)
		switch {
		case e == 0:
			v = math.Ldexp(m/1024, -14)
		case e == 31 && m == 0:
			v = math.Inf(1)
		case e == 31:
			v = math.NaN()
		}
		if s == 1 {
			v = -v
		}
		return v
	}
	bf16 := []uint16{0x3f80, 0xc040, 0x4049, 0x0001, 0x7f80, 0xff80, 0x7fc0, 0x8000}
	// (-1)^s × 2^(e-127) × (1 + m/128), subnormals 2^-126 × m/128.
	brain := func(h uint16) float64 {
		s, e, m := h>>15, int(h>>7&0xff), float64(h&0x7f)
		v := math.Ldexp(1+m/128, e-127)
		switch {
		case e == 0:
			v = math.Ldexp(m/128, -126)
		case e == 255 && m == 0:
			v = math.Inf(1)
		case e == 255:
			v = math.NaN()
		}
		if s == 1 {
			v = -v
		}
		return v
	}
	f64 := []float64{1, -0.5, 0.1, 1.0 / 3, 1e300, -1e-300, 16777217}
	f64want := []float32{1, -0.5, 0.1, 1.0 / 3, float32(math.Inf(1)), float32(math.Copysign(0, -1)), 16777216}

	var data []byte
	var want []float64
	for _, h := range f16 {
		data = binary.LittleEndian.AppendUint16(data, h)
		want = append(want, half(h))
	}
	for _, h := range bf16 {
		data = binary.LittleEndian.AppendUint16(data, h)
		want = append(want, brain(h))
	}
	for i, v := range f64 {
		data = binary.LittleEndian.AppendUint64(data, math.Float64bits(v))
		want = append(want, float64(f64want[i]))
	}
	data = binary.LittleEndian.AppendUint32(data, math.Float32bits(-7.25))
	want = append(want, -7.25)

	a, b, c := 2*len(f16), 2*len(f16)+2*len(bf16), 2*len(f16)+2*len(bf16)+8*len(f64)
	header := `{"__metadata__":{"format":"pt"},` +
		`"half":{"dtype":"F16","shape":[13],"data_offsets":[0,` + strconv.Itoa(a) + `]},` +
		`"brain":{"dtype":"BF16","shape":[2,4],"data_offsets":[` + strconv.Itoa(a) + `,` + strconv.Itoa(b) + `]},` +
		`"double":{"dtype":"F64","shape":[7],"data_offsets":[` + strconv.Itoa(b) + `,` + strconv.Itoa(c) + `]},` +
		`"single":{"dtype":"F32","shape":[],"data_offsets":[` + strconv.Itoa(c) + `,` + strconv.Itoa(c+4) + `]}}`
	f, err := readBytes(rawFile(header, data))
	if err != nil {
		t.Fatal(err)
	}
	var got []float32
	for _, name := range []string{"half", "brain", "double", "single"} {
		got = append(got, f.Tensors[name].Data...)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d values, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := float64(got[i])
		if math.IsNaN(w) {
			if !math.IsNaN(g) {
				t.Errorf("value %d: %v, want NaN", i, g)
			}
			continue
		}
		if g != w || math.Signbit(g) != math.Signbit(w) {
			t.Errorf("value %d: %v, want %v", i, g, w)
		}
	}
	if s := f.Tensors["brain"].Shape(); !slices.Equal(s, []int{2, 4}) {
		t.Errorf("brain shape %v", s)
	}
	if f.Tensors["single"].NDim() != 0 {
		t.Errorf("single shape %v, want []", f.Tensors["single"].Shape())
	}
	if f.Metadata["format"] != "pt" {
		t.Errorf("metadata %v", f.Metadata)
	}
}
