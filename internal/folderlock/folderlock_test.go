package folderlock

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

// A locked folder cannot be locked again until it is unlocked; the error
// names the holder.
func TestLock(t *testing.T) {
	dir := t.TempDir()
	unlock, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Lock(dir)
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "process "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("a second lock: %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	again, err := Lock(dir)
	if err != nil {
		t.Fatalf("after unlocking: %v", err)
	}
	again()
	r1, err1 := LockShared(dir)
	r2, err2 := LockShared(dir)
	if err1 != nil || err2 != nil {
		t.Fatalf("two readers: %v, %v", err1, err2)
	}
	if _, err := Lock(dir); !errors.Is(err, ErrInUse) {
		t.Fatalf("a writer while two read: %v", err)
	}
	r1()
	r2()
	if _, err := Lock(dir + "/missing"); err == nil {
		t.Fatal("locked a folder that does not exist")
	}
}
