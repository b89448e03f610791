package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/models/mlp"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/train"
)

// csvFlags are the flags that say how to read a CSV file.
type csvFlags struct {
	Sep      string `json:"sep"`
	Header   string `json:"header"`
	SkipRows int    `json:"skip_rows"`
}

func (c *csvFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.Sep, "sep", "auto", `field separator: auto, ",", "tab" or "space"`)
	fs.StringVar(&c.Header, "header", "auto", "whether the first row names the columns: auto, yes or no")
	fs.IntVar(&c.SkipRows, "skip-rows", 0, "lines to skip at the start of the file (1 for scikit-learn's bundled CSVs)")
}

func (c *csvFlags) options() (data.CSVOptions, error) {
	var o data.CSVOptions
	switch c.Sep {
	case "auto", "":
	case ",", "comma":
		o.Comma = ','
	case "tab", `\t`, "\t":
		o.Comma = '\t'
	case "space", " ":
		o.Comma = ' '
	default:
		return o, usagef("--sep %q: want auto, \",\", tab or space", c.Sep)
	}
	switch c.Header {
	case "auto", "":
	case "yes":
		o.Header = data.HeaderYes
	case "no":
		o.Header = data.HeaderNo
	default:
		return o, usagef("--header %q: want auto, yes or no", c.Header)
	}
	if c.SkipRows < 0 {
		return o, usagef("--skip-rows %d: want 0 or more", c.SkipRows)
	}
	o.SkipRows = c.SkipRows
	return o, nil
}

// readTable reads the CSV file at path.
func readTable(path string, c csvFlags) (*data.Table, error) {
	opt, err := c.options()
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return data.ReadCSV(f, path, opt)
}

// Checkpoint metadata keys of a tabular model.
const (
	metaModel  = "moxing.model"  // {"kind": "mlp", "config": {…}}
	metaSchema = "moxing.schema" // data.Schema: target, classes, feature encoding
	metaCSV    = "moxing.csv"    // how the training CSV was read
)

type modelMeta struct {
	Kind   string     `json:"kind"`
	Config mlp.Config `json:"config"`
}

// tabularMeta returns the checkpoint metadata that makes a tabular model
// usable on its own: its architecture, its preprocessing and the CSV format.
func tabularMeta(cfg mlp.Config, schema *data.Schema, c csvFlags) map[string]string {
	m, _ := json.Marshal(modelMeta{Kind: "mlp", Config: cfg})
	s, _ := json.Marshal(schema)
	f, _ := json.Marshal(c)
	return map[string]string{metaModel: string(m), metaSchema: string(s), metaCSV: string(f)}
}

// tabular is a trained tabular model with everything needed to use it.
type tabular struct {
	model  *mlp.Model
	schema *data.Schema
	csv    csvFlags
	head   train.Head
}

// loadTabular loads a checkpoint written by moxing train.
func loadTabular(path string) (*tabular, error) {
	f, err := checkpoint.Load(path)
	if err != nil {
		return nil, err
	}
	raw, ok := f.Metadata[metaModel]
	if !ok {
		return nil, fmt.Errorf("%s: not a moxing model checkpoint (no %s metadata)", path, metaModel)
	}
	var mm modelMeta
	if err := json.Unmarshal([]byte(raw), &mm); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", path, metaModel, err)
	}
	if mm.Kind != "mlp" {
		return nil, fmt.Errorf("%s: a %q model, not a tabular MLP", path, mm.Kind)
	}
	t := &tabular{schema: &data.Schema{}}
	if err := json.Unmarshal([]byte(f.Metadata[metaSchema]), t.schema); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", path, metaSchema, err)
	}
	if err := json.Unmarshal([]byte(f.Metadata[metaCSV]), &t.csv); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", path, metaCSV, err)
	}
	if mm.Config.Inputs != t.schema.Inputs() || mm.Config.Outputs != t.schema.Outputs() {
		return nil, fmt.Errorf("%s: model has %d inputs and %d outputs, its preprocessing gives %d and %d",
			path, mm.Config.Inputs, mm.Config.Outputs, t.schema.Inputs(), t.schema.Outputs())
	}
	if t.model, err = mlp.New(mm.Config, rand.New(rand.NewPCG(0, 0))); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := checkpoint.Assign(nn.Params(t.model), train.ModelTensors(f.Tensors), true); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t.head = train.Head{Task: t.schema.Task, Classes: len(t.schema.Classes), Mean: t.schema.TargetMean, Std: t.schema.TargetStd}
	return t, nil
}

// modelData are the flags of a command that applies a checkpoint to a CSV.
type modelData struct {
	model, data string
	csv         csvFlags
}

func (md *modelData) register(fs *flag.FlagSet, dataUsage string) {
	fs.StringVar(&md.model, "model", "", "checkpoint (best.safetensors of a run)")
	fs.StringVar(&md.data, "data", "", dataUsage)
	md.csv.register(fs)
}

// load loads the checkpoint, reads the CSV (as in training, except for the
// CSV flags given on the command line) and encodes it, with the target
// column when withTarget.
func (md *modelData) load(fs *flag.FlagSet, withTarget bool) (*tabular, *data.Table, *data.Dataset, error) {
	if md.model == "" || md.data == "" {
		return nil, nil, nil, usagef("--model and --data are required; see --help")
	}
	m, err := loadTabular(md.model)
	if err != nil {
		return nil, nil, nil, err
	}
	c := m.csv
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "sep":
			c.Sep = md.csv.Sep
		case "header":
			c.Header = md.csv.Header
		case "skip-rows":
			c.SkipRows = md.csv.SkipRows
		}
	})
	table, err := readTable(md.data, c)
	if err != nil {
		return nil, nil, nil, err
	}
	d, err := m.schema.Encode(table, nil, withTarget)
	if err != nil {
		return nil, nil, nil, err
	}
	return m, table, d, nil
}
