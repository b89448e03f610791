package data

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ReadGoSource concatenates the non-test .go files under root, in path
// order, skipping testdata and vendor folders, until limit bytes (the
// built-in corpus of moxing demo: every Go toolchain ships its source). It
// returns the text and the number of files read.
func ReadGoSource(root string, limit int) (string, int, error) {
	var b strings.Builder
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable folders are skipped
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		if b.Len() >= limit {
			return filepath.SkipAll
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		b.Write(src)
		b.WriteByte('\n')
		files++
		return nil
	})
	if err != nil {
		return "", 0, err
	}
	if b.Len() == 0 {
		return "", 0, fmt.Errorf("no Go source under %s", root)
	}
	return b.String(), files, nil
}
