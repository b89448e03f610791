package moxing_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/moxing/moxing/"

// allowed is the house map of who may import whom, as docs/architecture.md
// tables it: each package of the module and the module packages its
// non-test files may import. A package missing from the map, a package in
// the map that does not exist, and an import the map does not allow all
// fail. examples/, tools/ and bench/ sit above everything and may import
// any package but the test-only ones (tensortest, gpttest).
var allowed = map[string][]string{
	"cmd/moxing":         {"dist", "quant", "serve", "ledger", "progress", "recipe", "load", "train", "models/bow", "models/gpt", "models/mlp", "models/cnn", "models/rnn", "sample", "tokenizer", "data", "metrics", "checkpoint", "optim", "nn", "tensor", "internal/perf", "plot", "internal/atomicfile"},
	"progress":           {"train", "metrics"},
	"serve":              {"ledger", "recipe", "load", "train", "models/gpt", "data", "tokenizer", "sample", "nn", "tensor"},
	"recipe":             {"dist", "load", "train", "models/bow", "models/gpt", "models/rnn", "models/mlp", "models/cnn", "data", "tokenizer", "metrics", "checkpoint", "optim", "nn", "tensor"},
	"load":               {"gguf", "quant", "models/bow", "models/gpt", "models/mlp", "models/cnn", "models/rnn", "checkpoint", "tokenizer", "data", "sample", "nn", "tensor"},
	"train":              {"dist", "data", "metrics", "checkpoint", "optim", "nn", "tensor", "internal/atomicfile", "internal/folderlock"},
	"internal/perf":      {"models/gpt", "sample", "optim", "nn", "tensor", "internal/kernel"},
	"models/gpt":         {"gguf", "quant", "checkpoint", "tokenizer", "sample", "nn", "tensor", "internal/atomicfile"},
	"models/mlp":         {"checkpoint", "nn", "tensor"},
	"models/bow":         {"checkpoint", "nn", "tensor"},
	"models/cnn":         {"checkpoint", "nn", "tensor"},
	"models/rnn":         {"checkpoint", "tokenizer", "sample", "nn", "tensor"},
	"models/gpt/gpttest": {"models/gpt", "checkpoint", "nn", "tensor"},
	"data":               {"tokenizer", "tensor", "internal/atomicfile", "internal/folderlock"},
	"checkpoint":         {"quant", "nn", "tensor", "internal/atomicfile"},
	"optim":              {"nn", "tensor", "internal/kernel"},
	"nn":                 {"tensor"},
	"tensor":             {"internal/kernel"},
	"tensor/tensortest":  {"tensor"},
	// Leaves: they import nothing of the module.
	"plot":                {"internal/atomicfile"},
	"tokenizer":           {},
	"sample":              {"internal/kernel"},
	"metrics":             {},
	"internal/kernel":     {},
	"internal/atomicfile": {},
	"internal/folderlock": {},
	"ledger":              {},
	"dist":                {},
	"quant":               {"internal/kernel"},
	"gguf":                {"quant"},
	"ledger/ledgertest":   {"ledger"},
}

// leaves must stay leaves.
var leaves = []string{"dist", "tokenizer", "metrics", "internal/kernel", "internal/atomicfile", "internal/folderlock", "ledger"}

// testOnly may be imported by _test.go files alone.
var testOnly = []string{"tensor/tensortest", "models/gpt/gpttest", "ledger/ledgertest"}

func TestPackageLayering(t *testing.T) {
	for _, p := range leaves {
		if len(allowed[p]) > 0 {
			t.Errorf("%s is a leaf, but the map lets it import %v", p, allowed[p])
		}
	}
	for p := range allowed {
		if st, err := os.Stat(p); err != nil || !st.IsDir() {
			t.Errorf("the layering map names %s, which does not exist: remove it (and its row in docs/architecture.md)", p)
		}
	}
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." {
			if strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // another module, e.g. the kernel generator
			}
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		top := strings.HasPrefix(pkg, "examples/") || strings.HasPrefix(pkg, "tools/") || pkg == "bench" || strings.HasPrefix(pkg, "bench/")
		may, known := allowed[pkg]
		if !known && !top && pkg != "." {
			t.Errorf("%s: package %s is not in the layering map; add it to allowed (and docs/architecture.md)", path, pkg)
			return nil
		}
		for _, imp := range f.Imports {
			ip, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(ip, module) {
				continue
			}
			ip = strings.TrimPrefix(ip, module)
			checked++
			switch {
			case slices.Contains(testOnly, ip):
				t.Errorf("%s: imports %s, which is for tests only", path, ip)
			case top:
				if strings.HasPrefix(ip, "internal/") {
					t.Errorf("%s: imports %s, which is internal to the library", path, ip)
				}
			case !slices.Contains(may, ip):
				t.Errorf("%s: %s may not import %s (it may import %v)", path, pkg, ip, may)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("found no module imports at all: is the test running at the module root?")
	}
}
