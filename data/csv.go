// Package data turns files into tensors: CSV tables into standardised
// feature matrices and labels, with seeded, stratified splits and shuffled
// mini-batches; images (IDX, PNG/JPEG, CSV pixel rows); labelled texts into
// padded token ids for classifiers; text corpora into prepared token files
// for language models.
//
// Everything that reads the outside world returns an error naming the
// source, line and column; nothing here panics on bad input.
package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Header says whether a CSV's first row names its columns.
type Header int

const (
	// HeaderAuto treats the first row as a header when one of its cells is
	// not a number where the second row's cell is: "sepal_length" over "5.1".
	HeaderAuto Header = iota
	HeaderYes
	HeaderNo
)

// CSVOptions configure ReadCSV. The zero value detects everything.
type CSVOptions struct {
	// Comma is the field separator: ',', '\t', or ' ' for runs of spaces and
	// tabs. 0 detects it from the first row: a comma if it has one, else a
	// tab, else whitespace.
	Comma rune
	// Header says whether the first row (after SkipRows) names the columns.
	// Columns without a header are named by their 0-based index: "0", "1", …
	Header Header
	// SkipRows drops this many lines at the start (e.g. the size line that
	// opens scikit-learn's bundled CSVs).
	SkipRows int
}

// Table is a CSV file's cells as text, with where each row came from.
type Table struct {
	Source  string     // file name, for messages
	Columns []string   // column names
	Rows    [][]string // cells, len(Columns) per row, trimmed of spaces
	Lines   []int      // 1-based line of each row in the source
}

// Limits on what ReadCSV reads, so that memory stays a small multiple of a
// real table: a hostile file (a 2 GB field, a gzip bomb) is an error, not
// an allocation.
const (
	// MaxRowBytes bounds one line.
	MaxRowBytes = 1 << 20
	// MaxTableBytes bounds a table's text, after gzip decompression.
	MaxTableBytes = 1 << 30
)

// ReadCSV reads a table from r; name labels errors. gzip input is detected
// from its magic bytes and decompressed. Every row must have as many fields
// as the first; blank lines are skipped. Every cell must be valid UTF-8 (a
// Latin-1 file is an error naming the line and column, not a column name
// mangled into a checkpoint). A row longer than MaxRowBytes and a table
// longer than MaxTableBytes are errors.
func ReadCSV(r io.Reader, name string, opt CSVOptions) (*Table, error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: gzip: %w", name, err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	br = bufio.NewReader(&limitedTable{r: br})
	// A UTF-8 byte order mark (Excel writes one) is not part of the first
	// column's name.
	if bom, _ := br.Peek(3); string(bom) == "\uFEFF" {
		br.Discard(3)
	}
	rows, lines, err := readRecords(br, name, opt)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no rows", name)
	}
	t := &Table{Source: name}
	hasHeader := opt.Header == HeaderYes || (opt.Header == HeaderAuto && looksLikeHeader(rows))
	if hasHeader {
		headerLine := lines[0]
		t.Columns, rows, lines = rows[0], rows[1:], lines[1:]
		seen := map[string]bool{}
		for i, c := range t.Columns {
			if c == "" {
				return nil, fmt.Errorf("%s line %d: column %d has an empty name", name, headerLine, i+1)
			}
			if seen[c] {
				return nil, fmt.Errorf("%s: column name %q appears twice", name, c)
			}
			seen[c] = true
		}
	} else {
		for i := range rows[0] {
			t.Columns = append(t.Columns, strconv.Itoa(i))
		}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: a header but no data rows", name)
	}
	for i, row := range rows {
		if len(row) != len(t.Columns) {
			return nil, fmt.Errorf("%s line %d: %d fields, want %d like the first row", name, lines[i], len(row), len(t.Columns))
		}
	}
	t.Rows, t.Lines = rows, lines
	return t, nil
}

// readRecords splits the input into trimmed fields, skipping opt.SkipRows
// lines and blank lines.
func readRecords(br *bufio.Reader, name string, opt CSVOptions) (rows [][]string, lines []int, err error) {
	line := 0
	for ; line < opt.SkipRows; line++ {
		if err := skipLine(br); err != nil {
			if err == io.EOF {
				return nil, nil, fmt.Errorf("%s: only %d lines, fewer than the %d to skip", name, line, opt.SkipRows)
			}
			return nil, nil, fmt.Errorf("%s line %d: %w", name, line+1, err)
		}
	}
	comma := opt.Comma
	if comma == 0 {
		first, _ := br.Peek(64 << 10)
		if i := bytes.IndexByte(first, '\n'); i >= 0 {
			first = first[:i]
		}
		switch {
		case bytes.ContainsRune(first, ','):
			comma = ','
		case bytes.ContainsRune(first, '\t'):
			comma = '\t'
		default:
			comma = ' '
		}
	}
	if comma == ' ' {
		sc := bufio.NewScanner(br)
		sc.Buffer(make([]byte, 64<<10), MaxRowBytes)
		for sc.Scan() {
			line++
			if !utf8.Valid(sc.Bytes()) {
				return nil, nil, fmt.Errorf("%s line %d: not valid UTF-8 (convert the file, e.g. iconv -f latin1 -t utf-8)", name, line)
			}
			fields := strings.Fields(sc.Text())
			if len(fields) == 0 {
				continue
			}
			rows, lines = append(rows, fields), append(lines, line)
		}
		if err := sc.Err(); err != nil {
			if err == bufio.ErrTooLong {
				return nil, nil, fmt.Errorf("%s line %d: longer than %d bytes", name, line+1, MaxRowBytes)
			}
			return nil, nil, fmt.Errorf("%s line %d: %w", name, line+1, err)
		}
		return rows, lines, nil
	}
	rl := &rowLimit{r: br}
	cr := csv.NewReader(rl)
	rl.start = cr.InputOffset
	cr.Comma = comma
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = false
	lastLine := opt.SkipRows
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows, lines, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, nil, fmt.Errorf("%s line %d column %d: %v", name, pe.Line+opt.SkipRows, pe.Column, pe.Err)
			}
			if err == errRowTooLong {
				return nil, nil, fmt.Errorf("%s line %d: a line longer than %d bytes", name, lastLine+1, MaxRowBytes)
			}
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		l, _ := cr.FieldPos(0)
		lastLine, _ = cr.FieldPos(len(rec) - 1)
		for i := range rec {
			if !utf8.ValidString(rec[i]) {
				return nil, nil, fmt.Errorf("%s line %d column %d: not valid UTF-8 (convert the file, e.g. iconv -f latin1 -t utf-8)", name, l+opt.SkipRows, i+1)
			}
			rec[i] = strings.TrimSpace(rec[i])
		}
		if len(rec) == 1 && rec[0] == "" {
			continue
		}
		rows, lines = append(rows, rec), append(lines, l+opt.SkipRows)
	}
}

// skipLine discards the rest of a line, however long, without holding it.
func skipLine(br *bufio.Reader) error {
	for {
		_, err := br.ReadSlice('\n')
		if err != bufio.ErrBufferFull {
			return err
		}
	}
}

// tableLimit is MaxTableBytes; tests lower it.
var tableLimit int64 = MaxTableBytes

// errTableTooLong is limitedTable's error.
var errTableTooLong = fmt.Errorf("more than %d bytes of text, the most a table may hold", MaxTableBytes)

// limitedTable fails a read that would take a table past tableLimit.
type limitedTable struct {
	r io.Reader
	n int64
}

func (l *limitedTable) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if l.n += int64(n); l.n > tableLimit {
		return 0, errTableTooLong
	}
	return n, err
}

// errRowTooLong is rowLimit's error.
var errRowTooLong = errors.New("row too long")

// rowLimit feeds a csv.Reader and fails once the reader has consumed more
// than MaxRowBytes past the start of the record it is reading (start is the
// csv.Reader's InputOffset; the reader's own 4 KiB buffer is the slack).
type rowLimit struct {
	r     io.Reader
	n     int64
	start func() int64
}

func (l *rowLimit) Read(p []byte) (int, error) {
	if l.n-l.start() > MaxRowBytes+4096 {
		return 0, errRowTooLong
	}
	p = p[:min(len(p), 4096)]
	n, err := l.r.Read(p)
	l.n += int64(n)
	return n, err
}

// looksLikeHeader reports whether the first row has a non-numeric cell
// above a numeric one (or is the only row and is entirely non-numeric).
func looksLikeHeader(rows [][]string) bool {
	if len(rows) < 2 {
		for _, c := range rows[0] {
			if _, ok := parseNumber(c); ok {
				return false
			}
		}
		return true
	}
	for i, c := range rows[0] {
		if _, ok := parseNumber(c); ok || i >= len(rows[1]) {
			continue
		}
		if _, ok := parseNumber(rows[1][i]); ok {
			return true
		}
	}
	return false
}

// Column returns the index of the column called key, or, when no column has
// that name, of the column at index key (negative counts from the end: -1 is
// the last column).
func (t *Table) Column(key string) (int, error) {
	for i, c := range t.Columns {
		if c == key {
			return i, nil
		}
	}
	if i, err := strconv.Atoi(key); err == nil {
		if i < 0 {
			i += len(t.Columns)
		}
		if i >= 0 && i < len(t.Columns) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%s: no column %q (columns: %s)", t.Source, key, strings.Join(abbreviate(t.Columns, 12), ", "))
}

func abbreviate(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(append([]string(nil), s[:n]...), fmt.Sprintf("… %d more", len(s)-n))
}
