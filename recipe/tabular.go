package recipe

import (
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/models/mlp"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/train"
)

// tabularRecipe is Train on a table: read, decide the schema, split, fit
// the preprocessing on the training rows only, encode, build the MLP.
func tabularRecipe(o TrainOptions, log io.Writer) (*supervised, error) {
	table, err := readTable(o.Data, o.CSV)
	if err != nil {
		return nil, err
	}
	sopt := data.SchemaOptions{Target: o.Target, Task: data.Task(o.Task), Impute: o.Impute}
	if o.Categorical != "" {
		sopt.Categorical = strings.Split(o.Categorical, ",")
	}
	sets, err := data.SplitTable(table, sopt, o.Val, o.Test, rand.New(rand.NewPCG(o.Seed, 1)))
	if err != nil {
		return nil, err
	}
	schema := sets.Schema
	for _, d := range schema.Dropped {
		fmt.Fprintf(log, "note: column %q is constant in the training split; ignored\n", d)
	}
	hidden, err := parseInts(o.Hidden)
	if err != nil {
		return nil, optionf("--hidden %q: %v", o.Hidden, err)
	}
	cfg := mlp.Config{Inputs: schema.Inputs(), Hidden: hidden, Outputs: schema.Outputs(), Activation: o.Activation, Dropout: float32(o.Dropout)}
	model, err := mlp.New(cfg, rand.New(rand.NewPCG(o.Seed, 2)))
	if err != nil {
		return nil, &OptionError{err.Error()}
	}
	opt, err := newOptimizer(o, nn.Params(model))
	if err != nil {
		return nil, err
	}
	t := &load.Tabular{Model: model, Schema: schema, CSV: o.CSV}
	about := fmt.Sprintf("%s: %d rows (%d train, %d validation, %d test), %d inputs, %s", o.Data, len(table.Rows),
		sets.Train.Len(), sets.Val.Len(), sets.Test.Len(), schema.Inputs(), schema.Task)
	if schema.Task == data.Classification {
		about += fmt.Sprintf(" of %d classes", len(schema.Classes))
	}
	return &supervised{
		model: model, opt: opt, head: tabularHead(t), classes: schema.Classes, card: load.TabularCard(model, schema, o.CSV),
		trainSet: sets.Train, valSet: sets.Val, testSet: sets.Test, split: sets.Rows,
		about: about + fmt.Sprintf("; model %d parameters", nn.NumParams(nn.Params(model))),
	}, nil
}

// tabularHead is the training head of a tabular model.
func tabularHead(t *load.Tabular) train.Head {
	s := t.Schema
	return train.Head{Task: s.Task, Classes: len(s.Classes), Mean: s.TargetMean, Std: s.TargetStd}
}

// EvaluateTabular is the report of m, a tabular model, on the labelled
// CSV file at path, read as c says (usually m.Tabular.CSV, its training
// file's format) and encoded by its schema: on all its rows, or when m's
// run folder was trained on that very file, on the rows of its split
// ("all", "train", "val" or "test"; see train.TrainedOn), with a note on
// log saying which.
func EvaluateTabular(m *load.Model, path string, c data.CSVFormat, split string, log io.Writer) (*Evaluation, error) {
	t := m.Tabular
	_, d, err := readTabular(t, path, c, true)
	if err != nil {
		return nil, err
	}
	if d, err = tableSplit(m.Path, path, d, split, logger(log)); err != nil {
		return nil, err
	}
	rep, err := tabularHead(t).Evaluate(t.Model, d)
	return &Evaluation{Report: rep, Rows: d.Len(), Classes: t.Schema.Classes}, err
}

// PredictTabular is the tabular model t's predictions for the rows of the
// CSV file at path, read as c says (usually t.CSV) and encoded by its
// schema (the target column may be absent), with the table as read.
func PredictTabular(t *load.Tabular, path string, c data.CSVFormat) (*data.Table, train.Predictions, error) {
	table, err := readTable(path, c)
	if err != nil {
		return nil, train.Predictions{}, err
	}
	p, err := PredictTable(t, table)
	return table, p, err
}

// PredictTable is the tabular model t's predictions for the rows of table,
// encoded by its schema (the target column may be absent).
func PredictTable(t *load.Tabular, table *data.Table) (train.Predictions, error) {
	d, err := t.Schema.Encode(table, nil, false)
	if err != nil {
		return train.Predictions{}, err
	}
	return tabularHead(t).Predict(t.Model, d), nil
}

// readTabular reads the CSV file at path for t and encodes it, with the
// target column when withTarget.
func readTabular(t *load.Tabular, path string, c data.CSVFormat, withTarget bool) (*data.Table, *data.Dataset, error) {
	table, err := readTable(path, c)
	if err != nil {
		return nil, nil, err
	}
	d, err := t.Schema.Encode(table, nil, withTarget)
	if err != nil {
		return nil, nil, err
	}
	return table, d, nil
}

// tableSplit returns the rows of d, the table at dataPath encoded, that
// split names when the model at modelPath comes from a run folder trained
// on dataPath (its config.json says so; split.json holds its rows), saying
// on log which rows it scores. For another table, split must be "all".
func tableSplit(modelPath, dataPath string, d *data.Dataset, split string, log io.Writer) (*data.Dataset, error) {
	if split != "all" && split != "train" && split != "val" && split != "test" {
		return nil, optionf("--split %q: want all, train, val or test", split)
	}
	rows, same, err := train.TrainedOn(filepath.Dir(modelPath), dataPath, d.Len())
	if err != nil {
		return nil, err
	}
	if !same {
		if split != "all" {
			return nil, optionf("--split %s: %s was not trained on %s (its run folder's config.json and split.json say so)", split, modelPath, dataPath)
		}
		return d, nil
	}
	fmt.Fprintf(log, "note: the model was trained on this table: %d rows for training, %d for validation, %d for the test; scoring %s (--split)\n",
		len(rows["train"]), len(rows["val"]), len(rows["test"]), map[string]string{"all": "all of them", "train": "the training rows",
			"val": "the validation rows", "test": "the test rows"}[split])
	if split == "all" {
		return d, nil
	}
	return d.Subset(rows[split]), nil
}
