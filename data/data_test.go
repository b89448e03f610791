package data_test

import (
	"bytes"
	"compress/gzip"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/moxing/moxing/data"
)

func read(t *testing.T, text string, opt data.CSVOptions) *data.Table {
	t.Helper()
	tb, err := data.ReadCSV(strings.NewReader(text), "t.csv", opt)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestReadCSVFormats(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("1 2 3\n4 5 6\n"))
	zw.Close()
	for _, tc := range []struct {
		name, text string
		opt        data.CSVOptions
		cols       string
		rows       int
		cell       string // Rows[1][2]
		line       int    // Lines[1]
	}{
		{"comma_header", "a,b,c\n1,2,3\n4,5,6\n", data.CSVOptions{}, "a b c", 2, "6", 3},
		{"comma_no_header", "1,2,3\n4,5,6\n", data.CSVOptions{}, "0 1 2", 2, "6", 2},
		{"tab", "a\tb\tc\n1\t2\t3\n4\t5\t x\n", data.CSVOptions{}, "a b c", 2, "x", 3},
		{"spaces", "1  2 3\n\n4 5   6\n", data.CSVOptions{}, "0 1 2", 2, "6", 3},
		{"gzip", gz.String(), data.CSVOptions{}, "0 1 2", 2, "6", 2},
		{"skip_rows", "569,30,malignant,benign\n1,2,3\n4,5,6\n", data.CSVOptions{SkipRows: 1}, "0 1 2", 2, "6", 3},
		{"quoted", "name,x,y\n\"Smith, J\",1,2\nLee,3,\"4\"\n", data.CSVOptions{}, "name x y", 2, "4", 3},
		{"forced_header", "1,2,3\n4,5,6\n7,8,9\n", data.CSVOptions{Header: data.HeaderYes}, "1 2 3", 2, "9", 3},
		{"crlf", "a,b,c\r\n1,2,3\r\n4,5,6\r\n", data.CSVOptions{}, "a b c", 2, "6", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := read(t, tc.text, tc.opt)
			if got := strings.Join(tb.Columns, " "); got != tc.cols {
				t.Fatalf("columns %q, want %q", got, tc.cols)
			}
			if len(tb.Rows) != tc.rows || tb.Rows[1][2] != tc.cell || tb.Lines[1] != tc.line {
				t.Fatalf("rows %v lines %v", tb.Rows, tb.Lines)
			}
		})
	}
}

func TestReadCSVErrors(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"empty", "", "t.csv: no rows"},
		{"blank", "\n\n", "t.csv: no rows"},
		{"ragged", "a,b,c\n1,2,3\n4,5\n", "t.csv line 3: 2 fields, want 3"},
		{"header_only", "a,b\n", "header but no data"},
		{"duplicate_names", "a,a\n1,2\n", `"a" appears twice`},
		{"bad_quote", "a,b\n1,\"2\n", "t.csv line"},
		{"bad_gzip", "\x1f\x8bnot gzip", "gzip"},
		{"latin1_name", "caf\xe9,y\n1,2\n", "t.csv line 1 column 1: not valid UTF-8"},
		{"latin1_label", "x,y\n1,a\n2,\xff\n", "t.csv line 3 column 2: not valid UTF-8"},
		{"latin1_spaces", "x y\n1 \xff\n", "t.csv line 2: not valid UTF-8"},
		{"long_field", "x,y\n1,2\n3," + strings.Repeat("9", data.MaxRowBytes+10000) + "\n", "t.csv line 3: a line longer than 1048576 bytes"},
		{"long_quoted_field", "x,y\n1,\"" + strings.Repeat("9", 3*data.MaxRowBytes) + "\"\n", "t.csv line 2: a line longer than"},
		{"long_space_line", "x y\n1 " + strings.Repeat("9", data.MaxRowBytes+1) + "\n", "t.csv line 2: longer than 1048576 bytes"},
		{"long_skipped_line", strings.Repeat("#", 2*data.MaxRowBytes), "only 0 lines"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt := data.CSVOptions{}
			if strings.HasPrefix(tc.name, "long_skipped") {
				opt.SkipRows = 1
			}
			_, err := data.ReadCSV(strings.NewReader(tc.text), "t.csv", opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

const people = `age,city,smoker,score,label
30,paris,yes,1.5,good
40,rome,no,2.5,bad
50,paris,no,3.5,good
60,oslo,yes,4.5,bad
`

func all(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func TestSchemaEncode(t *testing.T) {
	tb := read(t, people, data.CSVOptions{})
	s, err := data.NewSchema(tb, data.SchemaOptions{}, all(4))
	if err != nil {
		t.Fatal(err)
	}
	if s.Target != "label" || s.Task != data.Classification || strings.Join(s.Classes, ",") != "bad,good" {
		t.Fatalf("schema %+v", s)
	}
	// age (1) + city (3 one-hot) + smoker (2 one-hot) + score (1)
	if s.Inputs() != 7 || s.Outputs() != 1 {
		t.Fatalf("inputs %d outputs %d", s.Inputs(), s.Outputs())
	}
	d, err := s.Encode(tb, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	// age: mean 45, population std √125.
	if got, want := d.X.Data[0], float32(-15/math.Sqrt(125)); math.Abs(float64(got-want)) > 1e-6 {
		t.Fatalf("standardised age %v, want %v", got, want)
	}
	row0 := d.X.Data[1:6] // city: oslo paris rome; smoker: no yes
	if want := []float32{0, 1, 0, 0, 1}; !slices.Equal(row0, want) {
		t.Fatalf("one-hot %v, want %v", row0, want)
	}
	if want := []int{1, 0, 1, 0}; !slices.Equal(d.Labels, want) {
		t.Fatalf("labels %v", d.Labels)
	}

	// Statistics come from the training rows only.
	s2, err := data.NewSchema(tb, data.SchemaOptions{Target: "score"}, []int{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if s2.Task != data.Regression || s2.Features[0].Mean != 35 || s2.Features[0].Std != 5 {
		t.Fatalf("regression schema %+v", s2.Features[0])
	}
	// city has only paris and rome in training: oslo at encode time is an error.
	if _, err := s2.Encode(tb, nil, true); err == nil || !strings.Contains(err.Error(), `t.csv line 5: column "city": category "oslo" was not seen`) {
		t.Fatalf("err = %v", err)
	}
}

func TestSchemaErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		opt        data.SchemaOptions
		want       string
	}{
		{"not_a_number", "x,y\n1,0\n2,1\nabc,0\n", data.SchemaOptions{}, `t.csv line 4: column "x": "abc" is not a number`},
		{"missing", "x,y\n1,0\n,1\n3,0\n", data.SchemaOptions{}, `t.csv line 3: column "x": missing value`},
		{"inf", "x,y\n1,0\ninf,1\n3,0\n", data.SchemaOptions{}, `t.csv line 3: column "x": "inf" is not a finite number`},
		{"no_target", "x,y\n1,0\n2,1\n", data.SchemaOptions{Target: "z"}, `no column "z"`},
		{"one_class", "x,y\n1,0\n2,0\n", data.SchemaOptions{}, "one class only"},
		{"missing_target", "x,y\n1,0\n2,\n", data.SchemaOptions{}, `t.csv line 3: target column "y": missing value`},
		{"regression_text", "x,y\n1,a\n2,b\n", data.SchemaOptions{Task: data.Regression}, `"a" is not a number (regression)`},
		{"all_constant", "x,y\n1,0\n1,1\n", data.SchemaOptions{}, "every feature column is constant"},
		{"bad_impute", "x,y\n1,0\n2,1\n", data.SchemaOptions{Impute: "median"}, `unknown imputation "median"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := read(t, tc.text, data.CSVOptions{})
			_, err := data.NewSchema(tb, tc.opt, all(len(tb.Rows)))
			if err == nil {
				var s *data.Schema
				s, err = data.NewSchema(tb, tc.opt, all(len(tb.Rows)))
				if err == nil {
					_, err = s.Encode(tb, nil, true)
				}
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestImputeAndConstantColumns(t *testing.T) {
	tb := read(t, "x,k,c,y\n1,a,7,0\n,b,7,1\n3,,7,0\n4,a,7,1\n", data.CSVOptions{})
	s, err := data.NewSchema(tb, data.SchemaOptions{Impute: "mean"}, all(4))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Dropped) != 1 || s.Dropped[0] != "c" {
		t.Fatalf("dropped %v, want the constant column c", s.Dropped)
	}
	d, err := s.Encode(tb, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	// Row 2's x is the mean of 1, 3, 4 → standardised 0; row 3's k is "a" (most frequent).
	if x := d.X.Data[1*3]; math.Abs(float64(x)) > 1e-6 {
		t.Fatalf("imputed x %v, want 0", x)
	}
	if k := d.X.Data[2*3+1 : 2*3+3]; !slices.Equal(k, []float32{1, 0}) {
		t.Fatalf("imputed k %v, want a", k)
	}
}

func TestPredictWithoutTargetAndUnseenLabel(t *testing.T) {
	tb := read(t, people, data.CSVOptions{})
	s, err := data.NewSchema(tb, data.SchemaOptions{}, all(4))
	if err != nil {
		t.Fatal(err)
	}
	// Columns in another order, no label column.
	p := read(t, "score,smoker,city,age\n2,no,rome,35\n", data.CSVOptions{})
	d, err := s.Encode(p, nil, false)
	if err != nil || d.Len() != 1 || d.Labels != nil {
		t.Fatalf("encode without target: %v %+v", err, d)
	}
	q := read(t, "age,city,smoker,score,label\n30,paris,yes,1.5,ugly\n", data.CSVOptions{})
	if _, err := s.Encode(q, nil, true); err == nil || !strings.Contains(err.Error(), `label "ugly" was never seen`) {
		t.Fatalf("err = %v", err)
	}
	if _, err := s.Encode(read(t, "age,city\n1,paris\n", data.CSVOptions{}), nil, false); err == nil || !strings.Contains(err.Error(), `feature column "smoker" is missing`) {
		t.Fatalf("err = %v", err)
	}
}

func TestSplitStratified(t *testing.T) {
	labels := make([]int, 1000)
	for i := range labels {
		if i%10 == 0 {
			labels[i] = 1 // 10% positives
		}
	}
	train, val, test, err := data.Split(1000, labels, 0.2, 0.2, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if len(train) != 600 || len(val) != 200 || len(test) != 200 {
		t.Fatalf("sizes %d %d %d", len(train), len(val), len(test))
	}
	seen := map[int]bool{}
	for _, set := range [][]int{train, val, test} {
		pos := 0
		for _, i := range set {
			if seen[i] {
				t.Fatalf("row %d in two sets", i)
			}
			seen[i] = true
			pos += labels[i]
		}
		if frac := float64(pos) / float64(len(set)); frac != 0.1 {
			t.Fatalf("positive fraction %v, want 0.1 in every set", frac)
		}
	}
	again, _, _, _ := data.Split(1000, labels, 0.2, 0.2, rand.New(rand.NewPCG(1, 2)))
	if !slices.Equal(train, again) {
		t.Fatal("same seed, different split")
	}
	if _, _, _, err := data.Split(10, nil, 0.5, 0.5, rand.New(rand.NewPCG(1, 2))); err == nil {
		t.Fatal("fractions leaving nothing to train accepted")
	}
}

func TestBatches(t *testing.T) {
	bs := data.Batches(10, 4, rand.New(rand.NewPCG(3, 3)))
	if len(bs) != 3 || len(bs[2]) != 2 {
		t.Fatalf("batches %v", bs)
	}
	seen := map[int]bool{}
	for _, b := range bs {
		for _, i := range b {
			seen[i] = true
		}
	}
	if len(seen) != 10 {
		t.Fatalf("batches cover %d rows", len(seen))
	}
}

func TestBatchesByLength(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	lengths := make([]int, 1000)
	for i := range lengths {
		lengths[i] = 1 + rng.IntN(100)
	}
	batches := data.BatchesByLength(lengths, 10, rng)
	seen := map[int]bool{}
	padded, random := 0, 0
	for _, b := range batches {
		longest := 0
		for _, r := range b {
			if seen[r] {
				t.Fatalf("row %d in two batches", r)
			}
			seen[r] = true
			longest = max(longest, lengths[r])
		}
		for _, r := range b {
			padded += longest - lengths[r]
		}
	}
	for _, b := range data.Batches(len(lengths), 10, rng) {
		longest := 0
		for _, r := range b {
			longest = max(longest, lengths[r])
		}
		for _, r := range b {
			random += longest - lengths[r]
		}
	}
	if len(seen) != len(lengths) {
		t.Fatalf("%d of %d rows batched", len(seen), len(lengths))
	}
	if padded*5 > random {
		t.Fatalf("grouping by length pads %d tokens, random batches %d", padded, random)
	}
}

// A byte order mark before the header is not part of the first column's
// name.
// A table that expands past MaxTableBytes (a gzip bomb, here with the limit
// lowered) is an error after reading no more than the limit.
func TestReadCSVTableLimit(t *testing.T) {
	defer data.SetTableLimit(1 << 20)()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("x,y\n"))
	for range 400000 {
		zw.Write([]byte("1,2\n"))
	}
	zw.Close()
	_, err := data.ReadCSV(&gz, "bomb.csv.gz", data.CSVOptions{})
	if err == nil || !strings.Contains(err.Error(), "bomb.csv.gz: more than") {
		t.Fatalf("err = %v", err)
	}
}

// 1e39 is a finite float64 but not a float32: it is refused where it is read.
func TestSchemaRefusesBeyondFloat32(t *testing.T) {
	tab := read(t, "x,y\n1,a\n1e39,b\n3,a\n4,b\n", data.CSVOptions{})
	_, err := data.NewSchema(tab, data.SchemaOptions{}, all(4))
	if err == nil || !strings.Contains(err.Error(), `t.csv line 3: column "x": "1e39" is not a finite number within float32's range`) {
		t.Fatalf("err = %v", err)
	}
}

func TestReadCSVByteOrderMark(t *testing.T) {
	tab, err := data.ReadCSV(strings.NewReader("\uFEFFx,y\n1,2\n"), "bom.csv", data.CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tab.Columns[0] != "x" {
		t.Fatalf("first column %q", tab.Columns[0])
	}
}
