package recipe

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/tokenizer"
	"github.com/moxing/moxing/train"
)

// TableSplit returns the rows of d, the table at dataPath encoded, that
// split names ("all", "train", "val" or "test") when the model at
// modelPath comes from a run folder trained on dataPath (its config.json
// says so; split.json holds its rows), with a note on log saying which rows
// it scores. For another table, split must be "all".
func TableSplit(modelPath, dataPath string, d *data.Dataset, split string, log io.Writer) (*data.Dataset, error) {
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
	fmt.Fprintf(logger(log), "note: the model was trained on this table: %d rows for training, %d for validation, %d for the test; scoring %s (--split)\n",
		len(rows["train"]), len(rows["val"]), len(rows["test"]), map[string]string{"all": "all of them", "train": "the training rows",
			"val": "the validation rows", "test": "the test rows"}[split])
	if split == "all" {
		return d, nil
	}
	return d.Subset(rows[split]), nil
}

// ScoreText scores text (from name, for messages) with the language model
// lm: the mean cross-entropy in nats of each token given those before it,
// in windows of lm.Window tokens that each start afresh (see
// train.ScoreText), and the number of tokens scored. each, when not nil,
// receives every scored token and its log-probability in order. A note on
// characters the vocabulary lacks goes to log.
func ScoreText(lm *load.LanguageModel, text, name string, each func(target int, logp float64), log io.Writer) (mean float64, n int, err error) {
	lossy := tokenizer.NewLossy(lm.Tokenizer)
	ids, err := lossy.Encode(text)
	noteReplaced(logger(log), lossy, name)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", name, err)
	}
	mean, n, err = train.ScoreText(lm.Model, ids, lm.Window, each)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", name, err)
	}
	return mean, n, nil
}
