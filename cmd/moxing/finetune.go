package main

import (
	"context"
	"fmt"
	"io"

	"github.com/moxing/moxing/progress"
	"github.com/moxing/moxing/recipe"
	"github.com/spf13/pflag"
)

const finetuneExample = `  moxing finetune --task classify --model runs/brown/best.safetensors \
      --data reviews.csv --text-field text --label-field label --run runs/sentiment
  moxing finetune --task classify --model runs/brown/best.safetensors --data train.jsonl \
      --lora-rank 8 --run runs/sentiment-lora          # adapters only: writes the PEFT folder adapter/ too
  moxing finetune --task lm --model runs/moby/best.safetensors --data data/brown --run runs/moby-brown`

const finetuneSynopsis = "Fine-tunes a pretrained GPT (a moxing checkpoint or a Hugging Face GPT-2 folder) with its tokenizer.\n" +
	"--task classify: a classification head on the last token of each text (see docs/cli.md), trained on a\n" +
	"CSV/TSV/JSONL/JSON file of texts and labels, with early stopping on a validation metric and the best epoch kept.\n" +
	"--task lm: continues training the language model on the token files of moxing prepare (same tokenizer).\n" +
	"Full fine-tuning by default; --freeze-* freeze parts; --lora-rank trains low-rank adapters only."

func finetuneCommand(fs *pflag.FlagSet) runner {
	var o recipe.FineTuneOptions
	var rflags runFlags
	var asJSON bool
	bindFlags(fs, &o)
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	rflags.register(fs, "finetune", "--epochs or --steps")
	return func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
		f, stdout, err := rflags.folder(fs, stdout, &o, "epochs", "steps")
		if err != nil {
			return err
		}
		prog := progress.New(stderr, o.Patience)
		if o.Task == "lm" {
			prog = progress.NewSteps(stderr)
		}
		res, err := recipe.FineTune(ctx, o, f, prog, stderr)
		prog.Finish()
		if err != nil {
			if res != nil && res.LM != nil {
				return lmStopped(res.LM, err, "moxing finetune")
			}
			if res != nil {
				return trainStopped(res.Classifier, err, "moxing finetune")
			}
			return err
		}
		if res.LM != nil {
			if err := printLM(stdout, res.LM, asJSON); err != nil {
				return err
			}
		} else if asJSON {
			return printJSON(stdout, res.Classifier)
		} else {
			printTrained(stdout, res.Classifier)
			fmt.Fprintf(stdout, "best checkpoint: %s\n", res.Classifier.Checkpoint)
		}
		if res.Adapter != "" && !asJSON {
			fmt.Fprintf(stdout, "adapter: %s (a PEFT folder: apply it to the base model with --adapter)\n", res.Adapter)
		}
		return nil
	}
}
