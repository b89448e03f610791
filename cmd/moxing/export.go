package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/quant"
)

const exportExample = `  moxing export --format hf runs/demo-… gpt2-go          # a Hugging Face GPT-2 folder
  moxing export --format hf runs/brown --adapter runs/sentiment-lora/adapter sentiment-hf   # adapters merged
  moxing export --format peft runs/sentiment-lora/best.safetensors sentiment-peft           # the adapters as a PEFT folder
  moxing export --format gguf --type q8_0 runs/demo-… demo.gguf                        # a GGUF file for llama.cpp`

const exportSynopsis = "Writes a GPT (a checkpoint, run folder or Hugging Face folder, with --adapter its adapters) in\n" +
	"another tool's layout, into the folder DIR:\n" +
	"--format hf: a Hugging Face folder that transformers loads (config.json with GPT2Config's fields,\n" +
	"model.safetensors, and vocab.json + merges.txt or tokenizer.json); adapters are merged into the weights.\n" +
	"A classifier becomes GPT2ForSequenceClassification. Tokenizer files in DIR that the export does not write\n" +
	"are removed, so that no stale one is read with the new weights.\n" +
	"--format peft: the model's LoRA adapters (and a classifier's head) as a PEFT folder\n" +
	"(adapter_config.json + adapter_model.safetensors), for PEFT or moxing's --adapter.\n" +
	"--format gguf: a GGUF file (DIR is its path) that llama.cpp runs, matrices stored as --type."

func exportCommand(fs *pflag.FlagSet) runner {
	var format, adapter, typ string
	var asJSON bool
	fs.StringVar(&format, "format", "hf", "hf (a Hugging Face GPT-2 folder), peft (the adapters as a PEFT folder) or gguf (a file)")
	fs.StringVar(&typ, "type", "f16", "gguf: how matrices are stored: f32, f16, bf16 or q8_0")
	fs.StringVar(&adapter, "adapter", "", "a LoRA adapter (PEFT folder or moxing adapter file) to put on MODEL first")
	fs.BoolVar(&asJSON, "json", false, "print what was written as JSON")
	return func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
		args := fs.Args()
		if len(args) != 2 {
			return usagef("want MODEL and DIR, got %d arguments; see --help", len(args))
		}
		if format != "hf" && format != "peft" && format != "gguf" {
			return usagef("--format %q: want hf, peft or gguf", format)
		}
		m, err := load.OpenAdapter(args[0], adapter)
		if err != nil {
			return err
		}
		p := m.GPT
		if p == nil {
			return fmt.Errorf("%s: a %s: moxing export writes GPTs", m.Path, m.Describe())
		}
		what := p.Describe()
		if format == "peft" {
			if p.LM.LoRA == nil {
				return fmt.Errorf("%s: a %s without adapters: nothing to write as a PEFT folder", m.Path, what)
			}
			err = gpt.SavePEFT(args[1], p, args[0])
		} else if format == "gguf" {
			err = gpt.SaveGGUF(args[1], p, typ)
		} else {
			p.LM.MergeLoRA()
			err = gpt.SaveHF(args[1], p)
		}
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(stdout, map[string]string{"model": m.Path, "format": format, "dir": args[1]})
		}
		fmt.Fprintf(stdout, "wrote %s as %s: %s\n", what, map[string]string{"hf": "a Hugging Face folder", "peft": "a PEFT folder", "gguf": "a GGUF file"}[format], args[1])
		return nil
	}
}

const quantizeExample = `  moxing quantize --model runs/demo-… --out demo-q8.safetensors --format q8_0   # then generate, eval or serve it`

const quantizeSynopsis = "Writes a GPT (a checkpoint, run folder, Hugging Face folder or GGUF) as a moxing checkpoint whose\n" +
	"projection matrices and token embedding are stored as --format: q8_0 (GGML's blocks of 32 int8s with a\n" +
	"float16 scale, as NAME in I8 and NAME.scale in F16), bf16 or f16. Norms, biases and the position\n" +
	"embedding stay float32. Every command that loads it runs inference on the stored weights."

func quantizeCommand(fs *pflag.FlagSet) runner {
	var in, out, format string
	fs.StringVar(&in, "model", "", "the GPT model to quantize: checkpoint, run folder, Hugging Face folder or GGUF")
	fs.StringVar(&out, "out", "", "the checkpoint to write (.safetensors)")
	fs.StringVar(&format, "format", "q8_0", "q8_0, bf16 or f16")
	return func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
		t, err := quant.Parse(format)
		if in == "" || out == "" || err != nil || t == quant.F32 {
			return usagef("want --model, --out and --format q8_0, bf16 or f16; see --help")
		}
		m, err := load.Open(in)
		if err != nil {
			return err
		}
		if m.GPT == nil {
			return fmt.Errorf("%s: a %s: moxing quantize writes GPTs", m.Path, m.Describe())
		}
		if err := gpt.SaveQuantized(out, m.GPT, t); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s with %s matrices: %s\n", m.GPT.Describe(), t, out)
		return nil
	}
}
