package checkpoint

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/moxing/moxing/quant"
)

// dtype is a safetensors element type that Read converts to float32.
type dtype struct {
	name string
	size int64 // bytes per element
	// decode converts len(dst) little-endian elements from src.
	decode func(dst []float32, src []byte)
}

var dtypes = []dtype{
	{"F32", 4, func(dst []float32, src []byte) {
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	}},
	{"F16", 2, func(dst []float32, src []byte) {
		for i := range dst {
			dst[i] = quant.FromF16(binary.LittleEndian.Uint16(src[2*i:]))
		}
	}},
	{"BF16", 2, func(dst []float32, src []byte) {
		for i := range dst {
			dst[i] = quant.FromBF16(binary.LittleEndian.Uint16(src[2*i:]))
		}
	}},
	{"I8", 1, func(dst []float32, src []byte) { // read only as Q8_0 values (pairScales)
		for i := range dst {
			dst[i] = float32(int8(src[i]))
		}
	}},
	{"F64", 8, func(dst []float32, src []byte) {
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
	}},
}

// otherDtypes are the safetensors dtypes that Read recognises but rejects.
var otherDtypes = map[string]bool{
	"BOOL": true, "U8": true, "I16": true, "U16": true, "I32": true, "U32": true,
	"I64": true, "U64": true, "F8_E4M3": true, "F8_E5M2": true, "F8_E8M0": true,
	"F6_E2M3": true, "F6_E3M2": true, "F4": true, "C64": true,
}

func parseDtype(name string) (dtype, error) {
	for _, dt := range dtypes {
		if dt.name == name {
			return dt, nil
		}
	}
	if otherDtypes[name] {
		return dtype{}, fmt.Errorf("dtype %q is not supported (moxing reads F32, F16, BF16, F64, and I8 as Q8_0 values with their scales)", name)
	}
	return dtype{}, fmt.Errorf("dtype %q is unknown", clip([]byte(name)))
}

// chunkSize is the size of the buffer used to convert tensor data.
const chunkSize = 64 << 10

// readData reads numel elements of type dt at off and converts them.
func readData(r io.ReaderAt, off int64, dt dtype, numel int) ([]float32, error) {
	out := make([]float32, numel)
	per := chunkSize / int(dt.size)
	buf := make([]byte, min(numel, per)*int(dt.size))
	for i := 0; i < numel; i += per {
		k := min(numel-i, per)
		b := buf[:k*int(dt.size)]
		if err := readFull(r, b, off+int64(i)*dt.size); err != nil {
			return nil, err
		}
		dt.decode(out[i:i+k], b)
	}
	return out, nil
}
