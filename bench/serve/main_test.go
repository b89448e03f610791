package main

import (
	"testing"
	"time"
)

// The load test's quick version, as CI runs it: the tiny config at
// concurrency 1 and 8 for 1.5 s each, every request served in full.
func TestLoadQuick(t *testing.T) {
	url, stop, err := start("tiny", 8, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for _, c := range []int{1, 8} {
		l := Run(url, c, 1500*time.Millisecond, 64)
		if l.Failed > 0 || l.Requests == 0 || l.Tokens != 64*l.Requests {
			t.Fatalf("concurrency %d: %d requests, %d failed (%s), %d tokens", c, l.Requests, l.Failed, l.FirstError, l.Tokens)
		}
		t.Logf("concurrency %d: %d requests, %.0f tokens/s, TTFT p50 %.1f ms, peak RSS %.0f MB", c, l.Requests, l.TokensPerS, l.TTFT50, l.PeakRSSMB)
	}
}
