package main

import (
	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/load"
	"github.com/spf13/pflag"
)

// registerCSV binds c to the flags that say how to read a CSV file.
func registerCSV(fs *pflag.FlagSet, c *data.CSVFormat) {
	fs.StringVar(&c.Sep, "sep", "auto", `field separator: auto, ",", "tab" or "space"`)
	fs.StringVar(&c.Header, "header", "auto", "whether the first row names the columns: auto, yes or no")
	fs.IntVar(&c.SkipRows, "skip-rows", 0, "lines to skip at the start of the file (1 for scikit-learn's bundled CSVs)")
}

// modelData are the flags of a command that applies a checkpoint to data.
type modelData struct {
	model, data string
	csv         data.CSVFormat
}

func (md *modelData) register(fs *pflag.FlagSet, dataUsage string) {
	fs.StringVar(&md.model, "model", "", "model: a checkpoint, a run folder (its best.safetensors) or a Hugging Face folder")
	fs.StringVar(&md.data, "data", "", dataUsage)
	registerCSV(fs, &md.csv)
}

// csvFormat is how to read --data for the tabular model t: as its
// training file was read, except for the CSV flags given on the command
// line.
func (md *modelData) csvFormat(fs *pflag.FlagSet, t *load.Tabular) data.CSVFormat {
	c := t.CSV
	fs.Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "sep":
			c.Sep = md.csv.Sep
		case "header":
			c.Header = md.csv.Header
		case "skip-rows":
			c.SkipRows = md.csv.SkipRows
		}
	})
	return c
}
