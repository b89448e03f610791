package recipe

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
	"github.com/moxing/moxing/dist"
	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/tokenizer"
	"github.com/moxing/moxing/train"
)

// FineTuneOptions are the settings of FineTune (moxing finetune).
// config.json in the run folder holds them.
type FineTuneOptions struct {
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
	Batch            int     `json:"batch" flag:"batch-size" def:"16" help:"texts (classify) or sequences (lm) per step (per process under mpirun)" range:"(0,)"`
	LR               float64 `json:"lr" flag:"lr" help:"peak learning rate (default 1e-4, or 1e-3 with --lora-rank)" range:"[0,)"`
	WeightDecay      float64 `json:"weight_decay" flag:"weight-decay" def:"0.01" help:"AdamW weight decay, on matrices only (0: none)" range:"[0,)"`
	Warmup           int     `json:"warmup_steps" flag:"warmup" def:"-1" help:"optimizer steps warming the learning rate up (-1: a tenth of them)" range:"[-1,)"`
	Patience         int     `json:"patience" flag:"patience" def:"3" help:"classify: stop after this many epochs without improvement (0: never)" range:"[0,)"`
	Monitor          string  `json:"monitor" flag:"monitor" def:"accuracy" help:"classify: validation metric deciding the best epoch: accuracy, f1, auc or loss"`
	ClassWeights     string  `json:"class_weights" flag:"class-weights" help:"classify: \"balanced\" (inverse class frequency) or one weight per class, comma-separated, in label order"`
	EMAEpochs        float64 `json:"ema_epochs" flag:"ema-epochs" def:"1" help:"classify: validate and keep an exponential moving average of the weights over about this many epochs (0: the weights as trained)" range:"[0,)"`
	EvalEvery        int     `json:"eval_every" flag:"eval-every" help:"lm: steps between validation losses (0: steps/10)" range:"[0,)"`
	Seed             uint64  `json:"seed" flag:"seed" def:"1" help:"random seed"`
	DataHash         string  `json:"data_sha256,omitempty"` // the data's fingerprint, recorded by FineTune and checked on resume
	// World and GlobalBatch: as TrainOptions'.
	World       int `json:"world_size,omitempty"`
	GlobalBatch int `json:"global_batch,omitempty"`
}

// FineTuneResult is how FineTune ended: Classifier for the task
// "classify", LM for "lm".
type FineTuneResult struct {
	Classifier *TrainResult
	LM         *LMResult
	// Adapter is the PEFT folder (adapter_config.json,
	// adapter_model.safetensors) of a LoRA run's adapters and any head,
	// <run>/adapter; "" for full fine-tuning.
	Adapter string
}

// FineTune fine-tunes the GPT at o.Init (a moxing checkpoint or a Hugging
// Face GPT-2 folder) in the run folder f: o.Task "classify" trains a
// classification head on the last token of each text of o.Data, "lm"
// continues training the language model on prepared token files with the
// same tokenizer. The whole model or, with o.LoRARank, low-rank adapters
// only, written as a PEFT folder too. A zero o.LR is 1e-4, or 1e-3 with
// adapters. When ctx is cancelled the run is saved to resume and the error
// wraps ctx's, with the result so far.
func FineTune(ctx context.Context, o FineTuneOptions, f Folder, obs train.Observer, log io.Writer) (*FineTuneResult, error) {
	if err := Check(&o); err != nil {
		return nil, err
	}
	obs, log = f.quiet(obs, log)
	var err error
	if o.Batch, err = f.jobBatch(o.Batch, &o.World, &o.GlobalBatch); err != nil {
		return nil, err
	}
	f.start("finetune", &o.Data, &o.ValData, &o.Init)
	if err := f.checkData(o.Data, &o.DataHash); err != nil {
		return nil, err
	}
	if o.Init == "" || o.Data == "" {
		return nil, optionf("--model and --data are required; see --help")
	}
	if o.Task != "classify" && o.Task != "lm" {
		return nil, optionf("--task %q: want classify or lm", o.Task)
	}
	if o.LR == 0 {
		o.LR = 1e-4
		if o.LoRARank > 0 {
			o.LR = 1e-3
		}
	}
	p, base, err := fineTuneBase(o)
	if err != nil {
		return nil, err
	}
	run, err := f.open(o)
	if err != nil {
		return nil, err
	}
	defer run.Close()
	if !f.Resume && run != nil {
		defer removeIfEmpty(run)
	}
	res := &FineTuneResult{}
	if o.Task == "lm" {
		res.LM, err = fineTuneLM(ctx, p, base, o, run, f, obs, log)
	} else {
		res.Classifier, err = fineTuneClassifier(ctx, p, base, o, run, f, obs, log)
	}
	if err != nil || p.LM.LoRA == nil || run == nil { // rank 0 writes the adapter
		return res, err
	}
	res.Adapter = run.Path("adapter")
	return res, gpt.SavePEFT(res.Adapter, p, o.Init)
}

// removeIfEmpty removes a run folder that holds only its config.json: a
// run that failed before its first checkpoint.
func removeIfEmpty(run *train.Run) {
	if entries, err := os.ReadDir(run.Dir); err == nil && len(entries) == 1 && entries[0].Name() == "config.json" {
		os.RemoveAll(run.Dir)
	}
}

// fineTuneBase opens o.Init, a GPT language model (its adapters merged),
// and makes it ready to fine-tune as o says: random weights, dropout,
// frozen parts, new adapters. It returns the base architecture too.
func fineTuneBase(o FineTuneOptions) (*gpt.Pretrained, gpt.Config, error) {
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
		return nil, base, optionf("--model %s: %v", o.Init, err)
	}
	return m.GPT, base, nil
}

// fineTuneClassifier trains a classifier on p's language model.
func fineTuneClassifier(ctx context.Context, p *gpt.Pretrained, base gpt.Config, o FineTuneOptions, run *train.Run, f Folder, obs train.Observer, log io.Writer) (*TrainResult, error) {
	trainSet, valSet, classes, err := textSets(p.Tokenizer, base.BlockSize, o.Data, o.ValData, data.TextOptions{TextField: o.TextField, LabelField: o.LabelField}, o.Val, o.Seed, log)
	if err != nil {
		return nil, err
	}
	weights, err := data.ClassWeights(o.ClassWeights, trainSet.Labels, classes)
	if err != nil {
		return nil, optionf("--class-weights: %v", err)
	}
	if p.Classifier, err = gpt.NewClassifier(p.LM, len(classes), rand.New(rand.NewPCG(o.Seed, 2))); err != nil {
		return nil, err
	}
	p.Labels = classes
	card, err := p.Card()
	if err != nil {
		return nil, err
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
		Model: p.Classifier, Opt: opt, Run: run, Observer: obs, Comm: f.Comm,
		Head: train.Head{Task: data.Classification, Classes: len(classes), PerClassLogits: true, ClassWeights: weights},
		Config: train.Config{Epochs: o.Epochs, BatchSize: o.Batch * dist.Or(f.Comm).Size(), Monitor: o.Monitor, Patience: o.Patience, ClipNorm: 1, Seed: o.Seed,
			Schedule: train.LMSchedule(float32(o.LR), warmupSteps(o.Warmup, steps), steps), Meta: card.Metadata(checkpoint.MetaCard)},
	}
	fmt.Fprintf(log, "%d training and %d validation texts, classes %s; %d of %d parameters trained; run folder %s\n",
		trainSet.Len(), valSet.Len(), strings.Join(classes, ", "), nn.NumParams(trainable), nn.NumParams(nn.Params(p.Classifier)), f.Dir)
	return fit(ctx, loop, f.Resume, trainSet, valSet, f.Dir)
}

// fineTuneLM continues training p's language model on prepared token files.
func fineTuneLM(ctx context.Context, p *gpt.Pretrained, base gpt.Config, o FineTuneOptions, run *train.Run, f Folder, obs train.Observer, log io.Writer) (*LMResult, error) {
	tok, trainIDs, valIDs, err := data.ReadPrepared(o.Data)
	if err != nil {
		return nil, err
	}
	if !sameTokenizer(tok, p.Tokenizer) {
		return nil, fmt.Errorf("%s was prepared with another tokenizer than %s's: prepare the corpus with moxing prepare --tokenizer-from %s",
			o.Data, o.Init, o.Init)
	}
	if err := data.CheckWindows(o.Data, base.BlockSize, trainIDs, valIDs); err != nil {
		return nil, err
	}
	card, err := p.Card()
	if err != nil {
		return nil, err
	}
	cfg := train.DefaultLMConfig()
	cfg.Steps, cfg.BatchSize, cfg.SeqLen, cfg.Seed, cfg.Meta = o.Steps, o.Batch, base.BlockSize, o.Seed, card.Metadata(checkpoint.MetaCard)
	cfg.EvalEvery = orDefault(o.EvalEvery, max(1, o.Steps/10))
	cfg.Schedule = train.LMSchedule(float32(o.LR), warmupSteps(o.Warmup, o.Steps), o.Steps)
	trainable := train.Trainable(nn.Params(p.LM))
	loop := &train.LM{Model: p.LM, Opt: train.NewLMOptimizer(trainable, float32(o.LR), float32(o.WeightDecay)), Config: cfg, Run: run, Observer: obs, Comm: f.Comm}
	fmt.Fprintf(log, "%d training and %d validation tokens; %d of %d parameters trained; run folder %s\n",
		trainIDs.Len(), valIDs.Len(), nn.NumParams(trainable), nn.NumParams(nn.Params(p.LM)), f.Dir)
	return fitLM(ctx, loop, f.Resume, trainIDs, valIDs, f.Dir)
}

// sameTokenizer reports whether two tokenizers are the same (same saved
// form).
func sameTokenizer(a, b tokenizer.Tokenizer) bool {
	var sa, sb strings.Builder
	return tokenizer.Save(&sa, a) == nil && tokenizer.Save(&sb, b) == nil && sa.String() == sb.String()
}

// warmupSteps is o.Warmup for a run of steps optimizer steps: -1 means a
// tenth of them.
func warmupSteps(warmup, steps int) int {
	if warmup < 0 {
		return steps / 10
	}
	return warmup
}
