package checkpoint

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
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
			dst[i] = float16(binary.LittleEndian.Uint16(src[2*i:]))
		}
	}},
	{"BF16", 2, func(dst []float32, src []byte) {
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
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
	"BOOL": true, "U8": true, "I8": true, "I16": true, "U16": true, "I32": true, "U32": true,
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
		return dtype{}, fmt.Errorf("dtype %q is not supported (moxing reads F32, F16, BF16 and F64)", name)
	}
	return dtype{}, fmt.Errorf("dtype %q is unknown", clip([]byte(name)))
}

// float16 converts IEEE 754 half-precision bits to float32 (exactly: every
// half value is a float32 value).
func float16(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN, payload kept
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp != 0: // normal: rebias the exponent from 15 to 127
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	default: // zero or subnormal: mant × 2^-24
		v := float32(mant) / (1 << 24)
		return math.Float32frombits(sign | math.Float32bits(v))
	}
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
