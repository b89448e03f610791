package quant

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// Every half converts to float32 and back to itself (NaNs stay NaN), and
// rounding a float32 picks the nearer of the two halves around it, ties
// to the even one.
func TestF16(t *testing.T) {
	for h := range 1 << 16 {
		f := FromF16(uint16(h))
		back := ToF16(f)
		if f != f {
			if back&0x7c00 != 0x7c00 || back&0x3ff == 0 {
				t.Fatalf("NaN %#04x came back as %#04x", h, back)
			}
			continue
		}
		if back != uint16(h) {
			t.Fatalf("half %#04x = %g came back as %#04x", h, f, back)
		}
	}
	// Between consecutive positive finite halves a and b: the midpoint
	// rounds to the even one, a little either side to the nearer.
	for h := uint16(0); h < 0x7bff; h++ {
		a, b := float64(FromF16(h)), float64(FromF16(h+1))
		mid := float32((a + b) / 2)
		even := h
		if h&1 == 1 {
			even = h + 1
		}
		if float64(mid) == (a+b)/2 && ToF16(mid) != even {
			t.Fatalf("midpoint %g of %#04x and %#04x rounded to %#04x", mid, h, h+1, ToF16(mid))
		}
		if lo := math.Nextafter32(mid, float32(a)); float64(lo) > a && ToF16(lo) != h {
			t.Fatalf("%g, just below the midpoint of %#04x and %#04x, rounded to %#04x", lo, h, h+1, ToF16(lo))
		}
	}
	if ToF16(70000) != 0x7c00 || ToF16(-1e-10) != 0x8000 || ToF16(65520) != 0x7c00 || ToF16(65519) != 0x7bff {
		t.Fatal("overflow or underflow")
	}
}

func TestBF16(t *testing.T) {
	for _, c := range []struct {
		f    float32
		want uint16
	}{{1, 0x3f80}, {-2, 0xc000}, {math.Float32frombits(0x3f808000), 0x3f80}, {math.Float32frombits(0x3f818000), 0x3f82}, {math.Float32frombits(0x3f808001), 0x3f81}} {
		if got := ToBF16(c.f); got != c.want {
			t.Errorf("ToBF16(%#08x) = %#04x, want %#04x", math.Float32bits(c.f), got, c.want)
		}
	}
	if FromBF16(0x3f80) != 1 || ToBF16(float32(math.NaN()))&0x7fc0 != 0x7fc0 {
		t.Fatal("bf16")
	}
}

// A Q8_0 block is an F16 scale max|x|/127 and x·(1/d) rounded half away
// from zero; decoding gives every value to within half a step.
func TestQ8_0(t *testing.T) {
	x := make([]float32, 64)
	x[0], x[1], x[2], x[3] = 127, -127, 0.5, -0.5 // d = 1: halves round away from zero
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 32; i < 64; i++ {
		x[i] = float32(rng.NormFloat64())
	}
	enc := Encode(Q8_0, x)
	if len(enc) != 68 || binary.LittleEndian.Uint16(enc) != 0x3c00 {
		t.Fatalf("%d bytes, scale %#04x; want 68 and 1.0 (0x3c00)", len(enc), binary.LittleEndian.Uint16(enc))
	}
	if q := []int8{int8(enc[2]), int8(enc[3]), int8(enc[4]), int8(enc[5]), int8(enc[6])}; q[0] != 127 || q[1] != -127 || q[2] != 1 || q[3] != -1 || q[4] != 0 {
		t.Fatalf("quantized %v", q)
	}
	dec, err := Decode(Q8_0, enc, 64)
	if err != nil {
		t.Fatal(err)
	}
	d := float64(FromF16(binary.LittleEndian.Uint16(enc[34:])))
	for i := 32; i < 64; i++ {
		if math.Abs(float64(dec[i]-x[i])) > d/2+1e-6 {
			t.Fatalf("value %d: %g decoded as %g (step %g)", i, x[i], dec[i], d)
		}
	}
	zero := Encode(Q8_0, make([]float32, 32))
	if z, _ := Decode(Q8_0, zero, 32); z[0] != 0 || z[31] != 0 {
		t.Fatal("a block of zeros")
	}
	if _, err := Decode(Q8_0, enc[:67], 64); err == nil {
		t.Fatal("a short Q8_0 buffer decoded")
	}
}
