package data_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/moxing/moxing/data"
)

// A folder's fingerprint follows its files' names and bytes, and not its
// hidden files (the lock).
func TestFingerprint(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.tok"), []byte("one"), 0o644)
	first, err := data.Fingerprint(dir)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, ".lock"), []byte("123"), 0o644)
	if again, _ := data.Fingerprint(dir); again != first {
		t.Error("a hidden file changed the fingerprint")
	}
	os.WriteFile(filepath.Join(dir, "a.tok"), []byte("two"), 0o644)
	if changed, _ := data.Fingerprint(dir); changed == first {
		t.Error("changed bytes kept the fingerprint")
	}
	os.Rename(filepath.Join(dir, "a.tok"), filepath.Join(dir, "b.tok"))
	renamed, _ := data.Fingerprint(dir)
	os.WriteFile(filepath.Join(dir, "b.tok"), []byte("one"), 0o644)
	if again, _ := data.Fingerprint(dir); again == first || again == renamed {
		t.Error("a renamed file kept the fingerprint")
	}
	if _, err := data.Fingerprint(filepath.Join(dir, "missing")); err == nil {
		t.Error("no error for a missing path")
	}
}
