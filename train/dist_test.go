package train_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/dist"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/models/mlp"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/train"
)

// distCorpus is a small character corpus, split for training and validation.
func distCorpus() (trainIDs, valIDs data.Tokens, vocab int) {
	text := strings.Repeat("a stitch in time saves nine; waste not, want not. ", 80)
	ids := make([]int, 0, len(text))
	index := map[rune]int{}
	for _, r := range text {
		if _, ok := index[r]; !ok {
			index[r] = len(index)
		}
		ids = append(ids, index[r])
	}
	return tokensOf(ids[:3200]), tokensOf(ids[3200:]), len(index)
}

// distLoop is a GPT language-model loop of global batch 4, its weights
// drawn from init.
func distLoop(t *testing.T, init uint64, perRank, steps int, comm dist.Comm, run *train.Run) *train.LM {
	_, _, vocab := distCorpus()
	m, err := gpt.New(gpt.Config{VocabSize: vocab, BlockSize: 16, NEmbd: 16, NLayer: 2, NHead: 2}, rand.New(rand.NewPCG(init, 7)))
	if err != nil {
		t.Fatal(err)
	}
	cfg := train.DefaultLMConfig()
	cfg.Steps, cfg.BatchSize, cfg.SeqLen, cfg.EvalEvery, cfg.EvalBatches, cfg.Seed = steps, perRank, 16, 10, 2, 3
	cfg.Schedule = train.LMSchedule(3e-3, 3, 20)
	return &train.LM{Model: m, Opt: train.NewLMOptimizer(nn.Params(m), 3e-3, 0.1), Config: cfg, Comm: comm, Run: run}
}

// fitRanks runs the loops, one a rank of a dist.Local job, together.
func fitRanks(t *testing.T, loops []*train.LM) {
	tr, val, _ := distCorpus()
	var wg sync.WaitGroup
	errs := make([]error, len(loops))
	for r, l := range loops {
		wg.Go(func() { _, errs[r] = l.Fit(context.Background(), tr, val) })
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
}

// maxDiff is the largest difference between two loops' models' weights.
func maxDiff(a, b *train.LM) float64 { return paramsDiff(a.Model, b.Model) }

// paramsDiff is the largest difference between two models' weights.
func paramsDiff(a, b any) float64 {
	pa, pb := nn.Params(a), nn.Params(b)
	var d float64
	for i := range pa {
		for j, v := range pa[i].Data {
			d = max(d, math.Abs(float64(v-pb[i].Data[j])))
		}
	}
	return d
}

// Two ranks of batch 2 train the same model as one process of batch 4:
// the replicas stay bit-identical (rank 1 starts from other weights, and
// takes rank 0's), and they match the one process to float tolerance (the
// sums of the two halves' gradients are added in another order).
func TestDataParallelMatchesBigBatch(t *testing.T) {
	const steps = 20
	one := distLoop(t, 1, 4, steps, nil, nil)
	fitRanks(t, []*train.LM{one})
	comms := dist.Local(2)
	two := []*train.LM{distLoop(t, 1, 2, steps, comms[0], nil), distLoop(t, 99, 2, steps, comms[1], nil)}
	fitRanks(t, two)
	if d := maxDiff(two[0], two[1]); d != 0 {
		t.Fatalf("the replicas differ by %g", d)
	}
	const tol = 1e-5
	if d := maxDiff(one, two[0]); !(d <= tol) { // a NaN fails too
		t.Fatalf("2 ranks × batch 2 and 1 × batch 4 differ by %g after %d steps (tolerance %g)", d, steps, tol)
	} else {
		t.Logf("2 ranks × batch 2 vs 1 × batch 4 after %d steps: weights differ by at most %.2g", steps, d)
	}
}

// A run checkpointed on 2 ranks resumes on 1 with the same global batch,
// and one from 1 rank on 2; both end as the run that was never stopped.
func TestDataParallelResumeOtherRanks(t *testing.T) {
	whole := distLoop(t, 1, 4, 20, nil, nil)
	fitRanks(t, []*train.LM{whole})
	for _, tc := range []struct{ first, then int }{{2, 1}, {1, 2}} {
		t.Run(fmt.Sprintf("%d-then-%d", tc.first, tc.then), func(t *testing.T) {
			dir := t.TempDir()
			// The resumed job's models start from other weights: they must
			// take the checkpoint's.
			job := func(ranks, steps int, init uint64) []*train.LM {
				run, err := train.OpenRun(dir, nil)
				if err != nil {
					run, err = train.CreateRun(dir, ranks)
				}
				if err != nil {
					t.Fatal(err)
				}
				defer run.Close()
				comms := dist.Local(ranks)
				var loops []*train.LM
				for r := range ranks {
					var rr *train.Run
					if r == 0 {
						rr = run
					}
					l := distLoop(t, init+uint64(r*50), 4/ranks, steps, comms[r], rr)
					if r == 0 {
						if err := l.Resume(); err != nil {
							t.Fatal(err)
						}
					}
					loops = append(loops, l)
				}
				fitRanks(t, loops)
				return loops
			}
			job(tc.first, 10, 1)
			end := job(tc.then, 20, 1000)
			if d := maxDiff(whole, end[0]); d > 1e-5 {
				t.Fatalf("resumed on %d ranks after 10 steps on %d: differs from the whole run by %g", tc.then, tc.first, d)
			}
		})
	}
}

// The supervised loop on 2 and 3 ranks trains the model one process does
// (batches of 25 rows: shares of 12/13 and 8/8/9, weighted by their size),
// with the same epochs, and bit-identical replicas; rank 0's validation
// decides for all.
func TestDataParallelSupervised(t *testing.T) {
	fitOn := func(ranks int) []*train.Supervised {
		rng := rand.New(rand.NewPCG(1, 1))
		trainSet, val := blobs(200, rng), blobs(60, rng)
		comms := dist.Local(ranks)
		loops := make([]*train.Supervised, ranks)
		for r := range loops {
			m, err := mlp.New(mlp.Config{Inputs: 2, Hidden: []int{16}, Outputs: 1}, rand.New(rand.NewPCG(uint64(7+r), 1)))
			if err != nil {
				t.Fatal(err)
			}
			loops[r] = &train.Supervised{Model: m, Opt: optim.NewAdamW(nn.Params(m), optim.AdamConfig{LR: 0.01, Beta1: 0.9, Beta2: 0.999}),
				Head: train.Head{Task: data.Classification, Classes: 2}, Comm: comms[r],
				Config: train.Config{Epochs: 6, BatchSize: 25, Monitor: "val_loss", Patience: 10, Seed: 3}}
		}
		var wg sync.WaitGroup
		errs := make([]error, ranks)
		for r, l := range loops {
			wg.Go(func() { _, errs[r] = l.Fit(context.Background(), trainSet, val) })
		}
		wg.Wait()
		for r, err := range errs {
			if err != nil {
				t.Fatalf("%d ranks, rank %d: %v", ranks, r, err)
			}
		}
		return loops
	}
	diff := func(a, b *train.Supervised) float64 { return paramsDiff(a.Model, b.Model) }
	one := fitOn(1)[0]
	for _, ranks := range []int{2, 3} {
		loops := fitOn(ranks)
		for r := 1; r < ranks; r++ {
			if d := diff(loops[0], loops[r]); d != 0 {
				t.Fatalf("%d ranks: rank %d differs from rank 0 by %g", ranks, r, d)
			}
		}
		if d := diff(one, loops[0]); d > 1e-5 {
			t.Fatalf("%d ranks differ from one process by %g", ranks, d)
		} else {
			t.Logf("%d ranks vs one process after 6 epochs of 8 batches: weights differ by at most %.2g", ranks, d)
		}
	}
}
