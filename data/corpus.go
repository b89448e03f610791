package data

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/moxing/moxing/tokenizer"
)

// ErrEmptyCorpus is wrapped by ReadCorpus's errors for an item that holds
// no text: a caller can test for it with errors.Is and add a hint.
var ErrEmptyCorpus = errors.New("the corpus is empty")

// CorpusFormats are the formats ReadCorpus reads: text files as they are,
// and the Brown corpus's word/tag files, tags stripped (see BrownText).
var CorpusFormats = []string{"text", "brown"}

// Corpus is a text corpus read by ReadCorpus: one part per item of its
// list.
type Corpus struct {
	Parts []CorpusPart
	// Files counts the files read.
	Files int
	// Skipped counts the files in folders that were not read because
	// their extension is not one of those asked for.
	Skipped int
}

// CorpusPart is the text of one item of a corpus list.
type CorpusPart struct {
	Item  string // the item, without its format prefix
	Text  string // its files' texts, concatenated in sorted path order
	Files int    // how many files it read
}

// Text returns the whole corpus: its parts' texts, concatenated.
func (c *Corpus) Text() string {
	var b strings.Builder
	for _, p := range c.Parts {
		b.WriteString(p.Text)
	}
	return b.String()
}

// Encode tokenizes each part of c with tok and splits it at the same
// fraction: the first 1-val of its tokens go to training, the last val to
// validation, so that every part is validated on. It returns the parts'
// training tokens, concatenated, and their validation tokens. Errors name
// the item whose text does not encode.
func (c *Corpus) Encode(tok tokenizer.Tokenizer, val float64) (trainIDs, valIDs Tokens, err error) {
	if !(val > 0 && val < 1) {
		return Tokens{}, Tokens{}, fmt.Errorf("data: validation fraction %g: want a fraction in (0, 1)", val)
	}
	vocab := tok.VocabSize()
	trainIDs, valIDs = NewTokens(nil, vocab), NewTokens(nil, vocab)
	for _, p := range c.Parts { // one part's ids as ints at a time
		ids, err := tok.Encode(p.Text)
		if err != nil {
			return Tokens{}, Tokens{}, fmt.Errorf("corpus item %q: %w", p.Item, err)
		}
		split := int(float64(len(ids)) * (1 - val))
		trainIDs.push(ids[:split], vocab)
		valIDs.push(ids[split:], vocab)
	}
	return trainIDs, valIDs, nil
}

// ReadCorpus reads a comma-separated list of items, each a file, a folder
// or a glob (filepath.Glob's syntax). A file named by an item or matched by
// its glob is read whatever its extension; a folder contributes its files,
// recursively, whose names end in one of exts (default [".txt"]; a missing
// leading dot is added), and the others are counted in Skipped. An item may
// name its format first, "brown:corpus/c*", else format applies ("" means
// "text"); see CorpusFormats.
//
// Each item becomes one CorpusPart. Errors name the item: a bad glob, no
// such file, a folder that cannot be read, a file that is not a regular
// file (a device such as /dev/zero, a FIFO), files that together hold more
// than MaxCorpusBytes (checked before they are read), and an item without
// text, which wraps ErrEmptyCorpus and says why (for a folder: how many
// files it skipped for their extension, and which extensions they had).
func ReadCorpus(list, format string, exts []string) (*Corpus, error) {
	if format == "" {
		format = "text"
	}
	if !slices.Contains(CorpusFormats, format) {
		return nil, fmt.Errorf("data: corpus format %q: want %s", format, strings.Join(CorpusFormats, " or "))
	}
	if len(exts) == 0 {
		exts = []string{".txt"}
	}
	exts = slices.Clone(exts)
	for i, e := range exts {
		if e != "" && !strings.HasPrefix(e, ".") {
			exts[i] = "." + e
		}
	}
	c := &Corpus{}
	budget := int64(MaxCorpusBytes)
	for _, item := range strings.Split(list, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		itemFormat := format
		if f, rest, ok := strings.Cut(item, ":"); ok && slices.Contains(CorpusFormats, f) {
			itemFormat, item = f, rest
		}
		files, err := corpusFiles(item, exts)
		if err != nil {
			return nil, err
		}
		c.Skipped += files.skipped
		var b strings.Builder
		for _, p := range files.paths {
			src, err := readCorpusFile(p, &budget)
			if err != nil {
				return nil, fmt.Errorf("corpus item %q: %w", item, err)
			}
			if itemFormat == "brown" {
				src = []byte(BrownText(string(src)))
			}
			b.Write(src)
		}
		if len(files.paths) == 0 {
			return nil, fmt.Errorf("corpus item %q: %w: %s", item, ErrEmptyCorpus, files.why(exts))
		}
		if b.Len() == 0 {
			return nil, fmt.Errorf("corpus item %q: %w: its %d file(s) hold no text", item, ErrEmptyCorpus, len(files.paths))
		}
		c.Parts = append(c.Parts, CorpusPart{Item: item, Text: b.String(), Files: len(files.paths)})
		c.Files += len(files.paths)
	}
	if len(c.Parts) == 0 {
		return nil, fmt.Errorf("corpus list %q: %w: it names no file", list, ErrEmptyCorpus)
	}
	return c, nil
}

// MaxCorpusBytes bounds the text ReadCorpus reads: a corpus is held in
// memory, with its tokens.
const MaxCorpusBytes = 4 << 30

// readCorpusFile reads the regular file at path if its size fits what is
// left of budget, and takes its size from budget.
func readCorpusFile(path string, budget *int64) ([]byte, error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if *budget -= st.Size(); *budget < 0 {
		return nil, fmt.Errorf("%s: the corpus is over %d bytes, the most it may hold", path, int64(MaxCorpusBytes))
	}
	// The file may grow while it is read: read no more than its size.
	src := make([]byte, st.Size())
	n, err := io.ReadFull(f, src)
	if err != nil && err != io.ErrUnexpectedEOF {
		return nil, err
	}
	return src[:n], nil
}

// itemFiles are the files of one corpus item.
type itemFiles struct {
	paths     []string // to read, sorted
	folders   []string // folders the item matched
	skipped   int      // files in those folders with other extensions
	otherExts []string // their extensions, sorted, once each
}

// why says why an item that matched no file to read is empty: it matched
// folders only, and they hold no file with one of exts.
func (f itemFiles) why(exts []string) string {
	where := "folder " + strings.Join(f.folders, ", ")
	if len(f.folders) > 1 {
		where = "folders " + strings.Join(f.folders, ", ")
	}
	if slices.Contains(exts, "") { // every file matches
		return "no files in " + where
	}
	want := strings.Join(exts, " or ")
	if f.skipped == 0 {
		return fmt.Sprintf("no %s files in %s", want, where)
	}
	return fmt.Sprintf("no %s files in %s (%d files with other extensions: %s)", want, where, f.skipped, strings.Join(f.otherExts, ", "))
}

// corpusFiles lists the files of one item.
func corpusFiles(item string, exts []string) (itemFiles, error) {
	var f itemFiles
	matches, err := filepath.Glob(item)
	if err != nil {
		return f, fmt.Errorf("corpus item %q: %w", item, err)
	}
	if len(matches) == 0 {
		return f, fmt.Errorf("corpus item %q: no such file", item)
	}
	other := map[string]bool{}
	for _, m := range matches {
		st, err := os.Stat(m)
		if err != nil {
			return f, fmt.Errorf("corpus item %q: %w", item, err)
		}
		if !st.IsDir() {
			f.paths = append(f.paths, m)
			continue
		}
		f.folders = append(f.folders, m)
		err = filepath.WalkDir(m, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			for _, e := range exts {
				if strings.HasSuffix(p, e) {
					f.paths = append(f.paths, p)
					return nil
				}
			}
			f.skipped++
			ext := filepath.Ext(p)
			if ext == "" {
				ext = "(no extension)"
			}
			other[ext] = true
			return nil
		})
		if err != nil {
			return f, fmt.Errorf("corpus item %q: %w", item, err)
		}
	}
	sort.Strings(f.paths)
	for e := range other {
		f.otherExts = append(f.otherExts, e)
	}
	sort.Strings(f.otherExts)
	return f, nil
}
