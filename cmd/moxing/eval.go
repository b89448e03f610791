package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/tokenizer"
	"github.com/moxing/moxing/train"
)

const evalExample = `  moxing eval --model runs/cancer/best.safetensors \
      --data /usr/lib/python3/dist-packages/sklearn/datasets/data/breast_cancer.csv`

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var md modelData
	var asJSON, perToken bool
	var textPath, adapter, textField, labelField string
	fs := newFlags("eval", "Evaluates a checkpoint written by moxing train on every row of a labelled CSV file, or a GPT\n"+
		"classifier of moxing finetune on a labelled text file (CSV/TSV/JSONL/JSON):\n"+
		"loss and accuracy, precision, recall, F1, ROC AUC, log-loss and the confusion matrix for classification;\n"+
		"MSE, RMSE, MAE and R² for regression. The CSV is read as in training unless --sep/--header/--skip-rows say otherwise.",
		evalExample+"\n  moxing eval --model runs/demo/best.safetensors --text some.go --per-token"+
			"\n  moxing eval --model runs/sentiment/best.safetensors --data yelp.json"+
			"\n  moxing eval --model runs/mnist/best.safetensors --data mnist    # the 10,000 test digits", stderr)
	md.register(fs, "labelled CSV file")
	fs.BoolVar(&asJSON, "json", false, "print the metrics as JSON")
	fs.StringVar(&textPath, "text", "", "for a GPT checkpoint: a text file to score (mean cross-entropy per token, perplexity)")
	fs.BoolVar(&perToken, "per-token", false, "with --text: one line per predicted position: its token id and log-probability")
	fs.StringVar(&adapter, "adapter", "", "for a GPT classifier trained with LoRA: its adapter.safetensors, applied to --model")
	fs.StringVar(&textField, "text-field", "text", "for a GPT classifier: the field of --data holding the text")
	fs.StringVar(&labelField, "label-field", "", `for a GPT classifier: the field of --data holding the label (default "label", or "class")`)
	if err := parse(fs, args); err != nil {
		return err
	}
	if textPath != "" {
		return evalText(stdout, md.model, textPath, perToken)
	}
	if k := modelKind(md.model); md.model != "" && md.data != "" && (adapter != "" || k == "gpt-classifier" || k == "rnn-classifier") {
		g, err := loadTextClassifier(md.model, adapter)
		if err != nil {
			return err
		}
		return evalClassifier(stdout, stderr, g, md.data, textField, labelField, asJSON)
	}
	if md.model != "" && md.data != "" && modelKind(md.model) == "cnn" {
		im, err := loadCNN(md.model)
		if err != nil {
			return err
		}
		return evalImages(im, md.data, md.csv, stdout, asJSON)
	}
	m, _, d, err := md.load(fs, true)
	if err != nil {
		return err
	}
	rep, err := m.head.Evaluate(m.model, d)
	if err != nil {
		return err
	}
	if asJSON {
		out := map[string]any{"rows": d.Len(), "metrics": rep.Metrics}
		if rep.Confusion != nil {
			out["confusion"], out["classes"] = rep.Confusion.Counts, m.schema.Classes
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(stdout, "%s: %d rows\n%s\n", md.data, d.Len(), formatMetrics(rep.Metrics))
	if rep.Confusion != nil {
		fmt.Fprint(stdout, rep.Confusion.Format(m.schema.Classes))
	}
	return nil
}

// evalText scores a text file with a GPT or recurrent language model: the
// mean cross-entropy of each token given those before it (in windows of the
// model's context, or of a recurrent model's training length, each starting
// afresh with its first token unscored), and the perplexity.
func evalText(w io.Writer, modelPath, textPath string, perToken bool) error {
	if modelPath == "" {
		return usagef("--model is required; see --help")
	}
	var lm train.LanguageModel
	var tok tokenizer.Tokenizer
	var window, vocab int
	if modelKind(modelPath) == "rnn-lm" {
		m, t, w, err := loadRNNLM(modelPath)
		if err != nil {
			return err
		}
		lm, tok, window, vocab = m, t, w, m.Config.Vocab
	} else {
		m, t, err := loadLM(modelPath, "")
		if err != nil {
			return err
		}
		lm, tok, window, vocab = m, t, m.Config.BlockSize, m.Config.VocabSize
	}
	raw, err := os.ReadFile(textPath)
	if err != nil {
		return err
	}
	ids, err := tok.Encode(string(raw))
	if err != nil {
		return fmt.Errorf("%s: %w", textPath, err)
	}
	if len(ids) < 2 {
		return fmt.Errorf("%s: %d tokens: need at least 2 to score one", textPath, len(ids))
	}
	inf := nn.Detach(lm)
	var sum float64
	n := 0
	for start := 0; start+1 < len(ids); start += window {
		end := min(start+window+1, len(ids))
		x, y := ids[start:end-1], ids[start+1:end]
		logits, _ := inf.Forward(x, 1, len(x), nil)
		logp := logits.LogSoftmax(-1) // (1, T, V)
		v := vocab
		for i, target := range y {
			lp := float64(logp.Data[i*v+target])
			sum -= lp
			n++
			if perToken {
				fmt.Fprintf(w, "%d\t%.6f\n", target, lp)
			}
		}
	}
	mean := sum / float64(n)
	fmt.Fprintf(w, "%s: %d tokens scored; cross-entropy %.4f nats/token; perplexity %.3f\n", textPath, n, mean, math.Exp(mean))
	return nil
}

// modelKind returns the kind in a checkpoint's model metadata ("mlp",
// "gpt", "gpt-classifier"), or "" when it has none or cannot be read.
func modelKind(path string) string {
	f, err := checkpoint.Load(path)
	if err != nil {
		return ""
	}
	var k struct {
		Kind string `json:"kind"`
	}
	json.Unmarshal([]byte(f.Metadata[metaModel]), &k)
	return k.Kind
}
