package checkpoint

import (
	"bytes"
	"testing"

	"github.com/moxing/moxing/tensor"
)

// FuzzRead checks that Read never panics, and that whatever it accepts
// survives a Write and a second Read unchanged.
func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	if err := Write(&buf, map[string]*tensor.Tensor{
		"a": tensor.New([]float32{1, 2, 3, 4, 5, 6}, 2, 3),
		"b": tensor.Scalar(-1),
		"c": tensor.New(nil, 0),
	}, map[string]string{"k": "v"}); err != nil {
		f.Fatal(err)
	}
	valid := buf.Bytes()
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	f.Add(rawFile(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[],"data_offsets":[4,6]},"c":{"dtype":"F64","shape":[1],"data_offsets":[6,14]}}`, make([]byte, 14)))
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)))
	f.Add(rawFile(`{"w":{"dtype":"F32","shape":[1099511627776,1099511627776,1099511627776],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(rawFile(`{"__metadata__":{"epoch":3}}`, nil))
	f.Add(rawFile(`{"w":{"dtype":"I8","shape":[2,32],"data_offsets":[0,64]},"w.scale":{"dtype":"F16","shape":[2,1],"data_offsets":[64,68]}}`, make([]byte, 68)))
	f.Add([]byte("sepal_length,sepal_width\n5.1,3.5\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := readBytes(b)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := Write(&out, file.Tensors, file.Metadata); err != nil {
			t.Fatalf("Write of an accepted file: %v", err)
		}
		again, err := readBytes(out.Bytes())
		if err != nil {
			t.Fatalf("Read of the rewritten file: %v", err)
		}
		sameTensors(t, again.Tensors, file.Tensors)
		want := withFormat(file.Metadata) // Write adds "format": "pt" when it is missing
		if len(again.Metadata) != len(want) {
			t.Fatalf("metadata %v, was %v", again.Metadata, file.Metadata)
		}
		for k, v := range want {
			if again.Metadata[k] != v {
				t.Fatalf("metadata %q = %q, was %q", k, again.Metadata[k], v)
			}
		}
	})
}
