package gguf

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/moxing/moxing/quant"
)

// sample is a small file: metadata of every kind moxing writes, and three
// tensors in different formats.
func sample(t testing.TB) []byte {
	w := make([]float32, 64)
	for i := range w {
		w[i] = float32(i) - 20
	}
	kv := []KV{{"general.architecture", "gpt2"}, {"gpt2.block_count", uint32(2)}, {"eps", float32(1e-5)},
		{"tokenizer.ggml.tokens", []string{"a", "b", "ab"}}, {"tokenizer.ggml.token_type", []int32{1, 1, 1}}, {"flag", true}, {"n", uint64(7)}}
	ts := []Tensor{
		{Name: "w.q8", Dims: []uint64{32, 2}, Type: quant.Q8_0, Data: quant.Encode(quant.Q8_0, w)},
		{Name: "w.f16", Dims: []uint64{8}, Type: quant.F16, Data: quant.Encode(quant.F16, w[:8])},
		{Name: "w.f32", Dims: []uint64{3, 1}, Type: quant.F32, Data: quant.Encode(quant.F32, w[:3])},
	}
	var buf bytes.Buffer
	if err := Write(&buf, kv, ts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	raw := sample(t)
	f, err := Read(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 3 || len(f.KV) != 7 || f.Get("general.architecture") != "gpt2" || f.Get("gpt2.block_count") != uint32(2) ||
		!reflect.DeepEqual(f.Get("tokenizer.ggml.tokens"), []string{"a", "b", "ab"}) || !reflect.DeepEqual(f.Get("tokenizer.ggml.token_type"), []int32{1, 1, 1}) ||
		f.Get("flag") != true || f.Get("eps") != float32(1e-5) {
		t.Fatalf("metadata %+v", f.KV)
	}
	if f.DataOffset%32 != 0 {
		t.Fatalf("data at %d, not aligned", f.DataOffset)
	}
	for _, name := range []string{"w.q8", "w.f16", "w.f32"} {
		tt := f.Tensor(name)
		if tt == nil || tt.Offset%32 != 0 {
			t.Fatalf("tensor %s: %+v", name, tt)
		}
		data, err := f.TensorData(tt)
		if err != nil {
			t.Fatal(err)
		}
		vals, err := quant.Decode(tt.Type, data, int(tt.Elements()))
		if err != nil || vals[1] < -19.1 || vals[1] > -18.9 || tt.Type != quant.Q8_0 && vals[1] != -19 {
			t.Fatalf("tensor %s: %v, %v", name, vals, err)
		}
	}
}

// Damaged and hostile headers are errors that say what is wrong.
func TestHostile(t *testing.T) {
	raw := sample(t)
	for _, c := range []struct {
		name string
		edit func([]byte) []byte
		want string
	}{
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }, "not a GGUF file"},
		{"version", func(b []byte) []byte { b[4] = 9; return b }, "version 9"},
		{"tensors", func(b []byte) []byte { b[15] = 0x40; return b }, "tensors and"},
		{"truncated header", func(b []byte) []byte { return b[:60] }, "left in the file"},
		{"truncated data", func(b []byte) []byte { return b[:len(b)-10] }, "data section"},
		{"string length", func(b []byte) []byte { b[24+7] = 0x7f; return b }, "string of"},
	} {
		b := c.edit(append([]byte(nil), raw...))
		if _, err := Read(bytes.NewReader(b), int64(len(b))); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add(sample(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		for i := range file.Tensors {
			if _, err := file.TensorData(&file.Tensors[i]); err != nil {
				t.Fatalf("a tensor Read accepted cannot be read: %v", err)
			}
		}
	})
}
