package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/moxing/moxing/train"
)

// resumeSettings reads the config.json of the run folder being resumed into
// opts (the options the flags of fs are bound to). The flags in extend, when
// given on the command line, then override it (--epochs, --steps: a run is
// extended by asking for more); any other flag besides --resume is a usage
// error, since the run's settings cannot change half way.
func resumeSettings(fs *flag.FlagSet, dir string, opts any, extend ...string) (*train.Run, error) {
	set := map[string]string{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = f.Value.String() })
	for name := range set {
		if name != "resume" && !slices.Contains(extend, name) {
			return nil, usagef("--%s cannot change when resuming (the run keeps the settings in %s); only %s can",
				name, filepath.Join(dir, "config.json"), "--"+strings.Join(extend, ", --"))
		}
	}
	run, err := train.OpenRun(dir, opts)
	if err != nil {
		return nil, err
	}
	for _, name := range extend {
		if v, ok := set[name]; ok {
			if err := fs.Set(name, v); err != nil {
				return nil, usageError{err.Error()}
			}
		}
	}
	return run, nil
}

// newRun creates the run folder dir (runs/<name>-<time> when dir is ""),
// which must be new or empty, with the settings in its config.json.
func newRun(dir, name string, settings any) (*train.Run, error) {
	if dir == "" {
		dir = filepath.Join("runs", name+"-"+time.Now().Format("20060102-150405"))
	}
	return train.CreateRun(dir, settings)
}

// dataStem is the name of a data file or folder without its extensions,
// for run folder names.
func dataStem(path string) string {
	return strings.SplitN(filepath.Base(strings.TrimRight(path, "/")), ".", 2)[0]
}

// fitLM runs a language-model loop with a progress display and prints the
// best validation loss, or the command that resumes an interrupted run
// (cmd, e.g. "moxing pretrain").
func fitLM(ctx context.Context, loop *train.LM, resume bool, trainIDs, valIDs []int, cmd string, stdout, stderr io.Writer) (train.LMResult, error) {
	if resume {
		if err := loop.Resume(); err != nil {
			return train.LMResult{}, err
		}
	}
	prog := &progress{w: stderr}
	if p := newProgress(stderr, 1, loop.Config.Steps); p.bar != nil {
		prog = p
	}
	loop.Observer = lmProgress{prog}
	res, err := loop.Fit(ctx, trainIDs, valIDs)
	prog.finish()
	if errors.Is(err, context.Canceled) {
		return res, fmt.Errorf("interrupted after %d steps; continue with: %s --resume %s", res.Steps, cmd, loop.Run.Dir)
	}
	if err != nil {
		return res, err
	}
	fmt.Fprintf(stdout, "best validation loss %.4f (perplexity %.2f) at step %d; checkpoint %s\n",
		res.BestLoss, math.Exp(res.BestLoss), res.BestStep, loop.Run.Path("best.safetensors"))
	return res, nil
}
