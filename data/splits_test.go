package data

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moxing/moxing/tokenizer"
)

// SplitTable splits, fits on the training rows only, and says which rows
// went where; a validation share that leaves no rows is an error naming
// the table.
func TestSplitTable(t *testing.T) {
	var b strings.Builder
	b.WriteString("x,y\n")
	for i := range 40 {
		b.WriteString([]string{"1,a\n", "2,b\n", "30,a\n", "4,b\n"}[i%4])
	}
	table, err := ReadCSV(strings.NewReader(b.String()), "t.csv", CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := SplitTable(table, SchemaOptions{}, 0.25, 0.25, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	all := slices.Concat(s.Rows["train"], s.Rows["val"], s.Rows["test"])
	slices.Sort(all)
	if len(all) != 40 || all[0] != 0 || all[39] != 39 || s.Train.Len() != len(s.Rows["train"]) || s.Val.Len() != 10 || s.Test.Len() != 10 {
		t.Fatalf("rows %v; sets %d/%d/%d", s.Rows, s.Train.Len(), s.Val.Len(), s.Test.Len())
	}
	if got := s.Train.X.Data; len(got) == 0 {
		t.Fatal("no features")
	}
	if _, err := SplitTable(table, SchemaOptions{}, 0.001, 0, rand.New(rand.NewPCG(1, 2))); err == nil || !strings.Contains(err.Error(), "t.csv") {
		t.Fatalf("no validation rows: %v", err)
	}
}

// ReadTextSets encodes, labels and splits a labelled file, or validates
// on another file, counting texts cut to the window.
func TestReadTextSets(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 20 {
		b.WriteString([]string{`{"text": "good good food", "label": "pos"}`, `{"text": "bad", "label": "neg"}`}[i%2] + "\n")
	}
	path := filepath.Join(dir, "train.jsonl")
	os.WriteFile(path, []byte(b.String()), 0o644)
	val := filepath.Join(dir, "val.jsonl")
	os.WriteFile(val, []byte(`{"text": "good", "label": "pos"}`+"\n"+`{"text": "meh", "label": "meh"}`+"\n"), 0o644)
	tok, err := tokenizer.NewChar("good bad food meh")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ReadTextSets(tok, 4, path, "", TextOptions{}, 0.2, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if s.Train.Len() != 16 || s.Val.Len() != 4 || !slices.Equal(s.Classes, []string{"neg", "pos"}) || s.Cut != 10 {
		t.Fatalf("%d train, %d validation, classes %v, %d cut", s.Train.Len(), s.Val.Len(), s.Classes, s.Cut)
	}
	if _, err := ReadTextSets(tok, 4, path, val, TextOptions{}, 0.2, nil); err == nil || !strings.Contains(err.Error(), `"meh"`) {
		t.Fatalf("a validation label unknown to training: %v", err)
	}
}
