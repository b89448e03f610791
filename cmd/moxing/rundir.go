package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// readRunConfig reads the config.json of the run being resumed into opts.
func readRunConfig(run string, opts any) error {
	path := filepath.Join(run, "config.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if err := json.Unmarshal(raw, opts); err != nil {
		return fmt.Errorf("resume: %s: %w", path, err)
	}
	return nil
}

// startRun names the run folder runs/<name>-<time> when runDir is "" and,
// unless the run is resumed, creates it with the settings in config.json
// (see newRunDir). It returns the folder.
func startRun(runDir, name string, resume bool, opts any) (string, error) {
	if runDir == "" {
		runDir = filepath.Join("runs", name+"-"+time.Now().Format("20060102-150405"))
	}
	if resume {
		return runDir, nil
	}
	return runDir, newRunDir(runDir, opts)
}

// dataStem is the name of a data file or folder without its extensions,
// for run folder names.
func dataStem(path string) string {
	return strings.SplitN(filepath.Base(strings.TrimRight(path, "/")), ".", 2)[0]
}

// newRunDir creates a run folder, which must be new or empty, and writes
// the run's settings into its config.json.
func newRunDir(run string, opts any) error {
	if entries, err := os.ReadDir(run); err == nil && len(entries) > 0 {
		return fmt.Errorf("run folder %s is not empty: continue it with --resume %s, or choose another --run", run, run)
	}
	if err := os.MkdirAll(run, 0o755); err != nil {
		return err
	}
	return writeJSON(filepath.Join(run, "config.json"), opts)
}
