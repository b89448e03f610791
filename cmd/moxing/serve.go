package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/spf13/pflag"

	"github.com/moxing/moxing/ledger"
	"github.com/moxing/moxing/serve"
)

const serveExample = `  moxing serve --model runs/demo-…                       # http://127.0.0.1:8080/v1/…
  moxing serve --model go=runs/demo-… --model sentiment=runs/sentiment --addr :9000
  curl -N localhost:8080/v1/completions -H 'Content-Type: application/json' \
      -d '{"model":"go","prompt":"func main() {","max_tokens":64,"stream":true}'`

const serveSynopsis = "Serves models over HTTP with OpenAI's API: POST /v1/completions, /v1/chat/completions (both\n" +
	"streamed with \"stream\": true), /v1/embeddings, GET /v1/models; and POST /v1/classify (text classifiers)\n" +
	"and /v1/predict (tabular and image models). GET /healthz, /readyz and /metrics (Prometheus).\n" +
	"A request's \"model\" field picks the model by NAME (default: the folder or file name). Concurrent\n" +
	"generations of a GPT are decoded together (continuous batching). Ctrl-C or SIGTERM stops accepting,\n" +
	"finishes the requests under way (up to --grace), then exits. One JSON log line a request on stderr.\n" +
	"See docs/serve.md."

func serveCommand(fs *pflag.FlagSet) runner {
	var models []string
	var addr string
	var o serve.Options
	var grace time.Duration
	fs.StringArrayVarP(&models, "model", "m", nil, "[NAME=]PATH of a model to serve (a checkpoint, run folder or Hugging Face folder); repeat for more")
	fs.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on (port 0: any free port, printed)")
	fs.IntVar(&o.Slots, "slots", 32, "sequences a GPT decodes at once")
	fs.IntVar(&o.PrefillChunk, "prefill-chunk", 64, "prompt tokens fed per decoding step, so long prompts do not stall running streams")
	fs.IntVar(&o.MaxQueue, "max-queue", 64, "requests waiting per model before the server answers 429")
	fs.DurationVar(&o.Timeout, "timeout", 5*time.Minute, "per-request deadline")
	fs.Int64Var(&o.MaxBodyBytes, "max-body", 1<<20, "request body limit in bytes (413 beyond)")
	fs.DurationVar(&grace, "grace", 20*time.Second, "on SIGTERM, how long requests under way may take to finish")
	fs.BoolVar(&o.Auth, "auth", false, "every /v1 request needs an API key (moxing keys create), and is recorded in the ledger (moxing usage)")
	db := dbFlag(fs)
	headroom := fs.Int64("heap-headroom", 1<<30, "bytes of garbage the Go heap may gather beyond the models before it is collected (0: Go's default, twice the live heap)")
	return func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
		if len(models) == 0 {
			return usagef("--model is required; see --help")
		}
		if o.Slots < 1 || o.PrefillChunk < 1 || o.MaxQueue < 1 || o.Timeout <= 0 || o.MaxBodyBytes < 1 || grace < 0 {
			return usagef("--slots, --prefill-chunk, --max-queue, --timeout and --max-body must be positive")
		}
		byName, err := serve.OpenModels(models, stderr)
		if err != nil {
			return err
		}
		o.Logger = slog.New(slog.NewJSONHandler(stderr, nil))
		if o.Auth {
			if o.Ledger, err = ledger.Open(*db); err != nil {
				return err
			}
			defer o.Ledger.Close()
		}
		srv, err := serve.New(byName, o)
		if err != nil {
			return err
		}
		defer srv.Close()
		if *headroom > 0 {
			serve.LimitHeap(*headroom)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("--addr %s: %w", addr, err)
		}
		context.AfterFunc(ctx, func() { fmt.Fprintf(stderr, "stopping: finishing the requests under way (up to %v)\n", grace) })
		fmt.Fprintf(stdout, "serving on http://%s\n", ln.Addr())
		if err := serve.Serve(ctx, ln, srv, grace); err != nil {
			return err
		}
		return ctx.Err()
	}
}
