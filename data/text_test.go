package data

import (
	"slices"
	"strings"
	"testing"
)

func TestReadTextExamples(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		opt      TextOptions
		want     []TextExample
	}{
		{"a.csv", "text,label\n\"Good, really good\",pos\n\"two\nlines\",neg\n", TextOptions{},
			[]TextExample{{"Good, really good", "pos", "line 2"}, {"two\nlines", "neg", "line 3"}}},
		{"a.tsv", "review\tstars\nfine\t5\n", TextOptions{TextField: "review", LabelField: "stars"},
			[]TextExample{{"fine", "5", "line 2"}}},
		{"a.jsonl", "{\"text\":\"x\",\"label\":1}\n\n{\"text\":\"y\",\"label\":true}\n", TextOptions{},
			[]TextExample{{"x", "1", "line 1"}, {"y", "true", "line 3"}}},
		// The sentiment fixtures' layout: "class", and an empty placeholder last.
		{"a.json", `[{"text":"Wow","class":1},{"text":"","class":null}]`, TextOptions{},
			[]TextExample{{"Wow", "1", "record 1"}}},
		{"a.jsonl", "{\"text\":\"only text\"}\n", TextOptions{NoLabels: true},
			[]TextExample{{"only text", "", "line 1"}}},
	} {
		got, err := ReadTextExamples(strings.NewReader(tc.in), tc.name, tc.opt)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s %q: got %+v, %v; want %+v", tc.name, tc.in, got, err, tc.want)
		}
	}
}

func TestReadTextExamplesErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"a.csv", "", "a.csv: header: the file is empty"},
		{"a.csv", "text,label\n", "a.csv: no records"},
		{"a.csv", "text,label\nhello\n", "a.csv: record on line 2: wrong number of fields"},
		{"a.csv", "body,label\nhello,1\n", `a.csv line 2: text field "text" is missing (fields: "body", "label")`},
		{"a.csv", "text,sentiment\nhello,1\n", `a.csv line 2: label field "label" is missing`},
		{"a.csv", "text,label\n  ,1\n", "a.csv line 2: empty text"},
		{"a.csv", "text,label\nhi,\n", "a.csv line 2: empty label"},
		{"a.jsonl", "{\"text\":\"x\",\"label\":1}\n{oops}\n", "a.jsonl line 2: invalid character"},
		{"a.json", `{"text":"x"}`, "a.json: want a JSON array of objects"},
		{"a.json", `[{"text":"x","label":[1]}]`, `a.json record 1: label field "label" is not a string, number or boolean`},
		{"a.json", `[null]`, "a.json record 1: not an object"},
		{"a.txt", "hello", `a.txt: unknown format ".txt"`},
	} {
		_, err := ReadTextExamples(strings.NewReader(tc.in), tc.name, TextOptions{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: error %v, want %q", tc.name, tc.in, err, tc.want)
		}
	}
}

func TestLabels(t *testing.T) {
	ex := []TextExample{{Label: "10"}, {Label: "9"}, {Label: "10"}, {Label: "-1"}}
	classes, y, err := Labels(ex, "f")
	if err != nil || !slices.Equal(classes, []string{"-1", "9", "10"}) || !slices.Equal(y, []int{2, 1, 2, 0}) {
		t.Fatalf("numeric labels: %v %v %v", classes, y, err)
	}
	classes, _, _ = Labels([]TextExample{{Label: "pos"}, {Label: "neg"}}, "f")
	if !slices.Equal(classes, []string{"neg", "pos"}) {
		t.Fatalf("text labels: %v", classes)
	}
	if _, _, err := Labels([]TextExample{{Label: "pos"}, {Label: "pos"}}, "f.csv"); err == nil || !strings.Contains(err.Error(), `f.csv: every text has the label "pos"`) {
		t.Fatalf("one class: %v", err)
	}
}

func TestBrownText(t *testing.T) {
	in := "\n\n\tThe/at Fulton/np-tl said/vbd ``/`` no/at evidence/nn ''/'' ./.\n\n\tA/at 1/2/cd cup/nn ./.\n"
	want := "The Fulton said \" no evidence \" .\n\nA 1/2 cup .\n"
	if got := BrownText(in); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
