package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/recipe"
	"github.com/moxing/moxing/sample"
	"github.com/spf13/pflag"
)

const generateExample = `  moxing generate --model runs/demo/best.safetensors --prompt 'func main() {' --max-tokens 300 --temperature 0.8 --top-k 40
  moxing generate -m runs/demo -p 'package ' -n 100 --temp 0.7 --repeat-penalty 1.1 -s 42   # llama.cpp's flags
  echo 'func main() {' | moxing generate -m runs/demo -p -                                    # the prompt from stdin`

const generateSynopsis = "Continues a prompt with a GPT checkpoint (from moxing demo or pretrain), a Hugging Face GPT-2\n" +
	"folder or a recurrent language model (moxing pretrain --arch lstm), streaming the text as it is generated.\n" +
	"Ctrl-C stops it. llama.cpp's short flags work too."

// generateOptions are moxing generate's settings.
type generateOptions struct {
	Model       string  `flag:"model" short:"m" help:"language model: a checkpoint, a run folder, a Hugging Face GPT-2 folder or a GGUF file"`
	Adapter     string  `flag:"adapter" help:"LoRA adapter to apply to --model: a PEFT folder (the adapter/ of moxing finetune --lora-rank) or a moxing adapter file"`
	Prompt      string  `flag:"prompt" short:"p" help:"text to continue (-: read it from standard input)"`
	MaxTokens   int     `flag:"max-tokens" short:"n" def:"200" alias:"n-predict" help:"tokens to generate at most" range:"(0,)"`
	Temperature float64 `flag:"temperature" def:"0.8" alias:"temp" help:"sampling temperature (0: greedy)" range:"[0,)"`
	TopK        int     `flag:"top-k" def:"40" help:"sample from the k most likely tokens (0: all)" range:"[0,)"`
	TopP        float64 `flag:"top-p" help:"sample from the smallest set of tokens with this much probability (0: all)" range:"[0,1]"`
	Repetition  float64 `flag:"repetition-penalty" def:"1" alias:"repeat-penalty" help:"penalty > 1 for tokens already generated" range:"(0,)"`
	Stop        string  `flag:"stop" help:"stop when the generated text contains this"`
	Seed        uint64  `flag:"seed" short:"s" def:"1" help:"random seed"`
	JSON        bool    `flag:"json" help:"print {\"prompt\", \"completion\"} as JSON once done, instead of streaming the text"`
}

func generateCommand(fs *pflag.FlagSet) runner {
	var o generateOptions
	bindFlags(fs, &o)
	return func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
		if err := recipe.Check(&o); err != nil {
			return err
		}
		cfg := sample.Config{Temperature: float32(o.Temperature), TopK: o.TopK, TopP: float32(o.TopP), RepetitionPenalty: float32(o.Repetition)}
		if err := cfg.Validate(); err != nil {
			return usageError{err.Error()}
		}
		if o.Model == "" || o.Prompt == "" {
			return usagef("--model and --prompt are required; see --help")
		}
		prompt, err := readArg(o.Prompt, stdin)
		if err != nil {
			return err
		}
		m, err := load.OpenAdapter(o.Model, o.Adapter)
		if err != nil {
			return err
		}
		lm, err := m.LanguageModel()
		if err != nil {
			return err
		}
		if o.JSON {
			var b strings.Builder
			if err := generateText(ctx, &b, stderr, lm, prompt, o.MaxTokens, cfg, o.Seed, o.Stop); err != nil {
				return err
			}
			return printJSON(stdout, map[string]string{"prompt": prompt, "completion": b.String()})
		}
		fmt.Fprint(stdout, prompt)
		if err := generateText(ctx, stdout, stderr, lm, prompt, o.MaxTokens, cfg, o.Seed, o.Stop); err != nil {
			return err
		}
		fmt.Fprintln(stdout)
		return nil
	}
}
