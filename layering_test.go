package moxing_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/moxing/moxing/"

// layers lists the packages from the top down, as docs/architecture.md: a
// package may import only packages on later lines. Packages on one line may
// not import each other. examples/ and tools/ sit above everything.
var layers = [][]string{
	{"cmd/moxing"},
	{"serve"},
	{"train"},
	{"dist"},
	{"models/gpt/gpttest"},
	{"models/gpt", "models/mlp", "models/cnn", "models/rnn"},
	{"sample"},
	{"data"}, // reads labelled texts and corpora into token ids
	{"tokenizer"},
	{"metrics"},
	{"checkpoint"},
	{"optim"},
	{"nn"},
	{"tensor/tensortest"},
	{"tensor"},
	{"internal/kernel", "internal/atomicfile"},
}

// onlyImportedBy restricts who may import a package, beyond the layering.
var onlyImportedBy = map[string][]string{
	"internal/kernel":    {"tensor", "optim"},
	"tensor/tensortest":  {}, // tests only
	"models/gpt/gpttest": {}, // tests only
}

func TestPackageLayering(t *testing.T) {
	rank := map[string]int{}
	for i, line := range layers {
		for _, p := range line {
			rank[p] = i
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
		from, known := rank[pkg]
		if !known && !top && pkg != "." {
			t.Errorf("%s: package %s is not in the layering list; add it to layers (and docs/architecture.md)", path, pkg)
			return nil
		}
		for _, imp := range f.Imports {
			ip, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(ip, module) {
				continue
			}
			ip = strings.TrimPrefix(ip, module)
			checked++
			if allowed, ok := onlyImportedBy[ip]; ok && !top {
				okImp := false
				for _, a := range allowed {
					okImp = okImp || a == pkg
				}
				if !okImp {
					t.Errorf("%s: %s may not import %s (only %v may)", path, pkg, ip, allowed)
				}
			}
			to, ok := rank[ip]
			if top || !ok {
				continue
			}
			if to <= from {
				t.Errorf("%s: %s imports %s, which is not below it in the layering", path, pkg, ip)
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
