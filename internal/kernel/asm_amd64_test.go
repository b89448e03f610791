//go:build amd64 && !purego

package kernel

import (
	"os"
	"regexp"
	"testing"
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
