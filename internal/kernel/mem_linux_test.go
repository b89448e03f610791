//go:build linux

package kernel

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// A large slice from Floats is zeroed and its memory is advised for huge
// pages: the kernel's map of this process flags the region holding its
// middle "hg" (VM_HUGEPAGE).
func TestFloatsHugePages(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage"); err != nil {
		t.Skip("this kernel has no transparent huge pages:", err)
	}
	s := Floats(4 * hugeMin)
	for i, v := range s {
		if v != 0 {
			t.Fatalf("s[%d] = %v", i, v)
		}
	}
	flags := func(p uintptr) string {
		data, err := os.ReadFile("/proc/self/smaps")
		if err != nil {
			t.Fatal(err)
		}
		in := false
		for _, line := range strings.Split(string(data), "\n") {
			var lo, hi uintptr
			if n, _ := fmt.Sscanf(line, "%x-%x", &lo, &hi); n == 2 { // a mapping's first line
				in = lo <= p && p < hi
			}
			if in && strings.HasPrefix(line, "VmFlags:") {
				return line
			}
		}
		t.Fatalf("no mapping holds %#x", p)
		return ""
	}
	mid := uintptr(unsafe.Pointer(&s[len(s)/2]))
	if f := flags(mid); !strings.Contains(f, " hg") {
		t.Errorf("a %d MB slice from Floats: %s, want hg (huge pages advised)", len(s)*4>>20, f)
	}
}

// Large scratch buffers come back from PutBuf to the next GetBuf of their
// class, advised for huge pages, instead of going to the collector.
func TestGetBufBig(t *testing.T) {
	p := GetBuf(hugeMin + 5)
	if len(*p) != hugeMin+5 || cap(*p) != 2*hugeMin {
		t.Fatalf("GetBuf(%d): len %d cap %d", hugeMin+5, len(*p), cap(*p))
	}
	PutBuf(p)
	q := GetBuf(2 * hugeMin)
	if q != p || len(*q) != 2*hugeMin {
		t.Fatalf("GetBuf after PutBuf: a new buffer (len %d), want the one given back", len(*q))
	}
	PutBuf(q)
}
