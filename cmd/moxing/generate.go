package main

import (
	"context"
	"fmt"
	"io"

	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/sample"
	"github.com/spf13/pflag"
)

const generateExample = `  moxing generate --model runs/demo/best.safetensors --prompt 'func main() {' --max-tokens 300 --temperature 0.8 --top-k 40`

const generateSynopsis = "Continues a prompt with a GPT checkpoint (from moxing demo or pretrain) or a recurrent language\n" +
	"model (moxing pretrain --arch lstm), streaming the text as it is generated. Ctrl-C stops it."

func generateCommand(fs *pflag.FlagSet) runner {
	var modelPath, adapter, prompt, stop string
	var maxTokens int
	var seed uint64
	var cfg sample.Config
	var temp, topP, rep float64
	fs.StringVar(&modelPath, "model", "", "language model checkpoint (best.safetensors of a run) or Hugging Face GPT-2 folder")
	fs.StringVar(&adapter, "adapter", "", "LoRA adapter file (adapter.safetensors of moxing finetune) to apply to --model")
	fs.StringVar(&prompt, "prompt", "", "text to continue")
	fs.IntVar(&maxTokens, "max-tokens", 200, "tokens to generate at most")
	fs.Float64Var(&temp, "temperature", 0.8, "sampling temperature (0: greedy)")
	fs.IntVar(&cfg.TopK, "top-k", 40, "sample from the k most likely tokens (0: all)")
	fs.Float64Var(&topP, "top-p", 0, "sample from the smallest set of tokens with this much probability (0: all)")
	fs.Float64Var(&rep, "repetition-penalty", 1, "penalty > 1 for tokens already generated")
	fs.StringVar(&stop, "stop", "", "stop when the generated text contains this")
	fs.Uint64Var(&seed, "seed", 1, "random seed")
	return func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
		cfg.Temperature, cfg.TopP, cfg.RepetitionPenalty = float32(temp), float32(topP), float32(rep)
		if err := cfg.Validate(); err != nil {
			return usageError{err.Error()}
		}
		if modelPath == "" || prompt == "" {
			return usagef("--model and --prompt are required; see --help")
		}
		if maxTokens < 1 {
			return usagef("--max-tokens %d: want at least 1", maxTokens)
		}
		m, err := load.OpenAdapter(modelPath, adapter)
		if err != nil {
			return err
		}
		lm, err := m.LanguageModel()
		if err != nil {
			return err
		}
		fmt.Fprint(stdout, prompt)
		if err := generateText(ctx, stdout, stderr, lm, prompt, maxTokens, cfg, seed, stop); err != nil {
			return err
		}
		fmt.Fprintln(stdout)
		return nil
	}
}
