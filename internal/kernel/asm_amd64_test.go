//go:build amd64 && !purego

package kernel

import (
	"os"
	"regexp"
	"testing"

	"golang.org/x/sys/cpu"
)

// The generated kernels keep every value in registers: each has a zero-size
// stack frame (avo fails rather than spill, but a hand edit or a generator
// change could add one) and never addresses the stack.
func TestAssemblyKeepsValuesInRegisters(t *testing.T) {
	src, err := os.ReadFile("sgemm_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	texts := regexp.MustCompile(`(?m)^TEXT ·(\w+)\(SB\), \w+, \$(\d+)-\d+$`).FindAllSubmatch(src, -1)
	if len(texts) < 10 {
		t.Fatalf("found %d TEXT lines in sgemm_amd64.s", len(texts))
	}
	for _, m := range texts {
		if string(m[2]) != "0" {
			t.Errorf("%s has a %s-byte stack frame", m[1], m[2])
		}
	}
	if sp := regexp.MustCompile(`\(SP\)`).FindAll(src, -1); len(sp) > 0 {
		t.Errorf("sgemm_amd64.s addresses the stack %d times", len(sp))
	}
}

// Where the CPU has VNNI, the AVX-512 Q8_0 kernel without it is tested too.
func init() {
	if impls[0] == avx512VNNI {
		im := *avx512
		im.name = "avx512 without VNNI"
		q8Variants = append(q8Variants, &im)
	}
}

// The best implementation the CPU can run is the one in use, and
// MOXING_EXPECT_KERNELS, when set (scripts/test.sh sets it to avx512 on the
// emulated CPU), names it: the avx512 subtests must not pass by being absent.
func TestBestImplActive(t *testing.T) {
	want := "go"
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		want = "avx512"
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		want = "avx2"
	}
	if impls[0].name != want {
		t.Errorf("best implementation %s, want %s for this CPU", impls[0].name, want)
	}
	if os.Getenv("MOXING_KERNELS") == "" && active != impls[0] {
		t.Errorf("active implementation %s, want the best, %s", active.name, impls[0].name)
	}
	if env := os.Getenv("MOXING_EXPECT_KERNELS"); env != "" && env != want {
		t.Errorf("MOXING_EXPECT_KERNELS=%s, but this CPU runs %s", env, want)
	}
}
