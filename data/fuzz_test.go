package data_test

import (
	"bytes"
	"testing"

	"github.com/moxing/moxing/data"
)

// FuzzReadCSV: any input either fails with an error or yields a table whose
// rows all have one cell per column, and a schema built from it encodes or
// fails cleanly. Nothing panics.
func FuzzReadCSV(f *testing.F) {
	for _, seed := range []string{
		"a,b,c\n1,2,3\n4,5,6\n",
		"1 2 3\n4 5 6\n",
		"x\ty\n1\t0\n2\t1\n",
		"a,b\n1,\"2\n",
		"569,30,m,b\n1,2,0\n",
		"x,k,y\n1,a,0\n,b,1\nnan,c,0\ninf,a,1\n",
		"\x1f\x8b\x08\x00",
		"",
	} {
		f.Add([]byte(seed), uint8(0))
	}
	f.Fuzz(func(t *testing.T, in []byte, skip uint8) {
		tb, err := data.ReadCSV(bytes.NewReader(in), "fuzz.csv", data.CSVOptions{SkipRows: int(skip % 3)})
		if err != nil {
			return
		}
		for i, row := range tb.Rows {
			if len(row) != len(tb.Columns) {
				t.Fatalf("row %d has %d cells for %d columns", i, len(row), len(tb.Columns))
			}
		}
		rows := make([]int, len(tb.Rows))
		for i := range rows {
			rows[i] = i
		}
		s, err := data.NewSchema(tb, data.SchemaOptions{Impute: "mean"}, rows)
		if err != nil {
			return
		}
		d, err := s.Encode(tb, nil, true)
		if err == nil && d.X.Dim(1) != s.Inputs() {
			t.Fatalf("encoded width %d, schema inputs %d", d.X.Dim(1), s.Inputs())
		}
	})
}
