package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/metrics"
	"github.com/moxing/moxing/models/bow"
	"github.com/moxing/moxing/models/cnn"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/models/mlp"
	"github.com/moxing/moxing/models/rnn"
	"github.com/moxing/moxing/recipe"
	"github.com/spf13/pflag"
)

const evalExample = `  moxing eval --model runs/cancer/best.safetensors \
      --data /usr/lib/python3/dist-packages/sklearn/datasets/data/breast_cancer.csv
  moxing eval --model runs/demo/best.safetensors --text some.go --per-token
  moxing eval --model runs/sentiment/best.safetensors --data yelp.json
  moxing eval --model runs/mnist/best.safetensors --data mnist    # the 10,000 test digits`

const evalSynopsis = "Evaluates a checkpoint written by moxing train on every row of a labelled CSV file, or a GPT\n" +
	"classifier of moxing finetune on a labelled text file (CSV/TSV/JSONL/JSON):\n" +
	"loss and accuracy, precision, recall, F1, ROC AUC, log-loss and the confusion matrix for classification;\n" +
	"MSE, RMSE, MAE and R² for regression. The CSV is read as in training unless --sep/--header/--skip-rows say otherwise."

func evalCommand(fs *pflag.FlagSet) runner {
	var md modelData
	var asJSON, perToken bool
	var split string
	var textPath, adapter, textField, labelField string
	md.register(fs, "labelled CSV file")
	fs.BoolVar(&asJSON, "json", false, "print the metrics as JSON")
	fs.StringVar(&split, "split", "all", "for a table the model's run was trained on: the rows to score, all, train, val or test (its split.json)")
	fs.StringVar(&textPath, "text", "", "for a language model: a text file to score (mean cross-entropy per token, perplexity); - reads standard input")
	fs.BoolVar(&perToken, "per-token", false, "with --text: one line per predicted position: its token id and log-probability")
	fs.StringVar(&adapter, "adapter", "", "a LoRA adapter (a PEFT folder, the adapter/ of moxing finetune --lora-rank) to apply to --model")
	fs.StringVar(&textField, "text-field", "text", "for a GPT classifier: the field of --data holding the text")
	fs.StringVar(&labelField, "label-field", "", `for a GPT classifier: the field of --data holding the label (default "label", or "class")`)
	return func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
		if md.model == "" || (md.data == "") == (textPath == "") {
			return usagef("--model and one of --data or --text are required; see --help")
		}
		kinds := []string{mlp.Kind, cnn.Kind, gpt.KindClassifier, rnn.KindClassifier, bow.Kind}
		if textPath != "" || adapter != "" {
			kinds = []string{gpt.KindLM, rnn.KindLM}
		}
		m, err := load.OpenAdapter(md.model, adapter, kinds...)
		if err != nil {
			return err
		}
		if textPath != "" {
			return evalText(stdin, stdout, stderr, m, textPath, perToken, asJSON)
		}
		var ev *recipe.Evaluation
		noun, key, extra := "texts", "texts", map[string]any{}
		switch {
		case m.Tabular != nil:
			ev, err = recipe.EvaluateTabular(m, md.data, md.csvFormat(fs, m.Tabular), split, stderr)
			noun, key, extra["split"] = "rows ("+split+")", "rows", split
		case m.Images != nil:
			ev, err = recipe.EvaluateImages(m.Images, md.data, resolveData(md.data), md.csv)
			noun, key = "images", "rows"
		default:
			var tc *load.TextClassifier
			if tc, err = m.TextClassifier(); err == nil {
				ev, err = recipe.EvaluateTexts(tc, md.data, data.TextOptions{TextField: textField, LabelField: labelField}, stderr)
			}
		}
		if err != nil {
			return err
		}
		if asJSON {
			extra[key], extra["metrics"] = ev.Rows, ev.Metrics
			if ev.Confusion != nil {
				extra["confusion"], extra["classes"] = ev.Confusion.Counts, ev.Classes
			}
			return printJSON(stdout, extra)
		}
		fmt.Fprintf(stdout, "%s: %d %s\n%s\n", md.data, ev.Rows, noun, metrics.Format(ev.Metrics))
		if ev.Confusion != nil {
			fmt.Fprint(stdout, ev.Confusion.Format(ev.Classes))
		}
		return nil
	}
}

// printJSON prints v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// evalText scores a text file with a GPT or recurrent language model: the
// mean cross-entropy of each token given those before it (in windows of the
// model's context, or of a recurrent model's training length, each starting
// afresh with its first token unscored), and the perplexity.
func evalText(stdin io.Reader, w, warn io.Writer, m *load.Model, textPath string, perToken, asJSON bool) error {
	lm, err := m.LanguageModel()
	if err != nil {
		return err
	}
	var raw []byte
	if textPath == "-" {
		raw, err = io.ReadAll(stdin)
	} else {
		raw, err = os.ReadFile(textPath)
	}
	if err != nil {
		return err
	}
	var each func(int, float64)
	if perToken {
		each = func(target int, lp float64) { fmt.Fprintf(w, "%d\t%.6f\n", target, lp) }
	}
	mean, n, err := recipe.ScoreText(lm, string(raw), textPath, each, warn)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(w, map[string]any{"tokens": n, "cross_entropy": mean, "perplexity": math.Exp(mean)})
	}
	fmt.Fprintf(w, "%s: %d tokens scored; cross-entropy %.4f nats/token; perplexity %.3f\n", textPath, n, mean, math.Exp(mean))
	return nil
}
