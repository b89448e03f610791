package data

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/moxing/moxing/internal/atomicfile"
	"github.com/moxing/moxing/internal/folderlock"
	"github.com/moxing/moxing/tokenizer"
)

// A prepared corpus is a folder of three files: tokenizer.json (see
// tokenizer.Save), and train.tok and val.tok, its training and validation
// tokens (see WriteTokens); and prepared.json, which says whether the
// three were written whole and together, with their SHA-256.
const (
	preparedTokenizer = "tokenizer.json"
	preparedTrain     = "train.tok"
	preparedVal       = "val.tok"
	preparedManifest  = "prepared.json"
)

// manifest is prepared.json.
type manifest struct {
	Complete bool              `json:"complete"` // false while the files are being written
	SHA256   map[string]string `json:"sha256,omitempty"`
}

// WritePrepared writes a prepared corpus into dir, creating it if needed:
// tok, and the token files of trainIDs and valIDs. Each file is written
// atomically (a reader sees the old file or the new one); the ids are
// checked against tok's vocabulary before anything is written.
func WritePrepared(dir string, tok tokenizer.Tokenizer, trainIDs, valIDs Tokens) error {
	vocab := tok.VocabSize()
	for _, f := range []struct {
		name string
		ids  Tokens
	}{{"training", trainIDs}, {"validation", valIDs}} {
		for i := range f.ids.Len() {
			if id := f.ids.At(i); id >= vocab {
				return fmt.Errorf("data: %s token %d at position %d is outside the tokenizer's vocabulary of %d", f.name, id, i, vocab)
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	unlock, err := folderlock.Lock(dir)
	if err != nil {
		return err
	}
	defer unlock()
	// Mark the folder incomplete first: killed half way, it holds a
	// manifest that says so, not a new tokenizer beside old tokens.
	if err := writeManifest(dir, manifest{}); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, preparedTokenizer), func(w io.Writer) error { return tokenizer.Save(w, tok) }); err != nil {
		return err
	}
	for name, ids := range map[string]Tokens{preparedTrain: trainIDs, preparedVal: valIDs} {
		if err := atomicfile.Write(filepath.Join(dir, name), func(w io.Writer) error { return WriteTokens(w, ids, vocab) }); err != nil {
			return err
		}
	}
	m := manifest{Complete: true, SHA256: map[string]string{}}
	for _, name := range []string{preparedTokenizer, preparedTrain, preparedVal} {
		fp, err := Fingerprint(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		m.SHA256[name] = fp
	}
	return writeManifest(dir, m)
}

func writeManifest(dir string, m manifest) error {
	return atomicfile.Write(filepath.Join(dir, preparedManifest), func(w io.Writer) error { return json.NewEncoder(w).Encode(m) })
}

// checkManifest reports a prepared folder whose writing was interrupted,
// or whose files are not the ones written together. A folder without
// prepared.json (written before it existed) is taken as it is.
func checkManifest(dir string) error {
	path := filepath.Join(dir, preparedManifest)
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var m manifest
	if err == nil {
		err = json.Unmarshal(raw, &m)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if !m.Complete {
		return fmt.Errorf("%s: the folder's preparation was interrupted (moxing prepare did not finish): prepare it again", dir)
	}
	for name, want := range m.SHA256 {
		if got, err := Fingerprint(filepath.Join(dir, name)); err != nil || got != want {
			return fmt.Errorf("%s: %s is not the file moxing prepare wrote with the others (changed since): prepare the folder again", dir, name)
		}
	}
	return nil
}

// ReadPrepared reads the prepared corpus in dir (see WritePrepared): its
// tokenizer and its training and validation tokens. Errors name the file:
// a missing one, a tokenizer or token file that does not parse, a token
// outside the tokenizer's vocabulary.
func ReadPrepared(dir string) (tok tokenizer.Tokenizer, trainIDs, valIDs Tokens, err error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		_, err = os.Open(filepath.Join(dir, preparedTokenizer)) // names what is missing
		return nil, Tokens{}, Tokens{}, err
	}
	unlock, err := folderlock.LockShared(dir)
	if err != nil {
		return nil, Tokens{}, Tokens{}, err
	}
	defer unlock()
	if err := checkManifest(dir); err != nil {
		return nil, Tokens{}, Tokens{}, err
	}
	path := filepath.Join(dir, preparedTokenizer)
	tf, err := OpenFile(path)
	if err != nil {
		return nil, Tokens{}, Tokens{}, err
	}
	tok, err = tokenizer.Load(tf)
	tf.Close()
	if err != nil {
		return nil, Tokens{}, Tokens{}, fmt.Errorf("%s: %w", path, err)
	}
	read := func(name string) (Tokens, error) {
		path := filepath.Join(dir, name)
		f, err := OpenFile(path)
		if err != nil {
			return Tokens{}, err
		}
		defer f.Close()
		ids, err := ReadTokens(f, path)
		if err != nil {
			return Tokens{}, err
		}
		for i := range ids.Len() {
			if id := ids.At(i); id >= tok.VocabSize() {
				return Tokens{}, fmt.Errorf("%s: token %d at position %d is outside the tokenizer's vocabulary of %d", path, id, i, tok.VocabSize())
			}
		}
		return ids, nil
	}
	if trainIDs, err = read(preparedTrain); err != nil {
		return nil, Tokens{}, Tokens{}, err
	}
	if valIDs, err = read(preparedVal); err != nil {
		return nil, Tokens{}, Tokens{}, err
	}
	return tok, trainIDs, valIDs, nil
}

// CheckWindows returns an error, naming the file of the prepared corpus in
// dir, when trainIDs or valIDs hold fewer tokens than one window of block
// tokens plus its target: a language model with that context cannot train
// or validate on them.
func CheckWindows(dir string, block int, trainIDs, valIDs Tokens) error {
	for _, f := range []struct {
		name string
		ids  Tokens
	}{{preparedTrain, trainIDs}, {preparedVal, valIDs}} {
		if f.ids.Len() < block+1 {
			return fmt.Errorf("%s: %d tokens, fewer than one window of %d: add text, or use a shorter window",
				filepath.Join(dir, f.name), f.ids.Len(), block+1)
		}
	}
	return nil
}
