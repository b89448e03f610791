package data_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/moxing/moxing/data"
)

func TestParseImageSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want [3]int
		err  string
	}{
		{"8x8", [3]int{1, 8, 8}, ""},
		{"3x32x16", [3]int{3, 32, 16}, ""},
		{" 28 x 28 ", [3]int{1, 28, 28}, ""},
		{"4by4", [3]int{}, `image size "4by4": want HxW or CxHxW with positive sizes`},
		{"0x4", [3]int{}, "positive sizes"},
		{"-1x4", [3]int{}, "positive sizes"},
		{"", [3]int{}, `image size ""`},
		{"8", [3]int{}, `image size "8": want HxW or CxHxW`},
		{"1x2x3x4", [3]int{}, `image size "1x2x3x4": want HxW or CxHxW`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := data.ParseImageSize(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestIndexClasses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		labels [][]int
		want   []string
		err    string
	}{
		{"one_list", [][]int{{0, 2, 1}}, []string{"0", "1", "2"}, ""},
		{"largest_in_test", [][]int{{0, 1}, {3}}, []string{"0", "1", "2", "3"}, ""},
		{"one_class", [][]int{{0, 0}}, nil, "labels span 1 classes, want 2 to 1000"},
		{"none", nil, nil, "labels span 0 classes"},
		{"too_many", [][]int{{1000}}, nil, "labels span 1001 classes"},
		{"negative", [][]int{{0, 1, -1}}, nil, "label -1 is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := data.IndexClasses(tc.labels...)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestImagesFromTable(t *testing.T) {
	// Two 1x2x2 images per label, the label first or last.
	for _, tc := range []struct {
		name, csv string
		opt       data.ImageTableOptions
	}{
		{"label_last", "p0,p1,p2,p3,digit\n1,2,3,4,b\n5,6,7,8,a\n", data.ImageTableOptions{Shape: [3]int{1, 2, 2}}},
		{"label_first", "digit,p0,p1,p2,p3\nb,1,2,3,4\na,5,6,7,8\n", data.ImageTableOptions{Target: "digit", Shape: [3]int{1, 2, 2}}},
		{"by_index", "digit,p0,p1,p2,p3\nb,1,2,3,4\na,5,6,7,8\n", data.ImageTableOptions{Target: "0", Shape: [3]int{1, 2, 2}}},
		{"channels", "digit,p0,p1,p2,p3\nb,1,2,3,4\na,5,6,7,8\n", data.ImageTableOptions{Target: "digit", Shape: [3]int{4, 1, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			table := readCSV(t, "px.csv", tc.csv)
			d, classes, err := data.ImagesFromTable(table, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			s := tc.opt.Shape
			if !slices.Equal(d.X.Shape(), []int{2, s[0], s[1], s[2]}) || !slices.Equal(d.X.Data, []float32{1, 2, 3, 4, 5, 6, 7, 8}) ||
				!slices.Equal(classes, []string{"a", "b"}) || !slices.Equal(d.Labels, []int{1, 0}) || !slices.Equal(d.Lines, []int{2, 3}) {
				t.Errorf("X %v %v, classes %v, labels %v, lines %v", d.X.Shape(), d.X.Data, classes, d.Labels, d.Lines)
			}
		})
	}
}

func TestImagesFromTableErrors(t *testing.T) {
	for _, tc := range []struct {
		name, csv string
		opt       data.ImageTableOptions
		want      string
	}{
		{"wrong_pixel_count", "p0,p1,p2,p3,y\n1,2,3,4,0\n5,6,7,8,1\n", data.ImageTableOptions{Shape: [3]int{1, 3, 3}},
			`px.csv: 4 pixel columns besides the label "y", but a 1x3x3 image needs 9`},
		{"not_a_number", "p0,p1,p2,p3,y\n1,2,3,4,0\n5,x,7,8,1\n", data.ImageTableOptions{Shape: [3]int{1, 2, 2}},
			`px.csv line 3: column "p1": "x" is not a number`},
		{"text_column", "p0,p1,p2,p3,y\n1,w,3,4,0\n5,x,7,8,1\n", data.ImageTableOptions{Shape: [3]int{1, 2, 2}},
			`px.csv line 2: column "p1": pixel "w" is not a number`},
		{"not_finite", "p0,p1,p2,p3,y\n1,2,3,Inf,0\n5,6,7,8,1\n", data.ImageTableOptions{Shape: [3]int{1, 2, 2}},
			`px.csv line 2: column "p3": pixel "Inf" is not a finite number`},
		{"no_target", "p0,p1,p2,p3,y\n1,2,3,4,0\n5,6,7,8,1\n", data.ImageTableOptions{Target: "label", Shape: [3]int{1, 2, 2}},
			`"label"`},
		{"missing_label", "p0,p1,p2,p3,y\n1,2,3,4,0\n5,6,7,8,\n", data.ImageTableOptions{Shape: [3]int{1, 2, 2}},
			`px.csv line 3: target column "y": missing value`},
		{"zero_shape", "p0,y\n1,0\n2,1\n", data.ImageTableOptions{}, "image shape [0 0 0]: want positive sizes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := data.ImagesFromTable(readCSV(t, "px.csv", tc.csv), tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func readCSV(t *testing.T, name, text string) *data.Table {
	t.Helper()
	table, err := data.ReadCSV(strings.NewReader(text), name, data.CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return table
}
