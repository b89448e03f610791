package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/tokenizer"
	"github.com/moxing/moxing/train"
	"github.com/spf13/pflag"
)

// finetuneOptions are moxing finetune's settings; config.json in the run
// folder holds them, and --resume reads them back.
type finetuneOptions struct {
	Task             string  `json:"task" flag:"task" def:"classify" help:"classify or lm"`
	Init             string  `json:"init" flag:"model" help:"the pretrained model: a checkpoint or run folder of moxing pretrain/demo, or a Hugging Face GPT-2 folder"`
	Data             string  `json:"data" flag:"data" help:"classify: texts and labels (.csv, .tsv, .jsonl, .json); lm: a folder from moxing prepare"`
	ValData          string  `json:"val_data" flag:"val-data" help:"classify: validation texts and labels (default: --val of --data, stratified)"`
	TextField        string  `json:"text_field" flag:"text-field" def:"text" help:"classify: the field holding the text"`
	LabelField       string  `json:"label_field" flag:"label-field" help:"classify: the field holding the label (default \"label\", or \"class\")"`
	Val              float64 `json:"val" flag:"val" def:"0.2" help:"classify: fraction of --data for validation when there is no --val-data" range:"(0,1)"`
	FromScratch      bool    `json:"from_scratch" flag:"from-scratch" help:"random weights of --model's architecture (a baseline without pretraining)"`
	FreezeEmbeddings bool    `json:"freeze_embeddings" flag:"freeze-embeddings" help:"do not train the token and position embeddings"`
	FreezeBlocks     int     `json:"freeze_blocks" flag:"freeze-blocks" help:"do not train the first N transformer blocks" range:"[0,)"`
	LoRARank         int     `json:"lora_rank" flag:"lora-rank" help:"train LoRA adapters of this rank instead of the weights (0: full fine-tuning)" range:"[0,)"`
	LoRAAlpha        float64 `json:"lora_alpha" flag:"lora-alpha" help:"LoRA scale numerator: the update is alpha/rank·BA (default: 2·rank)" range:"[0,)"`
	LoRADropout      float64 `json:"lora_dropout" flag:"lora-dropout" def:"0.05" help:"dropout on the adapters' input" range:"[0,1)"`
	LoRATargets      string  `json:"lora_targets" flag:"lora-targets" def:"attn.c_attn,attn.c_proj" help:"projections to adapt: attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj, wte (the token embedding)"`
	Dropout          float64 `json:"dropout" flag:"dropout" def:"0.1" help:"dropout in the transformer while fine-tuning" range:"[0,1)"`
	Epochs           int     `json:"epochs" flag:"epochs" def:"10" help:"classify: maximum epochs (with --resume: the new total)" range:"(0,)"`
	Steps            int     `json:"steps" flag:"steps" def:"500" help:"lm: optimizer steps (with --resume: the new total)" range:"(0,)"`
	Batch            int     `json:"batch" flag:"batch-size" def:"16" help:"texts (classify) or sequences (lm) per step" range:"(0,)"`
	LR               float64 `json:"lr" flag:"lr" help:"peak learning rate (default 1e-4, or 1e-3 with --lora-rank)" range:"[0,)"`
	WeightDecay      float64 `json:"weight_decay" flag:"weight-decay" def:"0.01" help:"AdamW weight decay, on matrices only (0: none)" range:"[0,)"`
	Warmup           int     `json:"warmup_steps" flag:"warmup" def:"-1" help:"optimizer steps warming the learning rate up (-1: a tenth of them)" range:"[-1,)"`
	Patience         int     `json:"patience" flag:"patience" def:"3" help:"classify: stop after this many epochs without improvement (0: never)" range:"[0,)"`
	Monitor          string  `json:"monitor" flag:"monitor" def:"accuracy" help:"classify: validation metric deciding the best epoch: accuracy, f1, auc or loss"`
	ClassWeights     string  `json:"class_weights" flag:"class-weights" help:"classify: \"balanced\" (inverse class frequency) or one weight per class, comma-separated, in label order"`
	EMAEpochs        float64 `json:"ema_epochs" flag:"ema-epochs" def:"1" help:"classify: validate and keep an exponential moving average of the weights over about this many epochs (0: the weights as trained)" range:"[0,)"`
	EvalEvery        int     `json:"eval_every" flag:"eval-every" help:"lm: steps between validation losses (0: steps/10)" range:"[0,)"`
	Seed             uint64  `json:"seed" flag:"seed" def:"1" help:"random seed"`
	DataHash         string  `json:"data_sha256,omitempty"` // the data's fingerprint, checked on resume
	JSON             bool    `json:"-" flag:"json" help:"print the result as JSON"`
}

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
	var o finetuneOptions
	var rflags runFlags
	bindFlags(fs, &o)
	rflags.register(fs, "finetune", "--epochs or --steps")
	return func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
		rf, err := rflags.folder(fs, &o, "epochs", "steps")
		if err != nil {
			return err
		}
		if err := checkFlags(&o); err != nil {
			return err
		}
		if err := rf.checkData(o.Data, &o.DataHash); err != nil {
			return err
		}
		rf.absPaths(&o.Data, &o.ValData, &o.Init)
		if o.Init == "" || o.Data == "" {
			return usagef("--model and --data are required; see --help")
		}
		if o.Task != "classify" && o.Task != "lm" {
			return usagef("--task %q: want classify or lm", o.Task)
		}
		if o.LR == 0 {
			o.LR = 1e-4
			if o.LoRARank > 0 {
				o.LR = 1e-3
			}
		}
		p, base, err := finetuneBase(o)
		if err != nil {
			return err
		}
		run, resume, err := rf.open("finetune", o)
		if err != nil {
			return err
		}
		defer run.Close()
		if !resume {
			defer removeIfEmpty(run)
		}
		if o.Task == "lm" {
			return finetuneLM(ctx, p, base, o, run, resume, stdout, stderr)
		}
		return finetuneClassifier(ctx, p, base, o, run, resume, stdout, stderr)
	}
}

// removeIfEmpty removes a run folder that holds only its config.json: a
// run that failed before its first checkpoint.
func removeIfEmpty(run *train.Run) {
	if entries, err := os.ReadDir(run.Dir); err == nil && len(entries) == 1 && entries[0].Name() == "config.json" {
		os.RemoveAll(run.Dir)
	}
}

// finetuneBase opens --model, a GPT language model (its adapters merged),
// and makes it ready to fine-tune as o says: random weights, dropout,
// frozen parts, new adapters. It returns the base architecture too.
func finetuneBase(o finetuneOptions) (*gpt.Pretrained, gpt.Config, error) {
	m, err := load.Open(o.Init)
	if err != nil {
		return nil, gpt.Config{}, err
	}
	if m.GPT == nil {
		return nil, gpt.Config{}, fmt.Errorf("--model %s: a %s; fine-tuning starts from a language model", o.Init, m.Describe())
	}
	f := gpt.FineTune{FromScratch: o.FromScratch, Dropout: float32(o.Dropout), FreezeEmbeddings: o.FreezeEmbeddings,
		FreezeBlocks: o.FreezeBlocks, Seed: o.Seed}
	if o.LoRARank > 0 {
		alpha := cmp.Or(o.LoRAAlpha, 2*float64(o.LoRARank))
		f.LoRA = &gpt.LoRAConfig{Rank: o.LoRARank, Alpha: float32(alpha), Dropout: float32(o.LoRADropout), Targets: strings.Split(o.LoRATargets, ",")}
	}
	base, err := m.GPT.PrepareFineTune(f)
	if err != nil {
		return nil, base, usagef("--model %s: %v", o.Init, err)
	}
	return m.GPT, base, nil
}

// finetuneClassifier trains a classifier on p's language model.
func finetuneClassifier(ctx context.Context, p *gpt.Pretrained, base gpt.Config, o finetuneOptions, run *train.Run, resume bool, stdout, stderr io.Writer) error {
	trainSet, valSet, classes, err := textSets(p.Tokenizer, base.BlockSize, o.Data, o.ValData, data.TextOptions{TextField: o.TextField, LabelField: o.LabelField}, o.Val, o.Seed, stderr)
	if err != nil {
		return err
	}
	weights, err := data.ClassWeights(o.ClassWeights, trainSet.Labels, classes)
	if err != nil {
		return usagef("--class-weights: %v", err)
	}
	if p.Classifier, err = gpt.NewClassifier(p.LM, len(classes), rand.New(rand.NewPCG(o.Seed, 2))); err != nil {
		return err
	}
	p.Labels = classes
	card, err := p.Card()
	if err != nil {
		return err
	}
	trainable := train.Trainable(nn.Params(p.Classifier))
	batches := (trainSet.Len() + o.Batch - 1) / o.Batch // per epoch
	steps := o.Epochs * batches
	var opt optim.Optimizer = optim.NewAdamW(trainable, optim.AdamConfig{LR: float32(o.LR), WeightDecay: float32(o.WeightDecay),
		Decay: func(p nn.Param) bool { return p.NDim() >= 2 }})
	if span := o.EMAEpochs * float64(batches); span > 1 {
		opt = optim.NewEMA(opt, float32(1-1/span)) // the average spans about 1/(1-decay) steps
	}
	loop := &train.Supervised{
		Model: p.Classifier, Opt: opt, Run: run,
		Head: train.Head{Task: data.Classification, Classes: len(classes), PerClassLogits: true, ClassWeights: weights},
		Config: train.Config{Epochs: o.Epochs, BatchSize: o.Batch, Monitor: o.Monitor, Patience: o.Patience, ClipNorm: 1, Seed: o.Seed,
			Schedule: train.LMSchedule(float32(o.LR), warmupSteps(o.Warmup, steps), steps), Meta: card.Metadata(checkpoint.MetaCard)},
	}
	fmt.Fprintf(stderr, "%d training and %d validation texts, classes %s; %d of %d parameters trained; run folder %s\n",
		trainSet.Len(), valSet.Len(), strings.Join(classes, ", "), nn.NumParams(trainable), nn.NumParams(nn.Params(p.Classifier)), run.Dir)
	out := stdout
	if o.JSON {
		out = io.Discard
	}
	res, err := fitSupervised(ctx, loop, resume, trainSet, valSet, "moxing finetune", out, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "best checkpoint: %s\n", run.Path("best.safetensors"))
	if err := saveAdapterFile(p, o.Init, run, out); err != nil || !o.JSON {
		return err
	}
	return printJSON(stdout, map[string]any{"epochs": res.Epochs, "best_epoch": res.BestEpoch, "stopped": res.Stopped, "monitor": loop.Config.Monitor,
		"best": res.Best, "run": run.Dir, "checkpoint": run.Path("best.safetensors")})
}

// saveAdapterFile writes <run>/adapter for a LoRA run: a PEFT folder
// (adapter_config.json, adapter_model.safetensors) of the adapters and any
// head, which --adapter puts on the base model, and PEFT reads.
func saveAdapterFile(p *gpt.Pretrained, init string, run *train.Run, stdout io.Writer) error {
	if p.LM.LoRA == nil {
		return nil
	}
	dir := run.Path("adapter")
	if err := gpt.SavePEFT(dir, p, init); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "adapter: %s (a PEFT folder: apply it to the base model with --adapter)\n", dir)
	return nil
}

// finetuneLM continues training p's language model on prepared token files.
func finetuneLM(ctx context.Context, p *gpt.Pretrained, base gpt.Config, o finetuneOptions, run *train.Run, resume bool, stdout, stderr io.Writer) error {
	tok, trainIDs, valIDs, err := data.ReadPrepared(o.Data)
	if err != nil {
		return err
	}
	if !sameTokenizer(tok, p.Tokenizer) {
		return fmt.Errorf("%s was prepared with another tokenizer than %s's: prepare the corpus with moxing prepare --tokenizer-from %s",
			o.Data, o.Init, o.Init)
	}
	if err := data.CheckWindows(o.Data, base.BlockSize, trainIDs, valIDs); err != nil {
		return err
	}
	card, err := p.Card()
	if err != nil {
		return err
	}
	cfg := train.DefaultLMConfig()
	cfg.Steps, cfg.BatchSize, cfg.SeqLen, cfg.Seed, cfg.Meta = o.Steps, o.Batch, base.BlockSize, o.Seed, card.Metadata(checkpoint.MetaCard)
	cfg.EvalEvery = orDefault(o.EvalEvery, max(1, o.Steps/10))
	cfg.Schedule = train.LMSchedule(float32(o.LR), warmupSteps(o.Warmup, o.Steps), o.Steps)
	trainable := train.Trainable(nn.Params(p.LM))
	loop := &train.LM{Model: p.LM, Opt: train.NewLMOptimizer(trainable, float32(o.LR), float32(o.WeightDecay)), Config: cfg, Run: run}
	fmt.Fprintf(stderr, "%d training and %d validation tokens; %d of %d parameters trained; run folder %s\n",
		len(trainIDs), len(valIDs), nn.NumParams(trainable), nn.NumParams(nn.Params(p.LM)), run.Dir)
	if _, err := fitLM(ctx, loop, resume, trainIDs, valIDs, "moxing finetune", o.JSON, stdout, stderr); err != nil {
		return err
	}
	if o.JSON {
		return saveAdapterFile(p, o.Init, run, io.Discard)
	}
	return saveAdapterFile(p, o.Init, run, stdout)
}

// textSets is data.ReadTextSets with a note when texts were cut to the
// window.
func textSets(tok tokenizer.Tokenizer, window int, dataPath, valPath string, topt data.TextOptions, val float64, seed uint64, warn io.Writer) (trainSet, valSet *data.Dataset, classes []string, err error) {
	lossy := tokenizer.NewLossy(tok)
	s, err := data.ReadTextSets(lossy, window, dataPath, valPath, topt, val, rand.New(rand.NewPCG(seed, 1)))
	noteReplaced(warn, lossy, dataPath)
	if err != nil {
		return nil, nil, nil, err
	}
	if s.Cut > 0 {
		fmt.Fprintf(warn, "note: %d texts are longer than the model's window of %d tokens; their first %d tokens are used\n", s.Cut, window, window)
	}
	return s.Train, s.Val, s.Classes, nil
}

// sameTokenizer reports whether two tokenizers are the same (same saved
// form).
func sameTokenizer(a, b tokenizer.Tokenizer) bool {
	var sa, sb strings.Builder
	return tokenizer.Save(&sa, a) == nil && tokenizer.Save(&sb, b) == nil && sa.String() == sb.String()
}

// warmupSteps is --warmup for a run of steps optimizer steps: -1 means a
// tenth of them.
func warmupSteps(warmup, steps int) int {
	if warmup < 0 {
		return steps / 10
	}
	return warmup
}
