package recipe

import (
	"fmt"
	"io"
	"math/rand/v2"
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
	table, err := ReadTable(o.Data, o.CSV)
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

// EvaluateTabular is the loss and metrics of the tabular model t on d, rows
// of a table encoded by t.Schema with their targets.
func EvaluateTabular(t *load.Tabular, d *data.Dataset) (train.Report, error) {
	return tabularHead(t).Evaluate(t.Model, d)
}

// PredictTabular is the tabular model t's predictions for d, rows of a
// table encoded by t.Schema.
func PredictTabular(t *load.Tabular, d *data.Dataset) train.Predictions {
	return tabularHead(t).Predict(t.Model, d)
}
