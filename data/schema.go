package data

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/moxing/moxing/tensor"
)

// Task is what a model predicts from a table.
type Task string

const (
	Classification Task = "classification"
	Regression     Task = "regression"
)

// Kind is how a feature column is encoded.
type Kind string

const (
	Numeric     Kind = "numeric"     // standardised: (x - Mean) / Std
	Categorical Kind = "categorical" // one-hot over Categories
)

// Feature is one input column and how to encode it. Its statistics come from
// the training split only.
type Feature struct {
	Name       string   `json:"name"`
	Kind       Kind     `json:"kind"`
	Mean       float64  `json:"mean,omitempty"`       // numeric
	Std        float64  `json:"std,omitempty"`        // numeric, population standard deviation
	Categories []string `json:"categories,omitempty"` // categorical, one input each
	Fill       string   `json:"fill,omitempty"`       // the value that replaces a missing cell, with imputation
}

// Schema is the preprocessing of a table: which column is the target, the
// classes, and how each feature column becomes model inputs. It is saved with
// a model so that new data is encoded exactly as the training data was.
type Schema struct {
	Target   string    `json:"target"`
	Task     Task      `json:"task"`
	Classes  []string  `json:"classes,omitempty"` // classification: label text of each class index
	Features []Feature `json:"features"`
	Dropped  []string  `json:"dropped,omitempty"` // feature columns ignored: constant in the training split
	// Regression targets are standardised too, (y - TargetMean) / TargetStd,
	// with statistics from the training split; models predict in those units.
	TargetMean float64 `json:"target_mean,omitempty"`
	TargetStd  float64 `json:"target_std,omitempty"`
	Impute     string  `json:"impute,omitempty"` // "" rejects missing cells; "mean" fills them
}

// SchemaOptions configure NewSchema. The zero value means: the last column
// is the target, the task is inferred, and missing cells are errors.
type SchemaOptions struct {
	Target      string   // column name or index (default: the last column)
	Task        Task     // "" infers: classification when the target is text or has at most 20 distinct integers
	Categorical []string // columns to one-hot encode even if their values are numbers
	Impute      string   // "" rejects missing cells; "mean" fills numeric cells with the training mean and categorical cells with the most frequent category
}

// maxInferredClasses is the most distinct integer targets that make an
// inferred classification task.
const maxInferredClasses = 20

// isMissing reports whether a cell means "no value".
func isMissing(s string) bool {
	switch s {
	case "", "NA", "N/A", "NaN", "nan", "null", "NULL", "?":
		return true
	}
	return false
}

// parseNumber parses a cell as a float; infinities parse (and are rejected
// when encoded) so that a column of numbers with one "inf" stays numeric.
func parseNumber(s string) (float64, bool) {
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil || errors.Is(err, strconv.ErrRange)
}

// fitsFloat32 reports whether v is a number a float32 holds: not NaN, not
// infinite, and no larger in magnitude than math.MaxFloat32 (a cell of 1e39
// would become +Inf in the model's tensors).
func fitsFloat32(v float64) bool {
	return !math.IsNaN(v) && math.Abs(v) <= math.MaxFloat32
}

// NewSchema decides the target, the task, the classes and the kind of every
// feature column of t, and fits the feature statistics on the rows in train
// (indices into t.Rows).
func NewSchema(t *Table, opt SchemaOptions, train []int) (*Schema, error) {
	s, err := newSchema(t, opt)
	if err != nil {
		return nil, err
	}
	return s, s.fit(t, train)
}

// NewSchemaUnfitted is NewSchema without the statistics, for choosing a split
// from the labels first; call Fit with the training rows before Encode.
func NewSchemaUnfitted(t *Table, opt SchemaOptions) (*Schema, error) { return newSchema(t, opt) }

// Fit computes the feature statistics from the rows in train.
func (s *Schema) Fit(t *Table, train []int) error { return s.fit(t, train) }

func newSchema(t *Table, opt SchemaOptions) (*Schema, error) {
	if opt.Impute != "" && opt.Impute != "mean" {
		return nil, fmt.Errorf("data: unknown imputation %q (want mean, or nothing to reject missing values)", opt.Impute)
	}
	key := opt.Target
	if key == "" {
		key = "-1"
	}
	ti, err := t.Column(key)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	s := &Schema{Target: t.Columns[ti], Task: opt.Task, Impute: opt.Impute}

	// The target: every row needs one.
	numeric, integers := true, true
	distinct := map[string]bool{}
	for r, row := range t.Rows {
		c := row[ti]
		if isMissing(c) {
			return nil, fmt.Errorf("%s line %d: target column %q: missing value", t.Source, t.Lines[r], s.Target)
		}
		v, ok := parseNumber(c)
		numeric = numeric && ok
		integers = integers && ok && v == math.Trunc(v)
		distinct[c] = true
	}
	switch s.Task {
	case "":
		s.Task = Regression
		if !numeric || (integers && len(distinct) <= maxInferredClasses) {
			s.Task = Classification
		}
	case Classification, Regression:
	default:
		return nil, fmt.Errorf("data: unknown task %q (want classification or regression)", s.Task)
	}
	if s.Task == Regression {
		for r, row := range t.Rows {
			if _, ok := parseNumber(row[ti]); !ok {
				return nil, fmt.Errorf("%s line %d: target column %q: %q is not a number (regression)", t.Source, t.Lines[r], s.Target, row[ti])
			}
		}
	} else {
		for c := range distinct {
			s.Classes = append(s.Classes, c)
		}
		slices.SortFunc(s.Classes, func(a, b string) int {
			if numeric {
				x, _ := parseNumber(a)
				y, _ := parseNumber(b)
				return cmp.Compare(x, y)
			}
			return cmp.Compare(a, b)
		})
		if len(s.Classes) < 2 {
			return nil, fmt.Errorf("%s: target column %q has one class only (%q): nothing to learn", t.Source, s.Target, s.Classes[0])
		}
	}

	// Features: every other column, numeric unless it has no numbers at all
	// or is listed as categorical.
	for _, name := range opt.Categorical {
		if _, err := t.Column(name); err != nil {
			return nil, fmt.Errorf("categorical: %w", err)
		}
	}
	for ci, name := range t.Columns {
		if ci == ti {
			continue
		}
		f := Feature{Name: name, Kind: Numeric}
		if slices.Contains(opt.Categorical, name) {
			f.Kind = Categorical
		} else {
			firstText, anyNumber := -1, false
			for r, row := range t.Rows {
				c := row[ci]
				if isMissing(c) {
					continue
				}
				if _, ok := parseNumber(c); ok {
					anyNumber = true
				} else if firstText < 0 {
					firstText = r
				}
			}
			switch {
			case firstText >= 0 && anyNumber:
				return nil, fmt.Errorf("%s line %d: column %q: %q is not a number (the column holds numbers elsewhere; list it as categorical if it is one)",
					t.Source, t.Lines[firstText], name, t.Rows[firstText][ci])
			case firstText >= 0:
				f.Kind = Categorical
			}
		}
		s.Features = append(s.Features, f)
	}
	if len(s.Features) == 0 {
		return nil, fmt.Errorf("%s: no feature columns besides the target %q", t.Source, s.Target)
	}
	return s, nil
}

// fit computes means, standard deviations, categories and fill values from
// the training rows, and drops constant features.
func (s *Schema) fit(t *Table, train []int) error {
	if len(train) == 0 {
		return fmt.Errorf("%s: no training rows", t.Source)
	}
	if s.Task == Regression {
		ti, err := t.Column(s.Target)
		if err != nil {
			return err
		}
		if s.TargetMean, s.TargetStd, err = meanStd(t, train, ti); err != nil {
			return err
		}
		if s.TargetStd == 0 {
			return fmt.Errorf("%s: target column %q is constant in the training split: nothing to learn", t.Source, s.Target)
		}
	}
	var kept []Feature
	s.Dropped = nil
	for _, f := range s.Features {
		ci, err := t.Column(f.Name)
		if err != nil {
			return err
		}
		switch f.Kind {
		case Numeric:
			rows, err := s.presentRows(t, train, ci)
			if err != nil {
				return err
			}
			if len(rows) == 0 {
				return fmt.Errorf("%s: column %q has no values in the training split", t.Source, f.Name)
			}
			if f.Mean, f.Std, err = meanStd(t, rows, ci); err != nil {
				return err
			}
			if s.Impute != "" {
				f.Fill = strconv.FormatFloat(f.Mean, 'g', -1, 64)
			}
			if f.Std == 0 {
				s.Dropped = append(s.Dropped, f.Name)
				continue
			}
		case Categorical:
			rows, err := s.presentRows(t, train, ci)
			if err != nil {
				return err
			}
			counts := map[string]int{}
			for _, r := range rows {
				counts[t.Rows[r][ci]]++
			}
			f.Categories = f.Categories[:0]
			for c := range counts {
				f.Categories = append(f.Categories, c)
			}
			slices.Sort(f.Categories)
			if s.Impute != "" && len(f.Categories) > 0 {
				f.Fill = slices.MaxFunc(f.Categories, func(a, b string) int {
					return cmp.Or(cmp.Compare(counts[a], counts[b]), cmp.Compare(b, a))
				})
			}
			if len(f.Categories) < 2 {
				s.Dropped = append(s.Dropped, f.Name)
				continue
			}
		}
		kept = append(kept, f)
	}
	if len(kept) == 0 {
		return fmt.Errorf("%s: every feature column is constant in the training split", t.Source)
	}
	s.Features = kept
	return nil
}

// presentRows returns the rows (of rows) whose cell in column ci is not
// missing. A missing cell is an error unless the schema imputes.
func (s *Schema) presentRows(t *Table, rows []int, ci int) ([]int, error) {
	var out []int
	for _, r := range rows {
		if isMissing(t.Rows[r][ci]) {
			if s.Impute == "" {
				return nil, missingError(t, r, t.Columns[ci])
			}
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// meanStd returns the mean and population standard deviation of column ci
// over rows, whose cells must be finite numbers.
func meanStd(t *Table, rows []int, ci int) (mean, std float64, err error) {
	vals := make([]float64, len(rows))
	for i, r := range rows {
		if vals[i], err = number(t, r, ci); err != nil {
			return 0, 0, err
		}
		mean += vals[i]
	}
	mean /= float64(len(vals))
	for _, v := range vals {
		std += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(std / float64(len(vals))), nil
}

func missingError(t *Table, r int, col string) error {
	return fmt.Errorf("%s line %d: column %q: missing value (use imputation, --impute mean, to fill it)", t.Source, t.Lines[r], col)
}

// number parses the cell at row r, column ci as a finite number.
func number(t *Table, r, ci int) (float64, error) {
	c := t.Rows[r][ci]
	v, ok := parseNumber(c)
	if !ok {
		return 0, fmt.Errorf("%s line %d: column %q: %q is not a number", t.Source, t.Lines[r], t.Columns[ci], c)
	}
	if !fitsFloat32(v) {
		return 0, fmt.Errorf("%s line %d: column %q: %q is not a finite number within float32's range (±3.4e38)", t.Source, t.Lines[r], t.Columns[ci], c)
	}
	return v, nil
}

// Inputs returns the number of model inputs the features encode to.
func (s *Schema) Inputs() int {
	n := 0
	for _, f := range s.Features {
		if f.Kind == Categorical {
			n += len(f.Categories)
		} else {
			n++
		}
	}
	return n
}

// Outputs returns the number of model outputs: one per class, except one
// logit for two classes, and one value for regression.
func (s *Schema) Outputs() int {
	if s.Task == Regression || len(s.Classes) == 2 {
		return 1
	}
	return len(s.Classes)
}

// Dataset is encoded rows of a table.
type Dataset struct {
	X       *tensor.Tensor // (N, Inputs), standardised
	Labels  []int          // classification: class index per row; nil without targets
	Targets []float32      // regression: standardised target per row; nil without targets
	Lines   []int          // source line per row, for messages and outputs
	// Lengths, for rows of padded token ids, is each row's length without
	// padding; training then batches rows of similar length together (see
	// BatchesByLength).
	Lengths []int
}

// Len returns the number of rows.
func (d *Dataset) Len() int { return len(d.Lines) }

// Encode turns the rows of t listed in rows (all rows when nil) into a
// Dataset. Feature columns are found by name, so t may order its columns
// differently from the training table. With withTarget, the target column
// must be present and every label must be one seen in training.
func (s *Schema) Encode(t *Table, rows []int, withTarget bool) (*Dataset, error) {
	if rows == nil {
		rows = make([]int, len(t.Rows))
		for i := range rows {
			rows[i] = i
		}
	}
	cols := make([]int, len(s.Features))
	for i, f := range s.Features {
		ci, err := t.Column(f.Name)
		if err != nil {
			return nil, fmt.Errorf("%s: feature column %q is missing", t.Source, f.Name)
		}
		cols[i] = ci
	}
	d := &Dataset{X: tensor.Zeros(len(rows), s.Inputs()), Lines: make([]int, len(rows))}
	width := s.Inputs()
	for i, r := range rows {
		d.Lines[i] = t.Lines[r]
		x := d.X.Data[i*width : (i+1)*width]
		at := 0
		for k, f := range s.Features {
			c := t.Rows[r][cols[k]]
			if isMissing(c) {
				if f.Fill == "" {
					return nil, missingError(t, r, f.Name)
				}
				c = f.Fill
			}
			if f.Kind == Numeric {
				v, ok := parseNumber(c)
				if !ok || !fitsFloat32(v) {
					_, err := number(t, r, cols[k])
					return nil, err
				}
				x[at] = float32((v - f.Mean) / f.Std)
				at++
				continue
			}
			j, found := slices.BinarySearch(f.Categories, c)
			if !found {
				return nil, fmt.Errorf("%s line %d: column %q: category %q was not seen in training (known: %v)", t.Source, t.Lines[r], f.Name, c, abbreviate(f.Categories, 8))
			}
			x[at+j] = 1
			at += len(f.Categories)
		}
	}
	if !withTarget {
		return d, nil
	}
	ti, err := t.Column(s.Target)
	if err != nil {
		return nil, fmt.Errorf("%s: target column %q is missing", t.Source, s.Target)
	}
	for _, r := range rows {
		c := t.Rows[r][ti]
		if s.Task == Regression {
			v, err := number(t, r, ti)
			if err != nil {
				return nil, err
			}
			d.Targets = append(d.Targets, float32((v-s.TargetMean)/s.TargetStd))
			continue
		}
		k := s.classIndex(c)
		if k < 0 {
			return nil, fmt.Errorf("%s line %d: target column %q: label %q was never seen in training (classes: %v)", t.Source, t.Lines[r], s.Target, c, abbreviate(s.Classes, 8))
		}
		d.Labels = append(d.Labels, k)
	}
	return d, nil
}

// classIndex returns the index of the class whose label is c, comparing
// numerically for numeric labels ("1" and "1.0" are one class), or -1.
func (s *Schema) classIndex(c string) int {
	for i, k := range s.Classes {
		if k == c {
			return i
		}
	}
	if v, ok := parseNumber(c); ok {
		for i, k := range s.Classes {
			if w, ok := parseNumber(k); ok && v == w {
				return i
			}
		}
	}
	return -1
}

// Labels returns the class index of every row of t, for stratified splits.
func (s *Schema) Labels(t *Table) ([]int, error) {
	if s.Task != Classification {
		return nil, nil
	}
	ti, err := t.Column(s.Target)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(t.Rows))
	for r, row := range t.Rows {
		if out[r] = s.classIndex(row[ti]); out[r] < 0 {
			return nil, fmt.Errorf("%s line %d: target column %q: label %q was never seen in training", t.Source, t.Lines[r], s.Target, row[ti])
		}
	}
	return out, nil
}
