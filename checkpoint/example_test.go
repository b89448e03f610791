package checkpoint_test

import (
	"bytes"
	"fmt"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/tensor"
)

func Example() {
	var buf bytes.Buffer
	err := checkpoint.Write(&buf, map[string]*tensor.Tensor{
		"wte": tensor.New([]float32{0.5, -1, 2, 4}, 2, 2),
	}, map[string]string{"format": "pt"})
	if err != nil {
		panic(err)
	}
	f, err := checkpoint.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		panic(err)
	}
	fmt.Println(f.Tensors["wte"], f.Metadata["format"])

	_, err = checkpoint.Read(bytes.NewReader([]byte("a,b\n1,2\n")), 8)
	fmt.Println(err)
	// Output:
	// Tensor[2 2][0.5 -1 2 4] pt
	// checkpoint: not a safetensors file: header length 734698278354037857 is over the 104857600-byte limit
}
