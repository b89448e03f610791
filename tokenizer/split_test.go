package tokenizer

import (
	"slices"
	"testing"
)

// TestPieces spells out GPT-2's pattern on its edge cases; the parity tests
// against tiktoken cover it at large.
func TestPieces(t *testing.T) {
	for _, tt := range []struct {
		text string
		want []string
	}{
		{"Hello world", []string{"Hello", " world"}},
		{"don't you'll", []string{"don", "'t", " you", "'ll"}},
		{"'sa 'S", []string{"'s", "a", " '", "S"}},
		{"a  \n\n\t b   ", []string{"a", "  \n\n\t", " b", "   "}},
		{"x\ny", []string{"x", "\n", "y"}},
		{"x \ny", []string{"x", " ", "\n", "y"}},
		{"1851, 3.14!?", []string{"1851", ",", " 3", ".", "14", "!?"}},
		{"天地玄黄，宇宙", []string{"天地玄黄", "，", "宇宙"}},
		{" 👩‍👩‍👧!", []string{" 👩‍👩‍👧!"}},
		{"e\u0301t\u00e9", []string{"e", "\u0301", "t\u00e9"}},
		{"a\u00a0b\u3000 c", []string{"a", "\u00a0", "b", "\u3000", " c"}},
		{" ", []string{" "}},
		{"", nil},
	} {
		got := slices.Collect(pieces(tt.text))
		if !slices.Equal(got, tt.want) {
			t.Errorf("pieces(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}
