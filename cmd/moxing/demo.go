package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/moxing/moxing/metrics"
	"github.com/moxing/moxing/progress"
	"github.com/moxing/moxing/recipe"
	"github.com/moxing/moxing/sample"
	"github.com/spf13/pflag"
)

const demoExample = `  moxing demo                                  # about 3 minutes on two cores
  moxing demo --steps 100                      # a quick look
  moxing demo --resume runs/demo-… --steps 1200   # train the same model longer`

const demoSynopsis = "Trains a small GPT on the Go standard library's source code (from the Go toolchain,\n" +
	"$(go env GOROOT)/src: no download) with a byte-level BPE vocabulary learned from it, keeps the best\n" +
	"checkpoint in a run folder, prints Go code it generates and how many of the words it wrote occur in\n" +
	"the source it read, and the commands to try next."

// demoFlags are moxing demo's settings of what it does once trained.
type demoFlags struct {
	Generate int    `flag:"generate" def:"300" help:"tokens to generate at the end" range:"(0,)"`
	Prompt   string `flag:"prompt" def:"func " help:"start of the generated text"`
}

func demoCommand(fs *pflag.FlagSet) runner {
	var o recipe.DemoOptions
	var g demoFlags
	var rflags runFlags
	bindFlags(fs, &o)
	bindFlags(fs, &g)
	rflags.register(fs, "demo", "--steps")
	return func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
		f, stdout, err := rflags.folder(fs, stdout, &o, "steps", "generate", "prompt")
		if err != nil {
			return err
		}
		if err := recipe.Check(&o); err != nil {
			return err
		}
		if err := recipe.Check(&g); err != nil {
			return err
		}
		root, err := goSourceRoot()
		if err != nil {
			return err
		}
		prog := progress.NewSteps(stderr)
		res, err := recipe.Demo(ctx, o, root, f, prog, stderr)
		prog.Finish()
		if res != nil && (errors.Is(err, context.Canceled) || ctx.Err() != nil) {
			fmt.Fprintf(stderr, "interrupted after %d steps; generating from the best weights so far\n", res.Steps)
		} else if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "best validation loss %.4f at step %d; checkpoint %s\n\n", res.BestLoss, res.BestStep, res.Checkpoint)
		var text strings.Builder
		fmt.Fprint(stdout, g.Prompt)
		if err := generateText(context.WithoutCancel(ctx), io.MultiWriter(stdout, &text), stderr, res.Model, g.Prompt, g.Generate,
			sample.Config{Temperature: 0.8, TopK: 40}, 1, ""); err != nil {
			return err
		}
		seen, words := metrics.WordsSeen(text.String(), res.Corpus)
		fmt.Fprintf(stdout, "\n\n%d of the %d words it wrote (%.0f%%) occur in the Go source it read.\n", seen, words, 100*float64(seen)/float64(max(words, 1)))
		fmt.Fprintf(stdout, "Next:\n  moxing generate -m %[1]s -p 'func main() {' -n 200\n  moxing eval --model %[1]s --text $(go env GOROOT)/src/fmt/print.go\n"+
			"  moxing plot --run %[2]s\n  moxing demo --resume %[2]s --steps %[3]d    # train it longer\n", res.Run, res.Run, 2*o.Steps)
		return nil
	}
}

// goSourceRoot finds $(go env GOROOT)/src.
func goSourceRoot() (string, error) {
	root := ""
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		root = strings.TrimSpace(string(out))
	}
	if root == "" {
		root = runtime.GOROOT() //nolint:staticcheck // the fallback when no go command is on PATH
	}
	src := filepath.Join(root, "src")
	if st, err := os.Stat(src); err != nil || !st.IsDir() {
		return "", fmt.Errorf("demo: cannot find the Go source tree (looked for %s): install Go or put its go command on PATH", src)
	}
	return src, nil
}
