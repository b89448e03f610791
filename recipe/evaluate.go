package recipe

import (
	"fmt"
	"io"

	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/tokenizer"
	"github.com/moxing/moxing/train"
)

// Evaluation is a model's report on labelled data.
type Evaluation struct {
	train.Report
	Rows    int      // rows, images or texts scored
	Classes []string // class names by index (classification)
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
