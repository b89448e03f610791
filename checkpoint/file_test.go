package checkpoint

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moxing/moxing/tensor"
)

// dirNames lists the names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	old := map[string]*tensor.Tensor{"w": tensor.New([]float32{1, 2}, 2)}
	if err := Save(path, old, nil); err != nil {
		t.Fatal(err)
	}
	tensors := sampleTensors()
	if err := Save(path, tensors, map[string]string{"epoch": "2"}); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	sameTensors(t, f.Tensors, tensors)
	if f.Metadata["epoch"] != "2" {
		t.Errorf("metadata %v", f.Metadata)
	}
	if names := dirNames(t, dir); len(names) != 1 || names[0] != "model.safetensors" {
		t.Errorf("directory holds %q, want only model.safetensors", names)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v; want 0644", fi.Mode(), err)
	}
}

func TestSaveFailures(t *testing.T) {
	content := []byte("the old checkpoint")
	tests := []struct {
		name  string
		write func(io.Writer) error
		want  string
	}{
		{"write fails midway", func(w io.Writer) error {
			w.Write(make([]byte, 2<<20)) // past the buffer, so it reaches the file
			return errors.New("disk full")
		}, "disk full"},
		{"invalid tensors", func(w io.Writer) error {
			return write(w, map[string]*tensor.Tensor{"w": nil}, nil, nil)
		}, `tensor "w" is nil`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "model.safetensors")
			if err := os.WriteFile(path, content, 0o644); err != nil {
				t.Fatal(err)
			}
			err := save(path, tt.write)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %v, want one naming %s and containing %q", err, path, tt.want)
			}
			if got, _ := os.ReadFile(path); string(got) != string(content) {
				t.Errorf("old file now holds %q", got)
			}
			if names := dirNames(t, dir); len(names) != 1 {
				t.Errorf("directory holds %q, want only model.safetensors", names)
			}
		})
	}
}

func TestSaveMissingDir(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "missing", "model.safetensors")
	err := Save(path, map[string]*tensor.Tensor{"w": tensor.Zeros(2)}, nil)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v, want one naming %s", err, path)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("directory holds %q, want nothing", names)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "iris.csv")
	if err := os.WriteFile(csv, []byte("a,b\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.safetensors")
	if err := os.WriteFile(bad, rawFile(`{"w":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"missing file", filepath.Join(dir, "nope.safetensors"), "no such file"},
		{"directory", dir, "not a regular file"},
		{"CSV", csv, "not a safetensors file"},
		{"bad dtype", bad, `tensor "w": dtype "I64" is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.path)
			if err == nil || !strings.HasPrefix(err.Error(), "checkpoint: ") || !strings.Contains(err.Error(), tt.path) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one naming %s and containing %q", err, tt.path, tt.want)
			}
		})
	}
}
