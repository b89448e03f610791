package main

import (
	"context"
	"fmt"
	"io"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/recipe"
	"github.com/spf13/pflag"
)

const classifyExample = `  moxing classify --model runs/sentiment/best.safetensors --text "The food was great."
  moxing classify --model runs/sentiment/best.safetensors --input reviews.jsonl --out predictions.csv
  moxing classify --model runs/brown/best.safetensors --adapter runs/sentiment-lora/adapter --text "Awful."`

const classifySynopsis = "Classifies texts with a GPT classifier of moxing finetune --task classify or a recurrent one of\n" +
	"moxing train --arch lstm|gru|rnn: --text prints the label\n" +
	"and every class's probability; --input reads a CSV/TSV/JSONL/JSON file (labels not needed) and writes a CSV of\n" +
	"the record, the predicted label and one prob_<label> column per class. --text - classifies standard input\n" +
	"as one text; --input - reads one text per line from it."

func classifyCommand(fs *pflag.FlagSet) runner {
	var modelPath, adapter, text, input, outPath, textField string
	var asJSON bool
	fs.StringVar(&modelPath, "model", "", "classifier checkpoint (best.safetensors of moxing finetune), or with --adapter its base model")
	fs.StringVar(&adapter, "adapter", "", "LoRA adapter to apply to --model: a PEFT folder (the adapter/ of moxing finetune --lora-rank) or a moxing adapter file")
	fs.StringVar(&text, "text", "", "a text to classify")
	fs.StringVar(&input, "input", "", "a file of texts to classify (.csv, .tsv, .jsonl, .json)")
	fs.StringVar(&textField, "text-field", "text", "with --input: the field holding the text")
	fs.StringVar(&outPath, "out", "", "with --input: output CSV file (default: standard output)")
	fs.BoolVar(&asJSON, "json", false, "print the predictions as JSON: label and probabilities per text")
	return func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
		if modelPath == "" || (text == "") == (input == "") {
			return usagef("--model and one of --text or --input are required; see --help")
		}
		m, err := load.OpenAdapter(modelPath, adapter)
		if err != nil {
			return err
		}
		g, err := m.TextClassifier()
		if err != nil {
			return err
		}
		ex, name, err := classifyInputs(text, input, textField, stdin)
		if err != nil {
			return err
		}
		pred, err := recipe.ClassifyTexts(g, ex, name, stderr)
		if err != nil {
			return err
		}
		k := len(g.Labels)
		if asJSON {
			out := make([]map[string]any, len(ex))
			for i, e := range ex {
				probs := map[string]float64{}
				for j, l := range g.Labels {
					probs[l] = pred.Probs[i*k+j]
				}
				out[i] = map[string]any{"text": e.Text, "label": g.Labels[pred.Classes[i]], "probabilities": probs}
			}
			return printJSON(stdout, out)
		}
		if input == "" {
			fmt.Fprintln(stdout, g.Labels[pred.Classes[0]])
			for i, l := range g.Labels {
				fmt.Fprintf(stdout, "  %-12s %.4f\n", l, pred.Probs[i])
			}
			return nil
		}
		header := append([]string{"record", "text", "prediction"}, probColumns(g.Labels)...)
		rows := make([][]string, len(ex))
		for i, e := range ex {
			rows[i] = append([]string{e.Where, e.Text, g.Labels[pred.Classes[i]]}, probCells(pred.Probs, i, k)...)
		}
		write := func(w io.Writer) error { return writeTable(w, header, rows, false) }
		return writeOut(stdout, outPath, write)
	}
}

// classifyInputs are the texts of --text (- for standard input, as one
// text) or --input (a file, or - for standard input, one text per line).
func classifyInputs(text, input, textField string, stdin io.Reader) ([]data.TextExample, string, error) {
	switch {
	case input == "-":
		ex, err := data.ReadTextLines(stdin, "standard input")
		return ex, "standard input", err
	case input != "":
		ex, err := data.ReadTextFile(input, data.TextOptions{TextField: textField, NoLabels: true})
		return ex, input, err
	}
	t, err := readArg(text, stdin)
	return []data.TextExample{{Text: t, Where: "--text"}}, "--text", err
}
