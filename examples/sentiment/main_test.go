package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The example runs end to end on a tiny budget (2 pretraining steps, one
// epoch) on the real data: every step of the pipeline works. Accuracy is
// measured at full size by bench/sentiment.py.
func TestSentimentExample(t *testing.T) {
	if testing.Short() {
		t.Skip("tokenizes the Brown corpus and trains")
	}
	o := options{dataDir: dataDir(), pretrainSteps: 2, epochs: 1, lora: 4}
	if _, err := os.Stat(filepath.Join(o.dataDir, "npm", "node_modules", "sentiment", "test", "fixtures", "yelp.json")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the sentiment data is missing under CI: %v", err)
		}
		t.Skipf("the sentiment data is missing (%v): run scripts/fetch-data.sh", err)
	}
	var out strings.Builder
	if err := run(context.Background(), &out, o); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pretraining a", "fine-tuning", "Yelp: accuracy", "→ class"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}
