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
		kinds := []string{mlp.Kind, cnn.Kind, gpt.KindClassifier, rnn.KindClassifier}
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
		switch {
		case m.Tabular != nil:
			return evalTabular(stdout, stderr, fs, &md, m, split, asJSON)
		case m.Images != nil:
			return evalImages(m.Images, &md, stdout, asJSON)
		}
		tc, err := m.TextClassifier()
		if err != nil {
			return err
		}
		return evalClassifier(stdout, stderr, tc, md.data, data.TextOptions{TextField: textField, LabelField: labelField}, asJSON)
	}
}

// evalClassifier reports a text classifier's metrics on a labelled text
// file: accuracy, precision, recall, F1, ROC AUC, log-loss and the
// confusion matrix.
func evalClassifier(stdout, stderr io.Writer, g *load.TextClassifier, path string, topt data.TextOptions, asJSON bool) error {
	rep, n, err := recipe.EvaluateTexts(g, path, topt, stderr)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(stdout, map[string]any{"texts": n, "metrics": rep.Metrics, "confusion": rep.Confusion.Counts, "classes": g.Labels})
	}
	fmt.Fprintf(stdout, "%s: %d texts\n%s\n%s", path, n, metrics.Format(rep.Metrics), rep.Confusion.Format(g.Labels))
	return nil
}

// evalTabular reports a tabular model's metrics on --data.
func evalTabular(stdout, stderr io.Writer, fs *pflag.FlagSet, md *modelData, m *load.Model, split string, asJSON bool) error {
	t := m.Tabular
	_, d, err := md.table(fs, t, true)
	if err != nil {
		return err
	}
	if d, err = recipe.TableSplit(m.Path, md.data, d, split, stderr); err != nil {
		return err
	}
	rep, err := recipe.EvaluateTabular(t, d)
	if err != nil {
		return err
	}
	if asJSON {
		out := map[string]any{"rows": d.Len(), "split": split, "metrics": rep.Metrics}
		if rep.Confusion != nil {
			out["confusion"], out["classes"] = rep.Confusion.Counts, t.Schema.Classes
		}
		return printJSON(stdout, out)
	}
	fmt.Fprintf(stdout, "%s: %d rows (%s)\n%s\n", md.data, d.Len(), split, metrics.Format(rep.Metrics))
	if rep.Confusion != nil {
		fmt.Fprint(stdout, rep.Confusion.Format(t.Schema.Classes))
	}
	return nil
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
