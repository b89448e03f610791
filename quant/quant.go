// Package quant converts float32 values to and from the smaller formats
// weights are stored in: IEEE half precision (F16), bfloat16 (BF16), and
// Q8_0, blocks of 32 int8 values with a half-precision scale each. Every
// conversion is bit-compatible with GGML's (llama.cpp's), so that a GGUF
// file moxing writes holds the bytes llama.cpp would.
package quant

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/moxing/moxing/internal/kernel"
)

// Type is a storage format of tensor values, numbered as GGML numbers them
// (ggml_type), which is what GGUF files record.
type Type uint32

const (
	F32  Type = 0
	F16  Type = 1
	Q8_0 Type = 8
	BF16 Type = 30
)

// String is the format's name as llama.cpp and moxing's flags spell it.
func (t Type) String() string {
	switch t {
	case F32:
		return "f32"
	case F16:
		return "f16"
	case Q8_0:
		return "q8_0"
	case BF16:
		return "bf16"
	}
	return fmt.Sprintf("ggml type %d", uint32(t))
}

// Parse returns the format named s: f32, f16, bf16 or q8_0.
func Parse(s string) (Type, error) {
	for _, t := range []Type{F32, F16, BF16, Q8_0} {
		if t.String() == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("quant: format %q: want f32, f16, bf16 or q8_0", s)
}

// BlockSize is how many values one block of t holds (1 for the float
// formats), and BlockBytes how many bytes it takes.
func (t Type) BlockSize() int {
	if t == Q8_0 {
		return 32
	}
	return 1
}

func (t Type) BlockBytes() int {
	switch t {
	case F32:
		return 4
	case F16, BF16:
		return 2
	case Q8_0:
		return 34
	}
	return 0
}

// Known reports whether moxing reads and writes t.
func (t Type) Known() bool { return t.BlockBytes() > 0 }

// Bytes is the size of n values in format t; n must be a multiple of the
// block size.
func (t Type) Bytes(n int) int { return n / t.BlockSize() * t.BlockBytes() }

// Encode stores src in format t (len(src) a multiple of its block size).
func Encode(t Type, src []float32) []byte {
	if len(src)%t.BlockSize() != 0 || !t.Known() {
		panic(fmt.Sprintf("quant: Encode of %d values as %v", len(src), t))
	}
	dst := make([]byte, t.Bytes(len(src)))
	switch t {
	case F32:
		for i, v := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
		}
	case F16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], ToF16(v))
		}
	case BF16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], ToBF16(v))
		}
	case Q8_0:
		var q kernel.Q8 // GGML's rounding (see kernel.QuantizeQ8); the scale stored as F16
		kernel.QuantizeQ8(&q, src, 1, len(src))
		for b, d := range q.D {
			blk := dst[34*b : 34*b+34]
			binary.LittleEndian.PutUint16(blk, ToF16(d))
			for j, v := range q.Qs[32*b : 32*b+32] {
				blk[2+j] = byte(v)
			}
		}
	}
	return dst
}

// Decode reads n values of format t from src, which must hold exactly
// t.Bytes(n) bytes, into float32.
func Decode(t Type, src []byte, n int) ([]float32, error) {
	if !t.Known() || n%t.BlockSize() != 0 || len(src) != t.Bytes(n) {
		return nil, fmt.Errorf("quant: %d bytes are not %d values of %v", len(src), n, t)
	}
	dst := make([]float32, n)
	switch t {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = FromF16(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = FromBF16(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case Q8_0:
		for b := range n / 32 {
			blk := src[34*b : 34*b+34]
			d := FromF16(binary.LittleEndian.Uint16(blk))
			for j, q := range blk[2:] {
				dst[32*b+j] = d * float32(int8(q))
			}
		}
	}
	return dst, nil
}

// ToF16 rounds f to the nearest IEEE half (ties to even), as F16C's
// vcvtps2ph does: overflow gives infinity, NaN stays NaN.
func ToF16(f float32) uint16 { return kernel.FloatToHalf(f) }

// FromF16 is the float32 value of the half h (exact).
func FromF16(h uint16) float32 { return kernel.HalfToFloat(h) }

// ToBF16 rounds f to bfloat16 (ties to even) as GGML does; a NaN stays a
// quiet NaN.
func ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 64
	}
	return uint16((u + (0x7fff + (u>>16)&1)) >> 16)
}

// FromBF16 is the float32 value of the bfloat16 h (exact).
func FromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Blocks calls f for each run of 32 values along dimension axis of a
// row-major tensor of shape (shape[axis] a multiple of 32): the runs a
// Q8_0 tensor stored along that axis is made of. idx holds the run's flat
// indices (reused between calls), block counts the runs from 0 in the
// order of the tensor with shape[axis] divided by 32: the index of the
// run's scale.
func Blocks(shape []int, axis int, f func(idx []int, block int)) {
	inner := 1
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	outer := 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	nb := shape[axis] / 32
	idx := make([]int, 32)
	block := 0
	for o := range outer {
		for b := range nb {
			for r := range inner {
				base := (o*shape[axis]+32*b)*inner + r
				for j := range idx {
					idx[j] = base + j*inner
				}
				f(idx, block)
				block++
			}
		}
	}
}

// Q8Along stores a row-major tensor of shape (shape[axis] a multiple of
// 32) as Q8_0 blocks of 32 along axis, as Encode rounds them: qs holds the
// int8 values in data's order, scales each block's float16 scale in
// Blocks' order.
func Q8Along(data []float32, shape []int, axis int) (qs []int8, scales []uint16) {
	qs, scales = make([]int8, len(data)), make([]uint16, len(data)/32)
	var q kernel.Q8 // reused: no allocation a block
	var run [32]float32
	Blocks(shape, axis, func(idx []int, b int) {
		for j, i := range idx {
			run[j] = data[i]
		}
		kernel.QuantizeQ8(&q, run[:], 1, 32) // its scale is already a half's value
		scales[b] = ToF16(q.D[0])
		for j, i := range idx {
			qs[i] = q.Qs[j]
		}
	})
	return qs, scales
}

// DequantizeAlong sets dst (of shape) to the values of Q8_0 blocks along
// axis, as Q8Along stores them: scale × int8.
func DequantizeAlong(dst []float32, qs []int8, scales []uint16, shape []int, axis int) {
	Blocks(shape, axis, func(idx []int, b int) {
		d := FromF16(scales[b])
		for _, i := range idx {
			dst[i] = d * float32(qs[i])
		}
	})
}

// Round replaces the values of a row-major tensor of shape by the values
// format t stores for them: F16 and BF16 round each value, Q8_0 decodes
// the blocks of 32 along dimension axis.
func Round(t Type, data []float32, shape []int, axis int) {
	switch t {
	case F16:
		for i, v := range data {
			data[i] = FromF16(ToF16(v))
		}
	case BF16:
		for i, v := range data {
			data[i] = FromBF16(ToBF16(v))
		}
	case Q8_0:
		qs, scales := Q8Along(data, shape, axis)
		DequantizeAlong(data, qs, scales, shape, axis)
	}
}
