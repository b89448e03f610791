package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/train"
	"github.com/spf13/pflag"
)

// resumeSettings reads the config.json of the run folder being resumed into
// opts (the options the flags of fs are bound to). The flags in extend, when
// given on the command line, then override it (--epochs, --steps: a run is
// extended by asking for more); any other flag besides --resume is a usage
// error, since the run's settings cannot change half way.
func resumeSettings(fs *pflag.FlagSet, dir string, opts any, extend ...string) error {
	set := map[string]string{}
	fs.Visit(func(f *pflag.Flag) { set[f.Name] = f.Value.String() })
	for name := range set {
		if name != "resume" && name != "json" && !slices.Contains(extend, name) {
			return usagef("--%s cannot change when resuming (the run keeps the settings in %s); only %s can",
				name, filepath.Join(dir, "config.json"), "--"+strings.Join(extend, ", --"))
		}
	}
	if err := train.ReadSettings(dir, opts); err != nil {
		return err
	}
	for _, name := range extend {
		if v, ok := set[name]; ok {
			if err := fs.Set(name, v); err != nil {
				return usageError{err.Error()}
			}
		}
	}
	return nil
}

// runFlags are the --run and --resume flags of a training command.
type runFlags struct{ dir, resume string }

// register binds them; extend names the flags that may extend a resumed
// run, and name the default folder.
func (r *runFlags) register(fs *pflag.FlagSet, name, extend string) {
	fs.StringVar(&r.dir, "run", "", "run folder (default: runs/"+name+"-<time>)")
	fs.StringVar(&r.resume, "resume", "", "continue the run in this folder from where it stopped ("+extend+" may extend it)")
}

// folder returns where the run goes, reading the settings of a resumed run
// into opts (see resumeSettings).
func (r *runFlags) folder(fs *pflag.FlagSet, opts any, extend ...string) (runFolder, error) {
	if r.resume == "" {
		return runFolder{dir: r.dir}, nil
	}
	return runFolder{resume: r.resume}, resumeSettings(fs, r.resume, opts, extend...)
}

// runFolder is where a training command keeps its run: a run being
// resumed (--resume), or a folder to create (--run; "" for
// runs/<name>-<time>).
type runFolder struct {
	resume string // the run folder to continue
	dir    string
}

// checkData records the fingerprint of the data at path in *hash for a new
// run (it goes into config.json) and, for a run being resumed, checks that
// the data is what the run started on. Data that cannot be read is left to
// the command to report.
func (f runFolder) checkData(path string, hash *string) error {
	fp, err := data.Fingerprint(path)
	switch {
	case err != nil:
		return nil
	case f.resume == "":
		*hash = fp
	case *hash != "" && *hash != fp:
		return fmt.Errorf("%s changed since the run in %s started (its fingerprint differs): resuming would train on two data sets; start a new --run", path, f.resume)
	}
	return nil
}

// absPaths makes the paths of a new run's settings absolute (those that
// exist as files or folders), so that config.json resumes the run from any
// working directory.
func (f runFolder) absPaths(paths ...*string) {
	if f.resume != "" {
		return
	}
	for _, p := range paths {
		if _, err := os.Stat(*p); *p != "" && err == nil {
			if abs, err := filepath.Abs(*p); err == nil {
				*p = abs
			}
		}
	}
}

// open locks and returns the run being resumed, or creates the new run
// folder, which must be new or empty, with settings in its config.json.
// The caller closes the run when done.
func (f runFolder) open(name string, settings any) (run *train.Run, resume bool, err error) {
	if f.resume != "" {
		run, err = train.OpenRun(f.resume, nil)
		return run, true, err
	}
	dir := f.dir
	if dir == "" {
		dir = filepath.Join("runs", name+"-"+time.Now().Format("20060102-150405"))
	}
	run, err = train.CreateRun(dir, settings)
	return run, false, err
}

// dataStem is the name of a data file or folder without its extensions,
// for run folder names.
func dataStem(path string) string {
	return strings.SplitN(filepath.Base(strings.TrimRight(path, "/")), ".", 2)[0]
}

// fitLM runs a language-model loop with a progress display and prints the
// best validation loss, or the command that resumes an interrupted run
// (cmd, e.g. "moxing pretrain").
func fitLM(ctx context.Context, loop *train.LM, resume bool, trainIDs, valIDs []int, cmd string, asJSON bool, stdout, stderr io.Writer) (train.LMResult, error) {
	if resume {
		if err := loop.Resume(); err != nil {
			return train.LMResult{}, err
		}
	}
	prog := newStepProgress(stderr, loop.Config.Steps)
	loop.Observer = prog
	res, err := loop.Fit(ctx, trainIDs, valIDs)
	prog.finish()
	if errors.Is(err, context.Canceled) {
		return res, fmt.Errorf("interrupted after %d steps; continue with: %s --resume %s", res.Steps, cmd, loop.Run.Dir)
	}
	if err != nil {
		return res, err
	}
	if asJSON {
		return res, printJSON(stdout, map[string]any{"steps": res.Steps, "best_step": res.BestStep, "best_loss": res.BestLoss,
			"perplexity": math.Exp(res.BestLoss), "run": loop.Run.Dir, "checkpoint": loop.Run.Path("best.safetensors")})
	}
	fmt.Fprintf(stdout, "best validation loss %.4f (perplexity %.2f) at step %d; checkpoint %s\n",
		res.BestLoss, math.Exp(res.BestLoss), res.BestStep, loop.Run.Path("best.safetensors"))
	return res, nil
}
