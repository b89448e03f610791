package data_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/tokenizer"
)

// corpusDir writes files (path → content) under a temporary folder and
// returns it.
func corpusDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadCorpus(t *testing.T) {
	dir := corpusDir(t, map[string]string{
		"books/b.txt":      "B.",
		"books/a.txt":      "A.",
		"books/deep/c.txt": "C.",
		"books/notes.md":   "# notes",
		"books/README":     "readme",
		"code/x.go":        "package x",
		"ca01":             "The/at dog/nn ./.",
		"single.dat":       "raw",
		"empty/.keep.md":   "",
	})
	at := func(p string) string { return filepath.Join(dir, p) }
	for _, tc := range []struct {
		name    string
		list    string
		format  string
		exts    []string
		parts   []string // texts
		items   []string
		files   int
		skipped int
	}{
		{"folder_sorted_recursive", at("books"), "", nil, []string{"A.B.C."}, []string{at("books")}, 3, 2},
		{"file_any_extension", at("single.dat"), "text", nil, []string{"raw"}, []string{at("single.dat")}, 1, 0},
		{"glob", at("books/*.txt"), "", nil, []string{"A.B."}, []string{at("books/*.txt")}, 2, 0},
		{"two_items", at("books") + " , " + at("single.dat") + ",", "", nil, []string{"A.B.C.", "raw"}, []string{at("books"), at("single.dat")}, 4, 2},
		{"brown_prefix", "brown:" + at("ca01") + "," + at("single.dat"), "", nil, []string{"The dog .", "raw"}, []string{at("ca01"), at("single.dat")}, 2, 0},
		{"brown_format", at("ca01"), "brown", nil, []string{"The dog ."}, []string{at("ca01")}, 1, 0},
		{"text_prefix_overrides", "text:" + at("ca01"), "brown", nil, []string{"The/at dog/nn ./."}, []string{at("ca01")}, 1, 0},
		{"exts", at("books"), "", []string{".md", "txt"}, []string{"A.B.C.# notes"}, []string{at("books")}, 4, 1},
		{"every_file", at("code"), "", []string{""}, []string{"package x"}, []string{at("code")}, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := data.ReadCorpus(tc.list, tc.format, tc.exts)
			if err != nil {
				t.Fatal(err)
			}
			var texts, items []string
			for _, p := range c.Parts {
				texts, items = append(texts, strings.TrimSpace(p.Text)), append(items, p.Item)
			}
			if !slices.Equal(texts, tc.parts) || !slices.Equal(items, tc.items) || c.Files != tc.files || c.Skipped != tc.skipped {
				t.Errorf("parts %q items %q, %d files, %d skipped; want %q %q, %d, %d", texts, items, c.Files, c.Skipped, tc.parts, tc.items, tc.files, tc.skipped)
			}
			if c.Text() != strings.Join(func() []string {
				var s []string
				for _, p := range c.Parts {
					s = append(s, p.Text)
				}
				return s
			}(), "") {
				t.Error("Text is not the parts' texts concatenated")
			}
		})
	}
}

func TestReadCorpusErrors(t *testing.T) {
	dir := corpusDir(t, map[string]string{
		"code/x.go":   "package x",
		"code/y.md":   "y",
		"code/z.go":   "package z",
		"blank.txt":   "",
		"nothing/a/b": "",
	})
	os.MkdirAll(filepath.Join(dir, "hollow"), 0o755)
	at := func(p string) string { return filepath.Join(dir, p) }
	os.MkdirAll(at("pipes"), 0o755)
	if err := syscall.Mkfifo(at("pipes/p.txt"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A sparse file over MaxCorpusBytes: refused by its size, before reading.
	huge, err := os.Create(at("huge.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := huge.Truncate(data.MaxCorpusBytes + 1); err != nil {
		t.Fatal(err)
	}
	huge.Close()
	for _, tc := range []struct {
		name   string
		list   string
		format string
		empty  bool // wraps ErrEmptyCorpus
		want   string
	}{
		{"other_extensions", at("code"), "", true,
			`corpus item "` + at("code") + `": the corpus is empty: no .txt files in folder ` + at("code") + ` (3 files with other extensions: .go, .md)`},
		{"empty_folder", at("hollow"), "", true, "no .txt files in folder " + at("hollow")},
		{"no_extension", at("nothing"), "", true, "(1 files with other extensions: (no extension))"},
		{"empty_file", at("blank.txt"), "", true, `corpus item "` + at("blank.txt") + `": the corpus is empty: its 1 file(s) hold no text`},
		{"no_such_file", at("nope*.txt"), "", false, `corpus item "` + at("nope*.txt") + `": no such file`},
		{"brown_missing", "brown:" + at("none*"), "", false, `corpus item "` + at("none*") + `": no such file`},
		{"bad_glob", at("[x"), "", false, "syntax error in pattern"},
		{"no_items", " , ,", "", true, `corpus list " , ,": the corpus is empty: it names no file`},
		{"bad_format", at("blank.txt"), "html", false, `corpus format "html": want text or brown`},
		{"device", "/dev/zero", "", false, `corpus item "/dev/zero": /dev/zero is not a regular file`},
		{"fifo_in_folder", at("pipes"), "", false, "p.txt is not a regular file"},
		{"too_big", at("huge.txt"), "", false, "huge.txt: the corpus is over 4294967296 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := data.ReadCorpus(tc.list, tc.format, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, data.ErrEmptyCorpus) != tc.empty {
				t.Errorf("error %v, want %q (empty corpus: %v)", err, tc.want, tc.empty)
			}
		})
	}
}

func TestCorpusEncode(t *testing.T) {
	c := &data.Corpus{Parts: []data.CorpusPart{{Item: "a", Text: "aaaaaaaaab"}, {Item: "b", Text: "ccccd"}}}
	tok, err := tokenizer.NewChar(c.Text())
	if err != nil {
		t.Fatal(err)
	}
	trainIDs, valIDs, err := c.Encode(tok, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	train, _ := tok.Decode(trainIDs.Ints())
	val, _ := tok.Decode(valIDs.Ints())
	if train != "aaaaaaaacccc" || val != "abd" {
		t.Errorf("train %q, validation %q: want each part's end in validation", train, val)
	}
	for _, tc := range []struct {
		name string
		c    *data.Corpus
		val  float64
		want string
	}{
		{"unknown_char", &data.Corpus{Parts: []data.CorpusPart{{Item: "x.txt", Text: "abz"}}}, 0.1, `corpus item "x.txt": `},
		{"val_zero", c, 0, "validation fraction 0"},
		{"val_one", c, 1, "validation fraction 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := tc.c.Encode(tok, tc.val); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
