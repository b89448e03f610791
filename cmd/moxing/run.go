package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moxing/moxing/dist"
	"github.com/moxing/moxing/recipe"
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

// folder returns where the run goes: the run being resumed, whose settings it reads into opts (see
// resumeSettings), or the --run folder. It joins the job (dist.World); on ranks but 0 stdout is io.Discard.
func (r *runFlags) folder(fs *pflag.FlagSet, stdout io.Writer, opts any, extend ...string) (recipe.Folder, io.Writer, error) {
	var err error
	if world, err = dist.World(); err == nil && world.Rank() > 0 {
		stdout = io.Discard // rank 0 reports
	}
	if err != nil || r.resume == "" {
		return recipe.Folder{Dir: r.dir, Comm: world}, stdout, err
	}
	return recipe.Folder{Dir: r.resume, Resume: true, Comm: world}, stdout, resumeSettings(fs, r.resume, opts, extend...)
}

// world is a training command's job (dist.World: one process, or mpirun's); main leaves it.
var world dist.Comm

// lmStopped is the error of a language-model recipe: for an interrupted
// run, the command (cmd, e.g. "moxing pretrain") that continues it.
func lmStopped(res *recipe.LMResult, err error, cmd string) error {
	if errors.Is(err, context.Canceled) && res != nil {
		return fmt.Errorf("interrupted after %d steps; continue with: %s --resume %s", res.Steps, cmd, res.Run)
	}
	return err
}

// printLM prints the best validation loss of a language-model run.
func printLM(w io.Writer, res *recipe.LMResult, asJSON bool) error {
	if asJSON {
		return printJSON(w, res)
	}
	_, err := fmt.Fprintf(w, "best validation loss %.4f (perplexity %.2f) at step %d; checkpoint %s\n",
		res.BestLoss, res.Perplexity, res.BestStep, res.Checkpoint)
	return err
}
