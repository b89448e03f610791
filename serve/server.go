// Package serve is moxing's model server: an http.Handler with OpenAI's
// API for language models (completions, chat completions, embeddings,
// models), moxing's own routes for the rest of the model zoo (/v1/classify,
// /v1/predict), health checks and Prometheus metrics. Generation runs
// through a Batcher per GPT, which decodes concurrent requests together
// (continuous batching). See docs/serve.md.
package serve

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/moxing/moxing/ledger"
	"github.com/moxing/moxing/load"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options configure a Server. The zero value of each field takes the
// default in brackets.
type Options struct {
	Slots        int           // sequences a GPT decodes at once [32]
	PrefillChunk int           // prompt tokens fed per decoding step [64]
	MaxQueue     int           // requests waiting per model before 429 [64]
	Timeout      time.Duration // per request [5m]
	MaxBodyBytes int64         // request body limit [1 MiB]
	Logger       *slog.Logger  // one line per request [discard]
	// Ledger, when set, gets one record per /v1 request and holds the API
	// keys; with Auth every /v1 request needs one (Authorization: Bearer).
	Ledger *ledger.Store
	Auth   bool
}

func (o *Options) defaults() {
	o.Slots = cmp.Or(o.Slots, 32)
	o.PrefillChunk = cmp.Or(o.PrefillChunk, 64)
	o.MaxQueue = cmp.Or(o.MaxQueue, 64)
	o.Timeout = cmp.Or(o.Timeout, 5*time.Minute)
	o.MaxBodyBytes = cmp.Or(o.MaxBodyBytes, 1<<20)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Server serves models by name. It is an http.Handler; Close stops its
// batchers.
type Server struct {
	opts    Options
	models  map[string]*served
	names   []string // sorted
	mux     *http.ServeMux
	metrics *metrics
	acct    *accounts // nil without a ledger
	closing atomic.Bool
}

// New makes a Server for the models, by the name requests use in their
// "model" field. Each GPT language model gets a Batcher.
func New(models map[string]*load.Model, o Options) (*Server, error) {
	o.defaults()
	if len(models) == 0 {
		return nil, fmt.Errorf("serve: no models")
	}
	if o.Auth && o.Ledger == nil {
		return nil, fmt.Errorf("serve: Auth needs a Ledger to hold the keys")
	}
	s := &Server{opts: o, models: map[string]*served{}, mux: http.NewServeMux(), metrics: newMetrics()}
	if o.Ledger != nil {
		// A request ends by its deadline; the margin covers its settling.
		s.acct = &accounts{store: o.Ledger, auth: o.Auth, hold: o.Timeout + time.Minute, stop: make(chan struct{}), buckets: map[string]*bucket{}}
		s.acct.swept.Go(func() { s.acct.sweep(o.Logger) })
	}
	for name, m := range models {
		sv, err := newServed(name, m, o, s.metrics)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.models[name] = sv
		s.names = append(s.names, name)
	}
	slices.Sort(s.names)
	s.routes()
	return s, nil
}

// Close stops the Server's batchers: generations under way end. Call it
// after http.Server.Shutdown has drained the requests.
func (s *Server) Close() {
	for _, sv := range s.models {
		sv.close()
	}
	if s.acct != nil && s.acct.stop != nil {
		close(s.acct.stop)
		s.acct.stop = nil
		s.acct.swept.Wait()
	}
}

// Drain marks the Server as stopping: /readyz answers 503 (a load balancer
// sends no more), while requests keep being served until Shutdown.
func (s *Server) Drain() { s.closing.Store(true) }

// route is one API route: its path, method and handler, which returns an
// error (an *apiError for the client's mistakes) instead of writing one.
type route struct {
	path, method string
	handle       func(w http.ResponseWriter, r *http.Request, info *requestInfo) error
}

func (s *Server) routes() {
	web := page()
	for _, rt := range []route{
		{"/v1/completions", http.MethodPost, s.completions},
		{"/v1/chat/completions", http.MethodPost, s.chatCompletions},
		{"/v1/embeddings", http.MethodPost, s.embeddings},
		{"/v1/classify", http.MethodPost, s.classify},
		{"/v1/predict", http.MethodPost, s.predict},
		{"/v1/models", http.MethodGet, s.listModels},
		{"/v1/models/{id}", http.MethodGet, s.getModel},
		{"/v1/models/{id}/card", http.MethodGet, s.getCard},
		{"/healthz", http.MethodGet, func(w http.ResponseWriter, _ *http.Request, _ *requestInfo) error {
			return writeJSON(w, map[string]string{"status": "ok"})
		}},
		{"/readyz", http.MethodGet, s.ready},
		{"/v1/admin/keys", "", s.adminKeys},
		{"/v1/admin/keys/{id}", http.MethodDelete, s.adminRevoke},
		{"/v1/admin/usage", http.MethodGet, s.adminUsage},
		{"/{$}", http.MethodGet, web},
		{"/ui/", http.MethodGet, web},
		{"/", "", func(http.ResponseWriter, *http.Request, *requestInfo) error {
			return &apiError{Status: http.StatusNotFound, Message: "no such route: see /v1/models, /v1/completions, /v1/chat/completions, /v1/embeddings", Type: "not_found_error"}
		}},
	} {
		s.mux.Handle(rt.path, s.wrap(rt))
	}
	s.mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// requestInfo is what a handler tells the request's log line and metrics.
type requestInfo struct {
	id               string
	model            string
	promptTokens     int
	completionTokens int

	key         *ledger.Key         // the caller's, with a ledger and a key
	reservation *ledger.Reservation // tokens of its quota held
	settled     bool                // the ledger has the request's record
	// finish writes the request's ledger record with its status, before
	// the last of the response is written (a no-op without a ledger).
	finish func(status int) error
}

// wrap gives a route its method check, deadline, panic recovery, error
// body, log line and metrics.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{id: newID(), finish: func(int) error { return nil }}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		billed := s.acct != nil && strings.HasPrefix(rt.path, "/v1/")
		if billed {
			info.finish = func(status int) error { return s.acct.settle(info, rt.path, status, start) }
		}
		rec.Header().Set("X-Request-Id", info.id)
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.Timeout)
		defer cancel()
		r = r.WithContext(ctx)
		func() {
			defer func() {
				if p := recover(); p != nil {
					s.opts.Logger.Error("panic", "id", info.id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
					if !rec.wrote {
						writeError(rec, fmt.Errorf("panic"))
					}
				}
			}()
			var err error
			switch {
			case rt.method != "" && r.Method != rt.method:
				rec.Header().Set("Allow", rt.method)
				err = &apiError{Status: http.StatusMethodNotAllowed, Message: fmt.Sprintf("%s %s: use %s", r.Method, r.URL.Path, rt.method), Type: "invalid_request_error"}
			case billed:
				if err = s.acct.authenticate(r, info); err == nil {
					err = rt.handle(rec, r, info)
				}
			default:
				err = rt.handle(rec, r, info)
			}
			if err != nil && !rec.wrote {
				info.finish(errorStatus(err))
				writeError(rec, err)
			}
		}()
		if billed && !info.settled {
			if err := info.finish(rec.status); err != nil {
				s.opts.Logger.Error("ledger", "id", info.id, "err", err.Error())
			}
		}
		took := time.Since(start)
		name := rt.path
		switch name {
		case "/":
			name = "other"
		case "/{$}":
			name = "/"
		}
		s.metrics.request(name, rec.status, took)
		s.opts.Logger.Info("request", "id", info.id, "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"ms", took.Milliseconds(), "model", info.model, "prompt_tokens", info.promptTokens, "completion_tokens", info.completionTokens)
	})
}

// statusRecorder remembers the status written and whether anything was.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Flush() {
	r.wrote = true
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// model returns the served model a request names.
func (s *Server) model(name string, info *requestInfo) (*served, error) {
	info.model = name
	if name == "" {
		return nil, invalid("model", "field model is required: one of %s", strings.Join(s.names, ", "))
	}
	sv, ok := s.models[name]
	if !ok {
		return nil, &apiError{Status: http.StatusNotFound, Message: fmt.Sprintf("the model %q does not exist: serving %s", name, strings.Join(s.names, ", ")),
			Type: "invalid_request_error", Param: "model", Code: "model_not_found"}
	}
	if info.key != nil && !info.key.Allows(name) {
		return nil, &apiError{Status: http.StatusForbidden, Type: "permission_error", Param: "model", Code: "model_not_allowed",
			Message: fmt.Sprintf("this API key may not use the model %q", name)}
	}
	return sv, nil
}

func (s *Server) ready(w http.ResponseWriter, _ *http.Request, _ *requestInfo) error {
	if s.closing.Load() {
		return &apiError{Status: http.StatusServiceUnavailable, Message: "shutting down", Type: "server_error"}
	}
	return writeJSON(w, map[string]string{"status": "ready"})
}

func (s *Server) listModels(w http.ResponseWriter, _ *http.Request, _ *requestInfo) error {
	data := []map[string]any{}
	for _, name := range s.names {
		data = append(data, s.models[name].card())
	}
	return writeJSON(w, map[string]any{"object": "list", "data": data})
}

func (s *Server) getModel(w http.ResponseWriter, r *http.Request, info *requestInfo) error {
	sv, err := s.model(r.PathValue("id"), info)
	if err != nil {
		return err
	}
	return writeJSON(w, sv.card())
}

// writeJSON writes v as a 200 JSON response.
func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return jsonEncoder(w).Encode(v)
}

// newID returns 24 random hex digits for a request id.
func newID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// metrics are the Server's Prometheus collectors, in its own registry.
type metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	ttft      *prometheus.HistogramVec
	generated *prometheus.CounterVec
	batch     *prometheus.HistogramVec
	queue     *prometheus.GaugeVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "moxing_requests_total", Help: "HTTP requests by route and status."}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "moxing_request_duration_seconds", Help: "Time to the end of the response, by route.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 16)}, []string{"route"}),
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "moxing_time_to_first_token_seconds", Help: "From a generation's arrival to its first token.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}, []string{"model"}),
		generated: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "moxing_generated_tokens_total", Help: "Tokens generated."}, []string{"model"}),
		batch: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "moxing_batch_size", Help: "Sequences in a decoding step.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128}}, []string{"model"}),
		queue: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "moxing_queue_depth", Help: "Sequences waiting for a decoding slot."}, []string{"model"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.ttft, m.generated, m.batch, m.queue,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) request(route string, status int, took time.Duration) {
	m.requests.WithLabelValues(route, fmt.Sprint(status)).Inc()
	m.latency.WithLabelValues(route).Observe(took.Seconds())
}

// batchStats are a model's Batcher hooks into the metrics.
func (m *metrics) batchStats(model string) BatchStats {
	ttft, generated, batch, queue := m.ttft.WithLabelValues(model), m.generated.WithLabelValues(model), m.batch.WithLabelValues(model), m.queue.WithLabelValues(model)
	return BatchStats{
		Step: func(sequences, _, tokens int, _ time.Duration) {
			batch.Observe(float64(sequences))
			generated.Add(float64(tokens))
		},
		FirstToken: func(wait time.Duration) { ttft.Observe(wait.Seconds()) },
		Queue:      func(depth int) { queue.Set(float64(depth)) },
	}
}

// Serve serves s on ln until ctx ends, then drains: /readyz turns 503, the
// listener closes, and the requests under way get up to grace to finish
// (streams included) before their connections are closed. It returns nil
// after a drain, or the error that stopped serving.
func Serve(ctx context.Context, ln net.Listener, s *Server, grace time.Duration) error {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	s.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// LimitHeap sets the Go runtime's memory limit (debug.SetMemoryLimit) to
// what the process holds now plus headroom, and returns the limit. Call it
// once the models are loaded and the Server is made: their weights, packed
// copies and KV caches are most of the heap and never become garbage, so
// without a limit the collector lets garbage grow to as much again (GOGC)
// before it runs, and resident memory climbs for minutes. With one, it
// collects when the headroom fills, and memory stays flat. It is
// process-wide; a GOMEMLIMIT set in the environment wins.
func LimitHeap(headroom int64) int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return debug.SetMemoryLimit(-1)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	limit := int64(ms.Sys-ms.HeapReleased) + headroom
	debug.SetMemoryLimit(limit)
	return limit
}
