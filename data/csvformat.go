package data

import "fmt"

// CSVFormat is how a CSV file is read, as people write it on a command line
// and as a tabular model's card keeps it (moxing.csv), so that the model
// reads new files the way it read its training file.
type CSVFormat struct {
	Sep      string `json:"sep"`       // "auto" (or ""), ",", "tab" or "space"
	Header   string `json:"header"`    // "auto" (or ""), "yes" or "no"
	SkipRows int    `json:"skip_rows"` // lines to skip at the start
}

// Options returns the CSVOptions f names, or an error naming the field
// (as its command-line flag) that is not one of the values above.
func (f CSVFormat) Options() (CSVOptions, error) {
	var o CSVOptions
	switch f.Sep {
	case "auto", "":
	case ",", "comma":
		o.Comma = ','
	case "tab", `\t`, "\t":
		o.Comma = '\t'
	case "space", " ":
		o.Comma = ' '
	default:
		return o, fmt.Errorf("--sep %q: want auto, \",\", tab or space", f.Sep)
	}
	switch f.Header {
	case "auto", "":
	case "yes":
		o.Header = HeaderYes
	case "no":
		o.Header = HeaderNo
	default:
		return o, fmt.Errorf("--header %q: want auto, yes or no", f.Header)
	}
	if f.SkipRows < 0 {
		return o, fmt.Errorf("--skip-rows %d: want 0 or more", f.SkipRows)
	}
	o.SkipRows = f.SkipRows
	return o, nil
}
