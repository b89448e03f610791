package data

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// TextExample is one text with its label, and where it came from.
type TextExample struct {
	Text  string
	Label string // "" when the file has no labels (see TextOptions.NoLabels)
	Where string // "line 12" or "record 12", for messages
}

// TextOptions configure ReadTextExamples.
type TextOptions struct {
	TextField  string // default "text"
	LabelField string // default "label", or "class" when the file has no "label"
	// NoLabels reads texts only (to classify them): the label field is
	// not required.
	NoLabels bool
}

// ReadTextExamples reads labelled texts from r, in the format that name's
// extension says:
//
//   - .csv or .tsv: a header row naming the fields, then one row per text
//     (quoted fields may hold separators and newlines);
//   - .jsonl: one JSON object per line;
//   - .json: an array of JSON objects.
//
// Labels may be strings, numbers or booleans; they are kept as text ("1",
// "positive", "true"). A JSON record with neither a text nor a label (the
// placeholder that ends some published files) is skipped. Errors name the
// file and the line or record: a missing field, an empty text, a label
// that is not a scalar.
func ReadTextExamples(r io.Reader, name string, opt TextOptions) ([]TextExample, error) {
	if opt.TextField == "" {
		opt.TextField = "text"
	}
	var recs []map[string]any
	var where []string
	switch ext := strings.ToLower(filepath.Ext(name)); ext {
	case ".csv", ".tsv":
		cr := csv.NewReader(r)
		if ext == ".tsv" {
			cr.Comma = '\t'
		}
		header, err := cr.Read()
		if err != nil {
			return nil, fmt.Errorf("%s: header: %w", name, noEOF(err))
		}
		for {
			row, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			line, _ := cr.FieldPos(0)
			rec := map[string]any{}
			for i, h := range header {
				rec[h] = row[i]
			}
			recs, where = append(recs, rec), append(where, "line "+strconv.Itoa(line))
		}
	case ".jsonl":
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<26)
		for line := 1; sc.Scan(); line++ {
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			var rec map[string]any
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				return nil, fmt.Errorf("%s line %d: %w", name, line, err)
			}
			recs, where = append(recs, rec), append(where, "line "+strconv.Itoa(line))
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	case ".json":
		if err := json.NewDecoder(r).Decode(&recs); err != nil {
			return nil, fmt.Errorf("%s: want a JSON array of objects: %w", name, noEOF(err))
		}
		for i := range recs {
			where = append(where, "record "+strconv.Itoa(i+1))
		}
	default:
		return nil, fmt.Errorf("%s: unknown format %q: want .csv, .tsv, .jsonl or .json", name, ext)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s: no records", name)
	}
	label := opt.LabelField
	if label == "" {
		label = "label"
		if _, ok := recs[0]["label"]; !ok {
			if _, ok := recs[0]["class"]; ok {
				label = "class"
			}
		}
	}
	var out []TextExample
	for i, rec := range recs {
		if rec == nil {
			return nil, fmt.Errorf("%s %s: not an object", name, where[i])
		}
		text, terr := scalar(rec, opt.TextField)
		lab, lerr := scalar(rec, label)
		if terr == nil && lerr == nil && text == "" && lab == "" {
			continue // an empty placeholder record
		}
		switch {
		case terr != nil:
			return nil, fmt.Errorf("%s %s: text field %w (fields: %s)", name, where[i], terr, fields(rec))
		case strings.TrimSpace(text) == "":
			return nil, fmt.Errorf("%s %s: empty text", name, where[i])
		case opt.NoLabels:
			lab = ""
		case lerr != nil:
			return nil, fmt.Errorf("%s %s: label field %w (fields: %s)", name, where[i], lerr, fields(rec))
		case lab == "":
			return nil, fmt.Errorf("%s %s: empty label", name, where[i])
		}
		out = append(out, TextExample{Text: text, Label: lab, Where: where[i]})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no texts", name)
	}
	return out, nil
}

// scalar returns rec[key] as text: strings as they are, numbers in their
// shortest form, booleans as true/false; "" for a JSON null.
func scalar(rec map[string]any, key string) (string, error) {
	v, ok := rec[key]
	if !ok {
		return "", fmt.Errorf("%q is missing", key)
	}
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(v), nil
	}
	return "", fmt.Errorf("%q is not a string, number or boolean", key)
}

func fields(rec map[string]any) string {
	var ks []string
	for k := range rec {
		ks = append(ks, strconv.Quote(k))
	}
	slices.Sort(ks)
	return strings.Join(ks, ", ")
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return errors.New("the file is empty")
	}
	return err
}

// Labels returns the distinct labels of ex in sorted order (numerically
// when every label is a number), the class index of each example, and an
// error naming the file when there are fewer than two classes.
func Labels(ex []TextExample, name string) (classes []string, y []int, err error) {
	seen := map[string]bool{}
	numeric := true
	for _, e := range ex {
		if !seen[e.Label] {
			seen[e.Label] = true
			classes = append(classes, e.Label)
			if _, err := strconv.ParseFloat(e.Label, 64); err != nil {
				numeric = false
			}
		}
	}
	if len(classes) < 2 {
		return nil, nil, fmt.Errorf("%s: every text has the label %q; a classifier needs at least two classes", name, classes[0])
	}
	slices.SortFunc(classes, func(a, b string) int {
		if numeric {
			x, _ := strconv.ParseFloat(a, 64)
			y, _ := strconv.ParseFloat(b, 64)
			if x != y {
				if x < y {
					return -1
				}
				return 1
			}
		}
		return strings.Compare(a, b)
	})
	index := map[string]int{}
	for i, c := range classes {
		index[c] = i
	}
	for _, e := range ex {
		y = append(y, index[e.Label])
	}
	return classes, y, nil
}
