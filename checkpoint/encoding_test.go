package checkpoint

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/moxing/moxing/quant"
	"github.com/moxing/moxing/tensor"
)

// Each encoding reads back as the values it stores: F16 and BF16 as their
// rounding, Q8_0 along either axis as GGML's blocks (quant.Encode of the
// 32 values of each run along the axis) give them.
func TestWriteEncoded(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	rows, cols := 64, 96
	data := make([]float32, rows*cols)
	for i := range data {
		data[i] = float32(rng.NormFloat64()) * float32(1+i%7)
	}
	data[5] = 0 // a block with a zero
	w := tensor.New(data, rows, cols)
	bias := tensor.New([]float32{1.5, -2}, 2)
	for _, tc := range []struct {
		enc  Encoding
		size int // bytes of w's data
		want func(r, c int) float32
	}{
		{Encoding{Type: quant.F16}, 2 * rows * cols, func(r, c int) float32 { return quant.FromF16(quant.ToF16(data[r*cols+c])) }},
		{Encoding{Type: quant.BF16}, 2 * rows * cols, func(r, c int) float32 { return quant.FromBF16(quant.ToBF16(data[r*cols+c])) }},
		{Encoding{Type: quant.Q8_0, Axis: 1}, rows*cols + 2*rows*cols/32, func(r, c int) float32 {
			return q8Ref(data[r*cols+c/32*32:r*cols+c/32*32+32], c%32)
		}},
		{Encoding{Type: quant.Q8_0, Axis: 0}, rows*cols + 2*rows*cols/32, func(r, c int) float32 {
			run := make([]float32, 32)
			for j := range run {
				run[j] = data[(r/32*32+j)*cols+c]
			}
			return q8Ref(run, r%32)
		}},
	} {
		var buf bytes.Buffer
		if err := WriteEncoded(&buf, map[string]*tensor.Tensor{"w": w, "b": bias}, map[string]string{"k": "v"}, map[string]Encoding{"w": tc.enc}); err != nil {
			t.Fatalf("%+v: %v", tc.enc, err)
		}
		h, err := ReadHeader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatalf("%+v: %v", tc.enc, err)
		}
		if len(h.Tensors) != 2 || h.Tensors[1].Name != "w" || h.Tensors[1].DType != map[quant.Type]string{quant.F16: "F16", quant.BF16: "BF16", quant.Q8_0: "Q8_0"}[tc.enc.Type] {
			t.Fatalf("%+v: header tensors %+v", tc.enc, h.Tensors)
		}
		if got := buf.Len() - 8 - headerLen(buf.Bytes()) - 4*2; got != tc.size {
			t.Errorf("%+v: w's data takes %d bytes, want %d", tc.enc, got, tc.size)
		}
		f, err := h.ReadTensors()
		if err != nil {
			t.Fatalf("%+v: %v", tc.enc, err)
		}
		if got := f.Tensors["b"].Data; got[0] != 1.5 || got[1] != -2 {
			t.Errorf("%+v: the float32 bias reads %v", tc.enc, got)
		}
		if s := f.Tensors["w"].Shape(); s[0] != rows || s[1] != cols {
			t.Fatalf("%+v: shape %v", tc.enc, s)
		}
		for r := range rows {
			for c := range cols {
				if got, want := f.Tensors["w"].Data[r*cols+c], tc.want(r, c); math.Float32bits(got) != math.Float32bits(want) {
					t.Fatalf("%+v: w[%d,%d] reads %v, want %v", tc.enc, r, c, got, want)
				}
			}
		}
		// Stored again the same way, the values give the same bytes.
		var again bytes.Buffer
		if err := WriteEncoded(&again, f.Tensors, f.Metadata, map[string]Encoding{"w": tc.enc}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again.Bytes(), buf.Bytes()) {
			t.Errorf("%+v: rewriting what was read changes the file", tc.enc)
		}
	}
}

// q8Ref is value j of the Q8_0 block of run, decoded.
func q8Ref(run []float32, j int) float32 {
	blk := quant.Encode(quant.Q8_0, run)
	return quant.FromF16(binary.LittleEndian.Uint16(blk)) * float32(int8(blk[2+j]))
}

func headerLen(b []byte) int { return int(binary.LittleEndian.Uint64(b)) }

func TestWriteEncodedErrors(t *testing.T) {
	w := tensor.New(make([]float32, 2*48), 2, 48)
	for _, tc := range []struct {
		tensors map[string]*tensor.Tensor
		enc     map[string]Encoding
		want    string
	}{
		{map[string]*tensor.Tensor{"w": w}, map[string]Encoding{"w": {Type: quant.Q8_0, Axis: 1}}, "multiple of 32"},
		{map[string]*tensor.Tensor{"w": w}, map[string]Encoding{"w": {Type: quant.Q8_0, Axis: 2}}, "axis 2"},
		{map[string]*tensor.Tensor{"w": w}, map[string]Encoding{"v": {Type: quant.F16}}, `"v"`},
		{map[string]*tensor.Tensor{"w": tensor.New(make([]float32, 64), 2, 32), "w.scale": w}, map[string]Encoding{"w": {Type: quant.Q8_0, Axis: 1}}, "another tensor"},
	} {
		err := WriteEncoded(&bytes.Buffer{}, tc.tensors, nil, tc.enc)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one with %q", tc.enc, err, tc.want)
		}
	}
}

// A Q8_0 tensor's values without their scales, or with scales that do not
// fit them, are refused from the header, naming the tensor.
func TestReadQ8Errors(t *testing.T) {
	for _, tc := range []struct {
		header string
		size   int
		want   string
	}{
		{`{"w":{"dtype":"I8","shape":[2,32],"data_offsets":[0,64]}}`, 64, `no "w.scale" tensor`},
		{`{"w":{"dtype":"I8","shape":[2,32],"data_offsets":[0,64]},"w.scale":{"dtype":"F32","shape":[2,1],"data_offsets":[64,72]}}`, 72, "want F16"},
		{`{"w":{"dtype":"I8","shape":[2,32],"data_offsets":[0,64]},"w.scale":{"dtype":"F16","shape":[2,2],"data_offsets":[64,72]}}`, 72, "divided by 32"},
		{`{"w":{"dtype":"I8","shape":[2,32],"data_offsets":[0,64]},"w.scale":{"dtype":"F16","shape":[2],"data_offsets":[64,68]}}`, 68, "divided by 32"},
		{`{"w":{"dtype":"I8","shape":[64,32],"data_offsets":[0,2048]},"w.scale":{"dtype":"F16","shape":[2,1],"data_offsets":[2048,2052]}}`, 2052, "divided by 32"},
	} {
		_, err := readBytes(rawFile(tc.header, make([]byte, tc.size)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one with %q", tc.header, err, tc.want)
		}
	}
}
