package checkpoint

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/moxing/moxing/tensor"
)

// entry1 is the header entry of a one-element F32 tensor at [0, 4].
const entry1 = `{"dtype":"F32","shape":[1],"data_offsets":[0,4]}`

func TestReadMalformed(t *testing.T) {
	four := make([]byte, 4)
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"empty file", nil, "not a safetensors file: 0 bytes"},
		{"shorter than the length", []byte{1, 2, 3}, "not a safetensors file: 3 bytes"},
		{"header length beyond the file", rawFile(`{}`, nil)[:8], "header length 2, but only 0 bytes follow"},
		{"header length 1<<62", binary.LittleEndian.AppendUint64(nil, 1<<62), "header length 4611686018427387904 is over the"},
		{"header length just over the limit", append(binary.LittleEndian.AppendUint64(nil, maxHeaderLen+1), "{}"...), "is over the 104857600-byte limit"},
		{"CSV file", []byte("sepal_length,sepal_width,species\n5.1,3.5,setosa\n"), "not a safetensors file"},
		{"PNG file", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"), "not a safetensors file"},
		{"zero header length", rawFile(``, nil), "not a safetensors file: header does not start with '{'"},
		{"header is an array", rawFile(`[]`, nil), "not a safetensors file: header does not start with '{'"},
		{"invalid JSON", rawFile(`{"a":`, nil), "header is not valid JSON"},
		{"JSON then garbage", rawFile(`{} x`, nil), "header is not valid JSON"},
		{"invalid UTF-8", rawFile("{\"\xff\":1}", nil), "header is not valid UTF-8"},
		{"duplicate tensor", rawFile(`{"a":`+entry1+`,"a":`+entry1+`}`, four), `header: duplicate key "a"`},
		{"duplicate field", rawFile(`{"a":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}`, four), `tensor "a": duplicate key "dtype"`},
		{"non-string metadata value", rawFile(`{"__metadata__":{"epoch":3}}`, nil), `__metadata__: value of "epoch" is a number, not a string`},
		{"metadata is an array", rawFile(`{"__metadata__":["a"]}`, nil), `__metadata__: ["a"] is not a JSON object`},
		{"entry not an object", rawFile(`{"w":3}`, nil), `tensor "w": 3 is not a JSON object`},
		{"missing shape", rawFile(`{"w":{"dtype":"F32","data_offsets":[0,4]}}`, four), `tensor "w": header entry has no "shape"`},
		{"dtype not a string", rawFile(`{"w":{"dtype":7,"shape":[1],"data_offsets":[0,4]}}`, four), `tensor "w": dtype is a number, not a string`},
		{"unknown dtype", rawFile(`{"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}}`, four), `tensor "w": dtype "Q7" is unknown`},
		{"I64 dtype", rawFile(`{"w":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)), `tensor "w": dtype "I64" is not supported`},
		{"U8 dtype", rawFile(`{"w":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}`, four), `tensor "w": dtype "U8" is not supported`},
		{"shape of floats", rawFile(`{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, four), `tensor "w": shape [1.5] is not an array of integers`},
		{"shape null", rawFile(`{"w":{"dtype":"F32","shape":null,"data_offsets":[0,4]}}`, four), `tensor "w": shape null is not an array of integers`},
		{"negative dim", rawFile(`{"w":{"dtype":"F32","shape":[2,-2],"data_offsets":[0,4]}}`, four), `tensor "w": shape [2 -2] has a negative dimension`},
		{"dim beyond int64", rawFile(`{"w":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}`, four), `tensor "w": shape [99999999999999999999] is not an array of integers`},
		{"shape product overflow", rawFile(`{"w":{"dtype":"F32","shape":[1099511627776,1099511627776,1099511627776],"data_offsets":[0,4]}}`, four), `tensor "w": shape [1099511627776 1099511627776 1099511627776]: element count overflows`},
		{"byte count overflow", rawFile(`{"w":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,4]}}`, four), `tensor "w": shape [2305843009213693952] of F64: byte count overflows`},
		{"one offset", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[4]}}`, four), `tensor "w": data_offsets [4] is not an array of two integers`},
		{"negative offset", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, four), `tensor "w": data_offsets [-4, 0] are negative`},
		{"offsets beyond the buffer", rawFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, four), `tensor "w": data_offsets [0, 8] run past the end of the 4-byte data buffer`},
		{"begin after end", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, four), `tensor "w": data_offsets [4, 0] begin after they end`},
		{"size does not match shape", rawFile(`{"h.0.attn.c_attn.weight":{"dtype":"F32","shape":[3,4],"data_offsets":[0,100]}}`, make([]byte, 100)),
			`checkpoint: tensor "h.0.attn.c_attn.weight": data_offsets [0, 100] hold 100 bytes, shape [3 4] of F32 needs 48`},
		{"overlapping tensors", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)),
			`tensor "b": data_offsets [4, 12] overlap tensor "a" at [0, 8]`},
		{"same offsets twice", rawFile(`{"a":`+entry1+`,"b":`+entry1+`}`, four), `tensor "b": data_offsets [0, 4] overlap tensor "a" at [0, 4]`},
		{"hole in the buffer", rawFile(`{"a":`+entry1+`,"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12)),
			`data buffer has a hole: bytes [4, 8) before tensor "b" belong to no tensor`},
		{"hole at the start", rawFile(`{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), `bytes [0, 4) before tensor "b"`},
		{"trailing bytes", rawFile(`{"a":`+entry1+`}`, make([]byte, 9)), "data buffer has 5 trailing bytes"},
		{"data without tensors", rawFile(`{}`, four), "data buffer has 4 trailing bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := readBytes(tt.file)
			if err == nil {
				t.Fatalf("Read accepted it: %v", f.Tensors)
			}
			if !strings.HasPrefix(err.Error(), "checkpoint: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestReadAccepts covers valid files that a careless reader might reject.
func TestReadAccepts(t *testing.T) {
	tests := []struct {
		name string
		file []byte
		want map[string][]int // tensor shapes
	}{
		{"empty header", rawFile(`{}`, nil), map[string][]int{}},
		{"metadata null", rawFile(`{"__metadata__":null}`, nil), map[string][]int{}},
		{"unaligned header, no padding", rawFile(`{"a":`+entry1+`}`, make([]byte, 4)), map[string][]int{"a": {1}}},
		{"offsets out of name order", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"b":`+entry1+`}`, make([]byte, 8)), map[string][]int{"a": {1}, "b": {1}}},
		{"empty tensors share an offset", rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"b":`+entry1+`,"c":{"dtype":"F16","shape":[0,9],"data_offsets":[4,4]}}`, make([]byte, 4)),
			map[string][]int{"a": {0}, "b": {1}, "c": {0, 9}}},
		{"zero dim beside a huge one", rawFile(`{"a":{"dtype":"F32","shape":[0,4611686018427387904],"data_offsets":[0,0]}}`, nil), map[string][]int{"a": {0, 1 << 62}}},
		{"unknown entry fields ignored", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":true}}`, make([]byte, 4)), map[string][]int{"a": {1}}},
		{"whitespace padding", rawFile("{ }   \n\t", nil), map[string][]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := readBytes(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Tensors) != len(tt.want) || f.Metadata == nil {
				t.Fatalf("got %d tensors (metadata %v), want %d", len(f.Tensors), f.Metadata, len(tt.want))
			}
			for name, shape := range tt.want {
				if got := f.Tensors[name]; got == nil || !slices.Equal(got.Shape(), shape) {
					t.Errorf("tensor %q: %v, want shape %v", name, got, shape)
				}
			}
		})
	}
}

// TestReadTruncated reads every proper prefix of a valid file.
func TestReadTruncated(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, sampleTensors(), map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	for i := range len(b) {
		if f, err := readBytes(b[:i]); err == nil {
			t.Fatalf("prefix of %d/%d bytes accepted: %v", i, len(b), f.Tensors)
		}
	}
}

// TestReadLyingSize passes a size larger than what the reader holds.
func TestReadLyingSize(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, map[string]*tensor.Tensor{"w": tensor.Zeros(4)}, nil); err != nil {
		t.Fatal(err)
	}
	_, err := Read(bytes.NewReader(buf.Bytes()), 1<<40)
	if err == nil || !strings.Contains(err.Error(), "shorter than its stated size") {
		t.Errorf("error %v, want one about the stated size", err)
	}
	_, err = Read(bytes.NewReader(buf.Bytes()), -1)
	if err == nil || !strings.Contains(err.Error(), "not a safetensors file") {
		t.Errorf("negative size: error %v", err)
	}
}
