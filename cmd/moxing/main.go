// Command moxing drives every step of a model's life from the command line:
//
//	moxing train     train a model: an MLP on a CSV table, a ConvNet on images (MNIST),
//	                 or a recurrent text classifier
//	moxing eval      metrics of a checkpoint on labelled data
//	moxing predict   predictions of a checkpoint for a CSV or for images, as a CSV
//	moxing plot      PNG charts of a run's curves and confusion matrix
//	moxing bench     time a kernel (matmul), for the side-by-side benchmarks
//	moxing prepare   text corpus to a tokenizer and token files
//	moxing pretrain  train a GPT or LSTM/GRU language model on token files
//	moxing demo      train a small GPT on Go's source code, then generate Go
//	moxing generate  continue a prompt with a GPT checkpoint
//
// Run "moxing <command> --help" for the flags and an example of each.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/moxing/moxing/checkpoint"
	"github.com/moxing/moxing/dist"
	"github.com/moxing/moxing/internal/perf"
	"github.com/moxing/moxing/recipe"
	"github.com/moxing/moxing/tensor"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// runner runs a command once its flags are parsed: it reads stdin (where a
// flag says "-"), writes results to stdout and progress to stderr.
type runner func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error

// command is one subcommand: flags registers its flags and returns what
// runs it.
type command struct {
	name, summary, synopsis, example string
	flags                            func(fs *pflag.FlagSet) runner
	args                             string // the arguments it takes besides its flags (fs.Args()), for its usage line; "" for none
}

var commands = []command{
	{"train", "train a model: MLP on a CSV table, ConvNet on images, LSTM/GRU text classifier", trainSynopsis, trainExample, trainCommand, ""},
	{"eval", "metrics of a model on labelled data, or the perplexity of a language model on a text", evalSynopsis, evalExample, evalCommand, ""},
	{"predict", "predict a CSV or images with a model, writing a CSV", predictSynopsis, predictExample, predictCommand, "[IMAGE…]"},
	{"plot", "PNG charts of a run: loss and metric curves, confusion matrix", plotSynopsis, plotExample, plotCommand, ""},
	{"prepare", "text corpus -> tokenizer and token files", prepareSynopsis, prepareExample, prepareCommand, ""},
	{"pretrain", "train a GPT or LSTM/GRU language model on token files", pretrainSynopsis, pretrainExample, pretrainCommand, ""},
	{"demo", "train a small GPT on Go's own source code and generate Go (no download)", demoSynopsis, demoExample, demoCommand, ""},
	{"generate", "continue a prompt with a GPT or LSTM/GRU language model", generateSynopsis, generateExample, generateCommand, ""},
	{"finetune", "fine-tune a GPT: a text classifier, or the language model on new text; full or LoRA", finetuneSynopsis, finetuneExample, finetuneCommand, ""},
	{"classify", "classify texts with a GPT or recurrent text classifier", classifySynopsis, classifyExample, classifyCommand, ""},
	{"export", "write a GPT as a Hugging Face folder, or its adapters as a PEFT folder", exportSynopsis, exportExample, exportCommand, "MODEL DIR"},
	{"quantize", "store a GPT's matrices as q8_0, bf16 or f16 for faster, smaller inference", quantizeSynopsis, quantizeExample, quantizeCommand, ""},
	{"serve", "serve models over HTTP with OpenAI's API (completions, chat, embeddings) and more", serveSynopsis, serveExample, serveCommand, ""},
	{"usage", "usage of moxing serve --auth by day, key, model or route; CSV for billing", usageSynopsis, "  moxing usage --by day --since 2026-12-01 --csv", usageCommand, ""},
}

// benchCommands are the subcommands of moxing bench.
var benchCommands = []command{
	{"matmul", "time a matrix product (GFLOPS)", benchMatmulSynopsis, benchExample, benchMatmulCommand, ""},
	{"gpt", "time a GPT training step or generation", benchGPTSynopsis, benchGPTExample, benchGPTCommand, ""},
	{"membw", "memory bandwidth (STREAM's copy, scale, add, triad) and the AdamW step against it", benchMembwSynopsis, "  moxing bench membw --threads 1,2", benchMembwCommand, ""},
}

// stopGrace is how long a command may take to stop cleanly (a training
// loop finishes its step and saves last.safetensors) after Ctrl-C or
// SIGTERM, before moxing exits anyway.
const stopGrace = 30 * time.Second

func main() {
	ctx := stopOnSignal()
	if os.Getenv("GOGC") == "" {
		// Most live memory (weights, optimizer state, arena buffers) is pointer-free: collecting at 50%
		// growth costs no measurable time and lowers peak memory by a seventh (sentiment fine-tune: 990 → 850 MB).
		debug.SetGCPercent(50)
	}
	stopProfiles, err := perf.StartProfiles(os.Getenv("MOXING_CPUPROFILE"), os.Getenv("MOXING_MEMPROFILE"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "moxing: %v\n", err)
		os.Exit(1)
	}
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	code = dist.End(world, code) // leave a data-parallel job (nil: none joined)
	if err := stopProfiles(); err != nil {
		fmt.Fprintf(os.Stderr, "moxing: %v\n", err)
		code = max(code, 1)
	}
	os.Exit(code)
}

// stopOnSignal returns a context that Ctrl-C or SIGTERM cancels: commands stop at their next check and save
// what they can. A second signal, or stopGrace without an exit, ends the process at once, whatever it was
// blocked on. Every file moxing writes is written atomically, so an abrupt end leaves the last complete version.
func stopOnSignal() context.Context {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal now has its default effect: exit
		fmt.Fprintln(os.Stderr, "moxing: stopping; press Ctrl-C again to quit now")
		time.Sleep(stopGrace)
		fmt.Fprintf(os.Stderr, "moxing: did not stop within %v; quitting\n", stopGrace)
		os.Exit(130)
	}()
	return ctx
}

// run executes the command line args and returns the exit status: 0 on
// success (help included), 1 on an error, 2 on a usage error. Help goes to
// stdout; errors are one line on stderr.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	c, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "%s: %v\n", c.CommandPath(), err)
	if errors.As(err, new(usageError)) || errors.As(err, new(*recipe.OptionError)) {
		return 2
	}
	return 1
}

// newRoot builds the command tree.
func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "moxing",
		Short: "moxing (模型): build, train, evaluate and run neural networks, in Go",
		Long: "moxing (模型) takes a model through its whole life: data, training, evaluation, generation.\n" +
			"Start with \"moxing demo\"; \"moxing help <command>\" shows a command's flags and examples.",
		Version:           version(),
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
		// A mistyped command with its flags ("genrate -m x") is answered
		// about the command, not about the flags the root does not know.
		FParseErrWhitelist:         cobra.FParseErrWhitelist{UnknownFlags: true},
		SuggestionsMinimumDistance: 2,
	}
	root.SetVersionTemplate("moxing {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usagef("%v (see %s --help)", err, c.CommandPath())
	})
	root.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q", args[0])
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf("; did you mean %s?", strings.Join(s, " or "))
		}
		return usageError{msg + " (see " + c.CommandPath() + " --help)"}
	}
	root.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	for _, cmd := range commands {
		root.AddCommand(cmd.cobra(cmd.name))
	}
	bench := &cobra.Command{Use: "bench", Short: "time a kernel or a model: moxing bench matmul|gpt, for the side-by-side benchmarks",
		Args: root.Args, RunE: root.RunE, SuggestionsMinimumDistance: 2}
	for _, cmd := range benchCommands {
		bench.AddCommand(cmd.cobra("bench " + cmd.name))
	}
	keys := &cobra.Command{Use: "keys", Short: "API keys of moxing serve --auth: create, list, revoke", Args: root.Args, RunE: root.RunE, SuggestionsMinimumDistance: 2}
	for _, cmd := range keysCommands {
		keys.AddCommand(cmd.cobra("keys " + cmd.name))
	}
	root.AddCommand(bench, keys, versionCommand())
	return root
}

// cobra makes the cobra command of c.
func (c command) cobra(path string) *cobra.Command {
	use := c.name
	if c.args != "" {
		use += " [flags] " + c.args
	}
	cc := &cobra.Command{Use: use, Short: c.summary, Long: c.synopsis, Example: c.example,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 && c.args == "" {
				return usagef("unexpected argument %q (flags come as --name value; see moxing %s --help)", args[0], path)
			}
			return nil
		}}
	run := c.flags(cc.Flags())
	cc.RunE = func(cc *cobra.Command, _ []string) error {
		return run(cc.Context(), cc.InOrStdin(), cc.OutOrStdout(), cc.ErrOrStderr())
	}
	return cc
}

// usageError is a mistake in the command line itself.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// version is this binary's version: moxing's module version and VCS
// revision, the Go version, and the kernels chosen on this CPU.
func version() string {
	return fmt.Sprintf("%s (%s, %s/%s, kernels %s)", checkpoint.Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH, tensor.Kernels())
}

func versionCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{Use: "version", Short: "print the version: moxing's, its VCS revision, Go's, and the kernels chosen on this CPU", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if asJSON {
				return printJSON(c.OutOrStdout(), map[string]string{"moxing": checkpoint.Version(), "go": runtime.Version(),
					"os": runtime.GOOS, "arch": runtime.GOARCH, "kernels": tensor.Kernels()})
			}
			_, err := fmt.Fprintf(c.OutOrStdout(), "moxing %s\n", version())
			return err
		}}
	c.Flags().BoolVar(&asJSON, "json", false, "print it as JSON")
	return c
}
