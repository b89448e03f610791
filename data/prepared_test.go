package data_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/tokenizer"
)

func TestPreparedRoundTrip(t *testing.T) {
	tok, err := tokenizer.NewChar("abc")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "new", "folder")
	trainIDs, valIDs := []int{0, 1, 2, 2, 1}, []int{2, 0}
	if err := data.WritePrepared(dir, tok, data.NewTokens(trainIDs, 4), data.NewTokens(valIDs, 4)); err != nil {
		t.Fatal(err)
	}
	got, tr, va, err := data.ReadPrepared(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tr.Ints(), trainIDs) || !slices.Equal(va.Ints(), valIDs) || got.VocabSize() != 4 { // a, b, c and the unknown U+FFFD
		t.Errorf("read back %v %v (vocabulary %d)", tr, va, got.VocabSize())
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{".lock", "prepared.json", "tokenizer.json", "train.tok", "val.tok"}) {
		t.Errorf("files %v: want only the three, the manifest and the lock file, no temporary files", names)
	}
	// Interrupted half way (the manifest still says so), or with a file
	// changed afterwards, the folder is refused.
	raw, _ := os.ReadFile(filepath.Join(dir, "prepared.json"))
	os.WriteFile(filepath.Join(dir, "prepared.json"), []byte(`{"complete":false}`), 0o644)
	if _, _, _, err := data.ReadPrepared(dir); err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("an interrupted preparation: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "prepared.json"), raw, 0o644)
	other, _ := tokenizer.NewChar("abd")
	var tb strings.Builder
	tokenizer.Save(&tb, other)
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(tb.String()), 0o644)
	if _, _, _, err := data.ReadPrepared(dir); err == nil || !strings.Contains(err.Error(), "tokenizer.json is not the file") {
		t.Errorf("a tokenizer from another preparation: %v", err)
	}
}

func TestWritePreparedErrors(t *testing.T) {
	tok, _ := tokenizer.NewChar("abc")
	dir := filepath.Join(t.TempDir(), "p")
	if err := data.WritePrepared(dir, tok, data.NewTokens([]int{0, 1}, 5), data.NewTokens([]int{4}, 5)); err == nil || !strings.Contains(err.Error(), "validation token 4 at position 0") {
		t.Errorf("an id outside the vocabulary: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a rejected write created %s", dir)
	}
}

func TestReadPreparedErrors(t *testing.T) {
	tok, _ := tokenizer.NewChar("abc")
	var tb bytes.Buffer
	tokenizer.Save(&tb, tok)
	tokens := func(ids []int, vocab int) string {
		var b bytes.Buffer
		if err := data.WriteTokens(&b, data.NewTokens(ids, 1<<16), vocab); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	good := map[string]string{"tokenizer.json": tb.String(), "train.tok": tokens([]int{0, 1, 2}, 3), "val.tok": tokens([]int{1}, 3)}
	with := func(name, content string) map[string]string {
		m := map[string]string{}
		for k, v := range good {
			m[k] = v
		}
		if content == "" {
			delete(m, name)
		} else {
			m[name] = content
		}
		return m
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no_tokenizer", with("tokenizer.json", ""), "tokenizer.json: no such file"},
		{"bad_tokenizer", with("tokenizer.json", "{"), "tokenizer.json: "},
		{"no_val", with("val.tok", ""), "val.tok: no such file"},
		{"bad_train", with("train.tok", "MXTK"), "train.tok: not a token file"},
		{"outside_vocabulary", with("train.tok", tokens([]int{0, 7}, 8)), "train.tok: token 7 at position 1 is outside the tokenizer's vocabulary of 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := corpusDir(t, tc.files)
			_, _, _, err := data.ReadPrepared(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), dir) {
				t.Errorf("error %v, want %q and the folder", err, tc.want)
			}
		})
	}
}

func TestCheckWindows(t *testing.T) {
	ids := func(n int) data.Tokens { return data.NewTokens(make([]int, n), 2) }
	for _, tc := range []struct {
		name       string
		block      int
		train, val data.Tokens
		want       string
	}{
		{"fits", 4, ids(5), ids(5), ""},
		{"short_train", 4, ids(4), ids(9), filepath.Join("d", "train.tok") + ": 4 tokens, fewer than one window of 5"},
		{"short_val", 4, ids(9), ids(0), filepath.Join("d", "val.tok") + ": 0 tokens, fewer than one window of 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := data.CheckWindows("d", tc.block, tc.train, tc.val)
			if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
