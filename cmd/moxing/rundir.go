package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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
