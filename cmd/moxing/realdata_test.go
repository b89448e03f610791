package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// dataDir returns where scripts/fetch-data.sh installed the real data sets.
// Under CI=true a missing data set fails the test; elsewhere it skips.
func dataDir(t *testing.T, rel string) string {
	t.Helper()
	root := os.Getenv("MOXING_DATA")
	if root == "" {
		home, _ := os.UserHomeDir()
		root = filepath.Join(home, ".cache", "moxing", "data")
	}
	p := filepath.Join(root, rel)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: .ci/run must run scripts/fetch-data.sh", p)
		}
		t.Skipf("%s is missing: run scripts/fetch-data.sh", p)
	}
	return p
}

// TestRealData trains on each tabular data set of bench/tabular.json with
// seeds 1, 2 and 3, and requires the mean test metric to reach its target.
func TestRealData(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on real data for about a minute")
	}
	raw, err := os.ReadFile("../../bench/tabular.json")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Sets []struct {
			Name    string             `json:"name"`
			File    string             `json:"file"`
			Flags   []string           `json:"flags"`
			Targets map[string]float64 `json:"targets"`
		} `json:"sets"`
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	for _, ds := range spec.Sets {
		t.Run(ds.Name, func(t *testing.T) {
			t.Parallel()
			path := dataDir(t, filepath.Join("tabular", ds.File))
			sum := map[string]float64{}
			const seeds = 3
			for seed := 1; seed <= seeds; seed++ {
				run := filepath.Join(t.TempDir(), "run")
				args := append([]string{"train", "--data", path, "--run", run, "--seed", fmt.Sprint(seed)}, ds.Flags...)
				if code, _, stderr := moxing(t, context.Background(), args...); code != 0 {
					t.Fatalf("seed %d: exit %d: %s", seed, code, stderr)
				}
				b, err := os.ReadFile(filepath.Join(run, "test_metrics.json"))
				if err != nil {
					t.Fatal(err)
				}
				var m struct{ Metrics map[string]float64 }
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatal(err)
				}
				for k := range ds.Targets {
					sum[k] += m.Metrics[k]
				}
			}
			for k, target := range ds.Targets {
				mean := sum[k] / seeds
				t.Logf("%s: mean test %s %.4f (target %.2f)", ds.Name, k, mean, target)
				if mean < target {
					t.Errorf("%s: mean test %s %.4f, below the target %.2f", ds.Name, k, mean, target)
				}
			}
		})
	}
}
