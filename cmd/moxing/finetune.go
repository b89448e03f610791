package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/tokenizer"
	"github.com/moxing/moxing/train"
)

// finetuneOptions are moxing finetune's settings; config.json in the run
// folder holds them, and --resume reads them back.
type finetuneOptions struct {
	Task             string  `json:"task"`
	Init             string  `json:"init"`
	Data             string  `json:"data"`
	ValData          string  `json:"val_data"`
	TextField        string  `json:"text_field"`
	LabelField       string  `json:"label_field"`
	Val              float64 `json:"val"`
	FromScratch      bool    `json:"from_scratch"`
	FreezeEmbeddings bool    `json:"freeze_embeddings"`
	FreezeBlocks     int     `json:"freeze_blocks"`
	LoRARank         int     `json:"lora_rank"`
	LoRAAlpha        float64 `json:"lora_alpha"`
	LoRADropout      float64 `json:"lora_dropout"`
	LoRATargets      string  `json:"lora_targets"`
	Dropout          float64 `json:"dropout"`
	Epochs           int     `json:"epochs"`
	Steps            int     `json:"steps"`
	Batch            int     `json:"batch"`
	LR               float64 `json:"lr"`
	WeightDecay      float64 `json:"weight_decay"`
	Warmup           float64 `json:"warmup"`
	Patience         int     `json:"patience"`
	Monitor          string  `json:"monitor"`
	ClassWeights     string  `json:"class_weights"`
	EMAEpochs        float64 `json:"ema_epochs"`
	EvalEvery        int     `json:"eval_every"`
	Seed             uint64  `json:"seed"`
}

const finetuneExample = `  moxing finetune --task classify --init runs/brown/best.safetensors \
      --data reviews.csv --text-field text --label-field label --run runs/sentiment
  moxing finetune --task classify --init runs/brown/best.safetensors --data train.jsonl \
      --lora-rank 8 --run runs/sentiment-lora          # adapters only: writes adapter.safetensors too
  moxing finetune --task lm --init runs/moby/best.safetensors --data data/brown --run runs/moby-brown`

func runFinetune(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o finetuneOptions
	var runDir, resume string
	fs := newFlags("finetune", "Fine-tunes a pretrained GPT (a moxing checkpoint or a Hugging Face GPT-2 folder) with its tokenizer.\n"+
		"--task classify: a classification head on the last token of each text (see docs/cli.md), trained on a\n"+
		"CSV/TSV/JSONL/JSON file of texts and labels, with early stopping on a validation metric and the best epoch kept.\n"+
		"--task lm: continues training the language model on the token files of moxing prepare (same tokenizer).\n"+
		"Full fine-tuning by default; --freeze-* freeze parts; --lora-rank trains low-rank adapters only.",
		finetuneExample, stderr)
	fs.StringVar(&o.Task, "task", "classify", "classify or lm")
	fs.StringVar(&o.Init, "init", "", "pretrained model: best.safetensors of moxing pretrain/demo, or a Hugging Face GPT-2 folder")
	fs.StringVar(&o.Data, "data", "", "classify: texts and labels (.csv, .tsv, .jsonl, .json); lm: a folder from moxing prepare")
	fs.StringVar(&o.ValData, "val-data", "", "classify: validation texts and labels (default: --val of --data, stratified)")
	fs.StringVar(&o.TextField, "text-field", "text", "classify: the field holding the text")
	fs.StringVar(&o.LabelField, "label-field", "", `classify: the field holding the label (default "label", or "class")`)
	fs.Float64Var(&o.Val, "val", 0.2, "classify: fraction of --data for validation when there is no --val-data")
	fs.BoolVar(&o.FromScratch, "from-scratch", false, "random weights of --init's architecture (a baseline without pretraining)")
	fs.BoolVar(&o.FreezeEmbeddings, "freeze-embeddings", false, "do not train the token and position embeddings")
	fs.IntVar(&o.FreezeBlocks, "freeze-blocks", 0, "do not train the first N transformer blocks")
	fs.IntVar(&o.LoRARank, "lora-rank", 0, "train LoRA adapters of this rank instead of the weights (0: full fine-tuning)")
	fs.Float64Var(&o.LoRAAlpha, "lora-alpha", 0, "LoRA scale numerator: the update is alpha/rank·BA (default: 2·rank)")
	fs.Float64Var(&o.LoRADropout, "lora-dropout", 0.05, "dropout on the adapters' input")
	fs.StringVar(&o.LoRATargets, "lora-targets", "attn.c_attn,attn.c_proj", "projections to adapt: "+strings.Join(gpt.LoRATargets, ","))
	fs.Float64Var(&o.Dropout, "dropout", 0.1, "dropout in the transformer while fine-tuning")
	fs.IntVar(&o.Epochs, "epochs", 10, "classify: maximum epochs")
	fs.IntVar(&o.Steps, "steps", 500, "lm: optimizer steps")
	fs.IntVar(&o.Batch, "batch", 16, "texts (classify) or sequences (lm) per step")
	fs.Float64Var(&o.LR, "lr", 0, "peak learning rate (default 1e-4, or 1e-3 with --lora-rank)")
	fs.Float64Var(&o.WeightDecay, "weight-decay", 0.01, "AdamW weight decay, on matrices only")
	fs.Float64Var(&o.Warmup, "warmup", 0.1, "fraction of the steps spent warming the learning rate up")
	fs.IntVar(&o.Patience, "patience", 3, "classify: stop after this many epochs without improvement (0: never)")
	fs.StringVar(&o.Monitor, "monitor", "accuracy", "classify: validation metric deciding the best epoch: accuracy, f1, auc or loss")
	fs.Float64Var(&o.EMAEpochs, "ema-epochs", 1, "classify: validate and keep an exponential moving average of the weights over about this many epochs (0: the weights as trained)")
	fs.StringVar(&o.ClassWeights, "class-weights", "", `classify: "balanced" (inverse class frequency) or one weight per class, comma-separated, in label order`)
	fs.IntVar(&o.EvalEvery, "eval-every", 0, "lm: steps between validation losses (default steps/10)")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed")
	fs.StringVar(&runDir, "run", "", "run folder (default runs/finetune-<time>)")
	fs.StringVar(&resume, "resume", "", "continue the run in this folder")
	if err := parse(fs, args); err != nil {
		return err
	}
	if resume != "" {
		if err := readRunConfig(resume, &o); err != nil {
			return err
		}
		runDir = resume
	}
	if o.Init == "" || o.Data == "" {
		return usagef("--init and --data are required; see --help")
	}
	if o.LR == 0 {
		o.LR = 1e-4
		if o.LoRARank > 0 {
			o.LR = 1e-3
		}
	}
	if o.LR < 0 || o.Batch < 1 || o.Warmup < 0 || o.Warmup >= 1 || o.Dropout < 0 || o.Dropout >= 1 || o.FreezeBlocks < 0 || o.EMAEpochs < 0 {
		return usagef("--lr, --batch must be positive, --warmup and --dropout in [0, 1), --freeze-blocks and --ema-epochs ≥ 0")
	}
	g, err := loadGPT(o.Init, "")
	if err != nil {
		return err
	}
	if g.cls != nil {
		return fmt.Errorf("--init %s: a %s; fine-tuning starts from a language model", o.Init, g.describe())
	}
	g.lm.MergeLoRA() // a language model fine-tuned with adapters is the base here
	g.LoRA = nil
	base := g.Config
	if o.FromScratch {
		if g.lm, err = gpt.New(base, rand.New(rand.NewPCG(o.Seed, 3))); err != nil {
			return err
		}
	}
	g.lm.SetDropout(float32(o.Dropout))
	if o.FreezeBlocks > len(g.lm.H) {
		return usagef("--freeze-blocks %d: the model has %d blocks", o.FreezeBlocks, len(g.lm.H))
	}
	if o.FreezeEmbeddings {
		g.lm.Wte.Weight.SetRequiresGrad(false)
		g.lm.Wpe.Weight.SetRequiresGrad(false)
	}
	for _, blk := range g.lm.H[:o.FreezeBlocks] {
		for _, p := range nn.Params(blk) {
			p.SetRequiresGrad(false)
		}
	}
	if o.LoRARank > 0 {
		if o.LoRAAlpha == 0 {
			o.LoRAAlpha = 2 * float64(o.LoRARank)
		}
		lc := gpt.LoRAConfig{Rank: o.LoRARank, Alpha: float32(o.LoRAAlpha), Dropout: float32(o.LoRADropout), Targets: strings.Split(o.LoRATargets, ",")}
		if err := g.lm.AddLoRA(lc, rand.New(rand.NewPCG(o.Seed, 4))); err != nil {
			return usageError{err.Error()}
		}
		g.LoRA = g.lm.LoRA
	}
	if runDir == "" {
		runDir = filepath.Join("runs", "finetune-"+time.Now().Format("20060102-150405"))
	}
	switch o.Task {
	case "classify":
		return finetuneClassifier(ctx, g, base, o, runDir, resume != "", stdout, stderr)
	case "lm":
		return finetuneLM(ctx, g, base, o, runDir, resume != "", stdout, stderr)
	}
	return usagef("--task %q: want classify or lm", o.Task)
}

// finetuneClassifier trains a classifier on g's language model.
func finetuneClassifier(ctx context.Context, g *gptModel, base gpt.Config, o finetuneOptions, runDir string, resume bool, stdout, stderr io.Writer) error {
	topt := data.TextOptions{TextField: o.TextField, LabelField: o.LabelField}
	ex, err := readTextFile(o.Data, topt)
	if err != nil {
		return err
	}
	classes, labels, err := data.Labels(ex, o.Data)
	if err != nil {
		return err
	}
	trainSet, valSet, err := textSets(g.tok, base.BlockSize, ex, classes, labels, o.Data, o.ValData, topt, o.Val, o.Seed, stderr)
	if err != nil {
		return err
	}
	weights, err := classWeights(o.ClassWeights, trainSet.Labels, classes)
	if err != nil {
		return err
	}

	cls, err := gpt.NewClassifier(g.lm, len(classes), rand.New(rand.NewPCG(o.Seed, 2)))
	if err != nil {
		return err
	}
	g.cls, g.Kind, g.Labels = cls, "gpt-classifier", classes
	meta, err := gptMetadata(g.gptMeta, g.tok)
	if err != nil {
		return err
	}
	trainable := train.Trainable(nn.Params(cls))
	batches := (trainSet.Len() + o.Batch - 1) / o.Batch // per epoch
	steps := o.Epochs * batches
	var opt optim.Optimizer = optim.NewAdamW(trainable, optim.AdamConfig{LR: float32(o.LR), WeightDecay: float32(o.WeightDecay),
		Decay: func(p nn.Param) bool { return p.NDim() >= 2 }})
	if span := o.EMAEpochs * float64(batches); span > 1 {
		opt = optim.NewEMA(opt, float32(1-1/span)) // the average spans about 1/(1-decay) steps
	}
	sched := optim.WarmupCosine{MaxLR: float32(o.LR), MinLR: float32(o.LR) / 10, WarmupSteps: int(o.Warmup * float64(steps)), DecaySteps: steps}
	if !resume {
		if err := newRunDir(runDir, o); err != nil {
			return err
		}
	}
	loop := &train.Supervised{
		Model: cls, Opt: opt,
		Head: train.Head{Task: data.Classification, Classes: len(classes), PerClassLogits: true, ClassWeights: weights},
		Config: train.Config{Epochs: o.Epochs, BatchSize: o.Batch, Monitor: o.Monitor, Patience: o.Patience, ClipNorm: 1,
			Seed: o.Seed, Schedule: sched, RunDir: runDir, Meta: meta},
		Observer: newProgress(stderr, o.Epochs, batches),
	}
	if resume {
		if err := loop.Resume(filepath.Join(runDir, "last.safetensors")); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "%d training and %d validation texts, classes %s; %d of %d parameters trained; run folder %s\n",
		trainSet.Len(), valSet.Len(), strings.Join(classes, ", "), nn.NumParams(trainable), nn.NumParams(nn.Params(cls)), runDir)
	start := time.Now()
	res, err := loop.Fit(ctx, trainSet, valSet)
	loop.Observer.(*progress).finish()
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted after %d epochs; continue with: moxing finetune --resume %s", res.Epochs, runDir)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "trained %d epochs in %.1fs (%s); best epoch %d, %s %.4f\n",
		res.Epochs, time.Since(start).Seconds(), res.Stopped, res.BestEpoch, loop.Config.Monitor, res.Best)
	fmt.Fprintf(stdout, "best checkpoint: %s\n", filepath.Join(runDir, "best.safetensors"))
	return saveAdapterFile(g, base, runDir, stdout)
}

// saveAdapterFile writes <run>/adapter.safetensors for a LoRA run: the
// adapters and any head, with the base's architecture, to load onto the
// base with --adapter.
func saveAdapterFile(g *gptModel, base gpt.Config, runDir string, stdout io.Writer) error {
	if g.LoRA == nil {
		return nil
	}
	am := g.gptMeta
	am.Config = base
	meta, err := gptMetadata(am, g.tok)
	if err != nil {
		return err
	}
	meta[metaAdapter] = meta[metaModel]
	delete(meta, metaModel)
	path := filepath.Join(runDir, "adapter.safetensors")
	if err := train.SaveAdapter(path, g.module(), meta); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "adapter: %s (apply it to the base model with --adapter)\n", path)
	return nil
}

// finetuneLM continues training g's language model on prepared token files.
func finetuneLM(ctx context.Context, g *gptModel, base gpt.Config, o finetuneOptions, runDir string, resume bool, stdout, stderr io.Writer) error {
	tok, trainIDs, valIDs, err := readPrepared(o.Data)
	if err != nil {
		return err
	}
	if !sameTokenizer(tok, g.tok) {
		return fmt.Errorf("%s was prepared with another tokenizer than %s's: prepare the corpus with moxing prepare --tokenizer-from %s",
			o.Data, o.Init, o.Init)
	}
	if err := checkWindows(o.Data, base.BlockSize, trainIDs, valIDs); err != nil {
		return err
	}
	if !resume {
		if err := newRunDir(runDir, o); err != nil {
			return err
		}
	}
	meta, err := gptMetadata(g.gptMeta, g.tok)
	if err != nil {
		return err
	}
	cfg := train.LMConfig{Steps: o.Steps, BatchSize: o.Batch, LR: float32(o.LR), Warmup: max(1, int(o.Warmup*float64(o.Steps))),
		WeightDecay: float32(o.WeightDecay), EvalEvery: o.EvalEvery, Seed: o.Seed, RunDir: runDir, Meta: meta, Resume: resume}
	fmt.Fprintf(stderr, "%d training and %d validation tokens; %d of %d parameters trained; run folder %s\n",
		len(trainIDs), len(valIDs), nn.NumParams(train.Trainable(nn.Params(g.lm))), nn.NumParams(nn.Params(g.lm)), runDir)
	prog := &progress{w: stderr}
	if p := newProgress(stderr, 1, cfg.Steps); p.bar != nil {
		prog = p
	}
	res, err := train.Pretrain(ctx, g.lm, trainIDs, valIDs, cfg, lmProgress{prog})
	prog.finish()
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted after %d steps; continue with: moxing finetune --resume %s", res.Steps, runDir)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "best validation loss %.4f (perplexity %.2f) at step %d; checkpoint %s\n",
		res.BestLoss, math.Exp(res.BestLoss), res.BestStep, filepath.Join(runDir, "best.safetensors"))
	return saveAdapterFile(g, base, runDir, stdout)
}

// readTextFile reads labelled (or, with NoLabels, plain) texts.
func readTextFile(path string, opt data.TextOptions) ([]data.TextExample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return data.ReadTextExamples(f, path, opt)
}

// textSets encodes the labelled texts ex of dataPath with tok (cut to
// window tokens) and returns the training and validation sets: valPath's
// texts for validation when it is given, else a stratified split of ex
// keeping val of them, seeded by seed.
func textSets(tok tokenizer.Tokenizer, window int, ex []data.TextExample, classes []string, labels []int, dataPath, valPath string,
	topt data.TextOptions, val float64, seed uint64, warn io.Writer) (trainSet, valSet *data.Dataset, err error) {
	all, err := encodeTexts(tok, ex, window, dataPath, warn)
	if err != nil {
		return nil, nil, err
	}
	all.Labels = labels
	if valPath != "" {
		vex, err := readTextFile(valPath, topt)
		if err != nil {
			return nil, nil, err
		}
		if valSet, err = encodeTexts(tok, vex, window, valPath, warn); err != nil {
			return nil, nil, err
		}
		if valSet.Labels, err = labelIndex(vex, classes, valPath); err != nil {
			return nil, nil, err
		}
		return all, valSet, nil
	}
	tr, va, _, err := data.Split(len(ex), labels, val, 0, rand.New(rand.NewPCG(seed, 1)))
	if err != nil {
		return nil, nil, err
	}
	if len(va) == 0 {
		return nil, nil, usagef("--val %g leaves no validation texts out of %d", val, len(ex))
	}
	return all.Subset(tr), all.Subset(va), nil
}

// encodeTexts tokenizes texts into padded id rows (see gpt.Pad), cutting
// those longer than the window to its first window tokens and saying so
// once.
func encodeTexts(tok tokenizer.Tokenizer, ex []data.TextExample, window int, name string, warn io.Writer) (*data.Dataset, error) {
	seqs := make([][]int, len(ex))
	lines, lengths := make([]int, len(ex)), make([]int, len(ex))
	cut := 0
	for i, e := range ex {
		ids, err := tok.Encode(e.Text)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", name, e.Where, err)
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("%s %s: the text has no tokens", name, e.Where)
		}
		if len(ids) > window {
			ids, cut = ids[:window], cut+1
		}
		seqs[i], lines[i], lengths[i] = ids, i+1, len(ids)
	}
	if cut > 0 {
		fmt.Fprintf(warn, "note: %d of %d texts in %s are longer than the model's window of %d tokens; their first %d tokens are used\n",
			cut, len(ex), name, window, window)
	}
	return &data.Dataset{X: data.Pad(seqs), Lines: lines, Lengths: lengths}, nil
}

// labelIndex maps texts' labels to the training classes.
func labelIndex(ex []data.TextExample, classes []string, name string) ([]int, error) {
	index := map[string]int{}
	for i, c := range classes {
		index[c] = i
	}
	y := make([]int, len(ex))
	for i, e := range ex {
		k, ok := index[e.Label]
		if !ok {
			return nil, fmt.Errorf("%s %s: label %q is not one of the training labels (%s)", name, e.Where, e.Label, strings.Join(classes, ", "))
		}
		y[i] = k
	}
	return y, nil
}

// classWeights parses --class-weights: "" (none), "balanced" (n/(K·n_k) on
// the training labels, as scikit-learn), or K comma-separated numbers.
func classWeights(spec string, labels []int, classes []string) ([]float32, error) {
	switch spec {
	case "":
		return nil, nil
	case "balanced":
		counts := make([]int, len(classes))
		for _, y := range labels {
			counts[y]++
		}
		w := make([]float32, len(classes))
		for k, n := range counts {
			if n == 0 {
				return nil, fmt.Errorf("--class-weights balanced: no training text has the label %q", classes[k])
			}
			w[k] = float32(len(labels)) / float32(len(classes)*n)
		}
		return w, nil
	}
	parts := strings.Split(spec, ",")
	if len(parts) != len(classes) {
		return nil, usagef("--class-weights %q: %d weights for %d classes (%s)", spec, len(parts), len(classes), strings.Join(classes, ", "))
	}
	w := make([]float32, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil || v < 0 || math.IsInf(v, 0) {
			return nil, usagef("--class-weights: %q is not a non-negative number", p)
		}
		w[i] = float32(v)
	}
	return w, nil
}

// sameTokenizer reports whether two tokenizers are the same (same saved
// form).
func sameTokenizer(a, b tokenizer.Tokenizer) bool {
	var sa, sb strings.Builder
	return tokenizer.Save(&sa, a) == nil && tokenizer.Save(&sb, b) == nil && sa.String() == sb.String()
}
