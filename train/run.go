package train

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/internal/atomicfile"
	"github.com/moxing/moxing/internal/folderlock"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/optim"
	"github.com/moxing/moxing/tensor"
)

// Run is a run folder, the one place both training loops keep a run:
//
//	config.json       the settings the run was started with (any JSON)
//	metrics.jsonl     one Epoch record per evaluation, appended
//	best.safetensors  the best weights so far, with the model's card
//	last.safetensors  weights, optimizer state, card and loop state, to resume
//
// Every file is written atomically (temp file, fsync, rename), so a crash
// leaves the last complete version. CreateRun and OpenRun lock the folder
// (internal/folderlock) until Close or the process's end, so a second run
// on it fails with "in use by process N" instead of mixing files. A Run is
// used by one loop at a time.
type Run struct {
	Dir    string
	unlock func() error // nil for a Run made without CreateRun or OpenRun
}

// CreateRun makes a new run folder dir, which must not exist or be empty,
// locks it and writes settings into its config.json.
func CreateRun(dir string, settings any) (*Run, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	r, err := lockRun(dir)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err == nil && slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.Name() != folderlock.Name }) {
		r.Close()
		return nil, fmt.Errorf("run folder %s is not empty: continue it with --resume %s, or choose another --run", dir, dir)
	}
	if err := r.WriteJSON("config.json", settings); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// OpenRun opens and locks the run folder dir to continue it, reading its
// config.json into settings (when settings is not nil).
func OpenRun(dir string, settings any) (*Run, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("resume: %s is not a run folder: %w", dir, cmp.Or(err, os.ErrNotExist))
	}
	r, err := lockRun(dir)
	if err != nil {
		return nil, err
	}
	if settings == nil {
		return r, nil
	}
	if err := ReadSettings(dir, settings); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// ReadSettings reads the config.json of the run folder dir into settings,
// without locking the folder (a run may be writing it).
func ReadSettings(dir string, settings any) error {
	path := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(raw, settings)
	}
	if err != nil {
		return fmt.Errorf("resume: %s: %w", path, err)
	}
	return nil
}

// lockRun locks dir for a run.
func lockRun(dir string) (*Run, error) {
	unlock, err := folderlock.Lock(dir)
	if errors.Is(err, folderlock.ErrInUse) {
		return nil, fmt.Errorf("run folder %w: wait for it to finish, or choose another --run", err)
	}
	if err != nil {
		return nil, err
	}
	// Temporary files of a write a crash interrupted: nobody else can be
	// writing them, since the folder is ours now.
	if tmps, err := filepath.Glob(filepath.Join(dir, ".*.tmp-*")); err == nil {
		for _, t := range tmps {
			os.Remove(t)
		}
	}
	return &Run{Dir: dir, unlock: unlock}, nil
}

// trimMetrics drops the records of metrics.jsonl past the epoch (or step)
// upTo that the run resumes from: a run killed after logging an epoch but
// before saving its checkpoint redoes that epoch, and its line must not
// appear twice.
func (r *Run) trimMetrics(upTo int) error {
	path := r.Path("metrics.jsonl")
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var kept []byte
	for _, line := range bytes.SplitAfter(raw, []byte("\n")) {
		var rec struct {
			Epoch *int `json:"epoch"`
			Step  *int `json:"step"`
		}
		if len(bytes.TrimSpace(line)) == 0 || json.Unmarshal(line, &rec) != nil {
			continue // a torn last line
		}
		if n := cmp.Or(rec.Epoch, rec.Step); n != nil && *n > upTo {
			continue
		}
		kept = append(kept, line...)
	}
	if len(kept) == len(raw) {
		return nil
	}
	return atomicfile.Write(path, func(w io.Writer) error { _, err := w.Write(kept); return err })
}

// Close releases the run folder's lock (a nil Run has none).
func (r *Run) Close() error {
	if r == nil || r.unlock == nil {
		return nil
	}
	u := r.unlock
	r.unlock = nil
	return u()
}

// Path is the path of the run's file name.
func (r *Run) Path(name string) string { return filepath.Join(r.Dir, name) }

// WriteJSON writes v as indented JSON to the run's file name, atomically.
func (r *Run) WriteJSON(name string, v any) error {
	return atomicfile.Write(r.Path(name), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}

// logEpoch appends e to metrics.jsonl.
func (r *Run) logEpoch(e Epoch) error {
	f, err := os.OpenFile(r.Path("metrics.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	line, _ := json.Marshal(e)
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("train: metrics.jsonl: %w", err)
	}
	return nil
}

// saveBest writes best.safetensors: params with meta.
func (r *Run) saveBest(params []nn.Param, meta map[string]string) error {
	return checkpoint.SaveParams(r.Path("best.safetensors"), params, meta)
}

// stateKey is the metadata key of the loop state in last.safetensors.
const stateKey = "moxing.train"

// saveLast writes last.safetensors: params, opt's state (under
// checkpoint.OptimPrefix), meta and the loop state as JSON.
func (r *Run) saveLast(params []nn.Param, opt optim.Optimizer, meta map[string]string, state any) error {
	tensors := map[string]*tensor.Tensor{}
	for _, p := range params {
		tensors[p.Name] = p.Tensor
	}
	for k, v := range opt.State() {
		tensors[checkpoint.OptimPrefix+k] = v
	}
	all := maps.Clone(meta)
	if all == nil {
		all = map[string]string{}
	}
	raw, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("train: state: %w", err)
	}
	all[stateKey] = string(raw)
	return checkpoint.Save(r.Path("last.safetensors"), tensors, all)
}

// errNothingSaved is loadLast's error for a run without last.safetensors:
// one stopped (or killed) before its first epoch or step ended. Resume
// starts such a run over.
var errNothingSaved = errors.New("no last.safetensors")

// loadLast restores params and opt's state from last.safetensors and
// decodes the loop state into state. It returns the best weights of
// best.safetensors by name (nil when there is none).
func (r *Run) loadLast(params []nn.Param, opt optim.Optimizer, state any) (map[string][]float32, error) {
	path := r.Path("last.safetensors")
	f, err := checkpoint.Load(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errNothingSaved
		}
		return nil, err
	}
	raw, ok := f.Metadata[stateKey]
	if !ok {
		return nil, fmt.Errorf("%s: no training state (%s metadata): not a last.safetensors of a run", path, stateKey)
	}
	if err := json.Unmarshal([]byte(raw), state); err != nil {
		return nil, fmt.Errorf("%s: training state: %w", path, err)
	}
	weights, optState := map[string]*tensor.Tensor{}, map[string]*tensor.Tensor{}
	for name, t := range f.Tensors {
		if rest, ok := strings.CutPrefix(name, checkpoint.OptimPrefix); ok {
			optState[rest] = t
		} else {
			weights[name] = t
		}
	}
	if err := checkpoint.Assign(params, weights, true); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := opt.LoadState(optState); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if st, ok := state.(interface{ bestSaved() bool }); ok && !st.bestSaved() {
		return nil, nil // no epoch or step has been best yet
	}
	// The state names a best epoch or step: its weights must be there, or
	// the run would report that epoch while holding others.
	bestPath := r.Path("best.safetensors")
	bf, err := checkpoint.Load(bestPath)
	if err != nil {
		return nil, fmt.Errorf("resume: %w (the best checkpoint the run's state names cannot be read)", err)
	}
	best := map[string][]float32{}
	for name, t := range bf.Tensors {
		best[name] = t.Data
	}
	for _, p := range params {
		if w, ok := best[p.Name]; !ok || len(w) != len(p.Data) {
			return nil, fmt.Errorf("resume: %s does not hold the model's %s (%d values)", bestPath, p.Name, len(p.Data))
		}
	}
	return best, nil
}

// snapshot copies the parameters' values by name.
func snapshot(params []nn.Param) map[string][]float32 {
	m := make(map[string][]float32, len(params))
	for _, p := range params {
		m[p.Name] = append([]float32(nil), p.Data...)
	}
	return m
}

// restore copies saved values (from snapshot or a run's best) back into
// params.
func restore(params []nn.Param, w map[string][]float32) {
	for _, p := range params {
		if v, ok := w[p.Name]; ok && len(v) == p.Numel() {
			copy(p.Data, v)
		}
	}
}

// Trainable returns the parameters that require a gradient: what an
// optimizer should update when part of a model is frozen.
func Trainable(params []nn.Param) []nn.Param {
	var out []nn.Param
	for _, p := range params {
		if p.RequiresGrad() {
			out = append(out, p)
		}
	}
	return out
}

// TrainedOn returns the rows of the table at dataPath that the run in dir
// split into "train", "val" and "test" (its split.json), when the run
// trained on that very file (its config.json's "data"; ok false
// otherwise). Every row is checked against rows, the table's length.
func TrainedOn(dir, dataPath string, rows int) (split map[string][]int, ok bool, err error) {
	var cfg struct {
		Data string `json:"data"`
	}
	if ReadSettings(dir, &cfg) != nil || !sameFile(cfg.Data, dataPath) {
		return nil, false, nil
	}
	path := filepath.Join(dir, "split.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, false, nil
	}
	if err := json.Unmarshal(raw, &split); err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	for _, idx := range split {
		for _, i := range idx {
			if i < 0 || i >= rows {
				return nil, false, fmt.Errorf("%s: row %d is outside the %d rows of %s", path, i, rows, dataPath)
			}
		}
	}
	return split, true, nil
}

// sameFile reports whether two paths name the same file.
func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// History is how a run folder's model was trained: its config.json and its
// metrics.jsonl records (see Epoch), in order.
type History struct {
	Config  json.RawMessage  `json:"config,omitempty"`
	Metrics []map[string]any `json:"metrics"`
}

// maxHistoryBytes bounds each file ReadHistory reads.
const maxHistoryBytes = 64 << 20

// ReadHistory reads the run folder dir's config.json and metrics.jsonl. A
// line of metrics.jsonl that is not a JSON object is skipped (a run killed
// while appending leaves a torn last line); a missing file leaves its field
// empty. It fails on a file over 64 MiB or that is not a regular file, and
// on a config.json that is not JSON, naming the file.
func ReadHistory(dir string) (*History, error) {
	read := func(name string) ([]byte, error) {
		path := filepath.Join(dir, name)
		f, err := data.OpenFile(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		defer f.Close()
		raw, err := io.ReadAll(io.LimitReader(f, maxHistoryBytes+1))
		if err == nil && len(raw) > maxHistoryBytes {
			err = fmt.Errorf("over %d MiB", maxHistoryBytes>>20)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return raw, nil
	}
	h := &History{Metrics: []map[string]any{}}
	raw, err := read("config.json")
	if err != nil {
		return nil, err
	}
	if raw != nil {
		if !json.Valid(raw) {
			return nil, fmt.Errorf("%s: not JSON", filepath.Join(dir, "config.json"))
		}
		h.Config = bytes.TrimSpace(raw)
	}
	if raw, err = read("metrics.jsonl"); err != nil {
		return nil, err
	}
	for line := range bytes.Lines(raw) {
		var rec map[string]any
		if json.Unmarshal(line, &rec) == nil && rec != nil {
			h.Metrics = append(h.Metrics, rec)
		}
	}
	return h, nil
}
