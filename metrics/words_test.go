package metrics

import "testing"

func TestWordsSeen(t *testing.T) {
	seen, words := WordsSeen("func Foo(x int) { 2nd _ok Bar }", "func Foo(y int) { _ok := 1 }")
	// func Foo x int _ok Bar: 6 words ("2nd" starts with a digit); 4 seen.
	if seen != 4 || words != 6 {
		t.Fatalf("%d of %d words seen, want 4 of 6", seen, words)
	}
}
