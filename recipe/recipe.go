// Package recipe holds moxing's training recipes: what "moxing train",
// "pretrain", "finetune", "prepare" and "demo" do (Train, Pretrain,
// FineTune, Prepare, Demo), callable from Go (a server starting jobs, an
// example, a test) as well as from the command line. A recipe reads the
// data, builds the model, the optimizer and the loop, fits in a run folder
// (Folder, train.Run), evaluates and saves, and returns a result to
// report. The package also reads the data that evaluation and prediction
// take for each kind of model (EvaluateTabular, EvaluateImages,
// EvaluateTexts, PredictTabular, PredictImages, ClassifyTexts, ScoreText).
//
// Options are plain structs, one per recipe (TrainOptions,
// PretrainOptions, FineTuneOptions, DemoOptions, PrepareOptions). Those of
// the training recipes are the settings a run folder's config.json keeps,
// so resuming reads them back with train.ReadSettings. A zero value means
// zero: the defaults are in the struct tags. Each field carries, besides
// its `json` tag (its config.json key):
//
//	flag   the command-line flag that sets it, by which errors name it
//	def    its default, as the command line would spell it (none: the zero value)
//	help   the flag's help
//	short  a one-letter shorthand; alias: other names it answers to
//	range  the interval its value must lie in, as "(0,1]" or "[0,)" (see Check)
//
// cmd/moxing registers one flag per tagged field; a Go caller fills the
// struct itself, from the def tags. Every training recipe first checks its
// options against their range tags (Check), then what the tags cannot say
// (a missing setting, an unknown architecture); a mistake in the options is
// an *OptionError.
//
// Progress goes to a train.Observer (nil for none), and notes for the
// user (texts cut to the window, characters the vocabulary lacks, what is
// about to be trained) to an io.Writer (nil discards them).
package recipe

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/dist"
	"github.com/moxing/moxing/train"
)

// OptionError is a mistake in a recipe's options themselves (a missing or
// unknown setting, a combination that cannot work), as opposed to one in the
// data or the files. Its message names the setting by its flag, as
// "--hidden \"x\": …", so that the command line can show it as it is.
type OptionError struct{ Msg string }

// Error returns the message.
func (e *OptionError) Error() string { return e.Msg }

func optionf(format string, args ...any) error {
	return &OptionError{fmt.Sprintf(format, args...)}
}

// Folder is the run folder a recipe trains in.
type Folder struct {
	// Dir is the folder: a new run's, created (it must not exist or be
	// empty) only once the data and the model are ready, so that a failed
	// start leaves nothing behind, and named runs/<data or recipe>-<time>
	// under the working directory when ""; or with Resume the run to
	// continue.
	Dir string
	// Resume continues the run in Dir from its last.safetensors. The
	// options must be its config.json's (see train.ReadSettings); only the
	// epochs or steps may grow, to extend it.
	Resume bool
	// Comm is the job of a data-parallel run on several processes (nil:
	// one process). Every rank reads the data and trains; rank 0 alone
	// writes the run folder, logs and reports progress. A batch size is
	// per process, as in PyTorch's DDP.
	Comm dist.Comm
}

// root reports whether this process writes the run: rank 0, or the only one.
func (f Folder) root() bool { return dist.Or(f.Comm).Rank() == 0 }

// jobBatch is the batch per process of a run: for a new run, batch, with
// the processes and the global batch (batch × processes) recorded in
// *world and *global (config.json's world_size and global_batch); a
// resumed run keeps its global batch, which the processes must divide.
func (f Folder) jobBatch(batch int, world, global *int) (int, error) {
	ranks := dist.Or(f.Comm).Size()
	switch {
	case !f.Resume || *global == 0:
		*world, *global = ranks, batch*ranks
		return batch, nil
	case *global%ranks != 0:
		return 0, optionf("the run in %s has a global batch of %d, which %d processes cannot share evenly", f.Dir, *global, ranks)
	}
	return *global / ranks, nil
}

// quiet silences the ranks other than 0 of a data-parallel run: no
// progress, no notes.
func (f Folder) quiet(obs train.Observer, log io.Writer) (train.Observer, io.Writer) {
	if !f.root() {
		return nil, io.Discard
	}
	return obs, logger(log)
}

// start readies a new run: the option paths that exist made absolute (so
// that its config.json resumes it from any working directory) and Dir, when
// empty, named runs/<name>-<time>. A run being resumed is left as it is.
func (f *Folder) start(name string, paths ...*string) {
	if f.Resume {
		return
	}
	for _, p := range paths {
		if _, err := os.Stat(*p); *p != "" && err == nil {
			if abs, err := filepath.Abs(*p); err == nil {
				*p = abs
			}
		}
	}
	if f.Dir == "" {
		f.Dir = filepath.Join("runs", name+"-"+time.Now().Format("20060102-150405"))
	}
}

// dataStem is the name of a data file or folder without its extensions,
// for run folder names.
func dataStem(path string) string {
	return strings.SplitN(filepath.Base(strings.TrimRight(path, "/")), ".", 2)[0]
}

// open locks and returns the run being resumed, or creates the new run
// folder with settings in its config.json. The caller closes the run.
func (f Folder) open(settings any) (*train.Run, error) {
	if !f.root() {
		return nil, nil
	}
	if f.Resume {
		return train.OpenRun(f.Dir, nil)
	}
	return train.CreateRun(f.Dir, settings)
}

// checkData records the fingerprint of the data at path in *hash for a new
// run (it goes into config.json) and, for a run being resumed, checks that
// the data is what the run started on. Data that cannot be read is left to
// the recipe to report.
func (f Folder) checkData(path string, hash *string) error {
	fp, err := data.Fingerprint(path)
	switch {
	case err != nil:
		return nil
	case !f.Resume:
		*hash = fp
	case *hash != "" && *hash != fp:
		return fmt.Errorf("%s changed since the run in %s started (its fingerprint differs): resuming would train on two data sets; start a new --run", path, f.Dir)
	}
	return nil
}

// logger is where a recipe writes its notes: w, or nowhere when w is nil.
func logger(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// readTable reads the CSV file at path as c says; a malformed c is an
// *OptionError.
func readTable(path string, c data.CSVFormat) (*data.Table, error) {
	opt, err := c.Options()
	if err != nil {
		return nil, &OptionError{err.Error()}
	}
	f, err := data.OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return data.ReadCSV(f, path, opt)
}

// parseInts parses a comma-separated list of integers; empty items are
// skipped.
func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// orDefault is v, or def when v is 0 (a setting whose default depends on
// the model).
func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
