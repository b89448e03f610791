// Command serve is the load test of moxing's model server (issue 17): it
// serves a GPT with random weights (GPT-2 small by default: speed does not
// depend on the weights) in this process on a loopback port, then streams
// completions of -tokens tokens from it at each concurrency of -conc for
// -seconds, and prints requests/s, generated tokens/s, time to first token
// and latency (p50, p99), failed requests and peak RSS, with the tokens/s
// of each level as a multiple of concurrency 1's. With -soak it then runs
// the highest concurrency that long and prints RSS each -every, to show
// that memory stays flat.
//
//	go run ./bench/serve                                  # GPT-2 small at 1, 8, 32
//	go run ./bench/serve -config tiny -seconds 3          # the quick version CI runs
//	go run ./bench/serve -conc 32 -seconds 10 -soak 5m    # RSS over five minutes
//
// RSS is this process's: the server and the load generator, whose share is
// small (one goroutine and a connection per client).
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moxing/moxing/ledger"
	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/serve"
	"github.com/moxing/moxing/tokenizer"
)

// prompt is the text every request continues (about 20 GPT-2 tokens).
const prompt = "The server decodes every active sequence in one step, so the weights are read once for all of them."

// longPrompt is -long-prompt; withLedger is -ledger, and bearer the key
// its requests then send.
var (
	longPrompt int
	withLedger bool
	bearer     string
)

// Level is what one concurrency level measured.
type Level struct {
	Concurrency    int     `json:"concurrency"`
	Requests       int     `json:"requests"`
	Failed         int     `json:"failed"`
	Seconds        float64 `json:"seconds"`
	Tokens         int     `json:"generated_tokens"`
	RequestsPerS   float64 `json:"requests_per_s"`
	TokensPerS     float64 `json:"tokens_per_s"`
	TTFT50, TTFT99 float64 // milliseconds
	ITL50, ITL99   float64 // milliseconds between a stream's tokens
	Lat50, Lat99   float64 // milliseconds
	PeakRSSMB      float64 `json:"peak_rss_mb"`
	FirstError     string  `json:"first_error,omitempty"`
}

func main() {
	config := flag.String("config", "gpt2-small", "model: gpt2-small or tiny")
	conc := flag.String("conc", "1,8,32", "concurrency levels, comma-separated")
	seconds := flag.Float64("seconds", 20, "seconds of load at each level")
	tokens := flag.Int("tokens", 128, "tokens generated per request")
	slots := flag.Int("slots", 32, "the server's decoding slots")
	soak := flag.Duration("soak", 0, "after the levels, run the highest concurrency this long, printing RSS")
	every := flag.Duration("every", 30*time.Second, "with -soak, how often to print RSS")
	asJSON := flag.Bool("json", false, "print the levels as JSON")
	flag.BoolVar(&withLedger, "ledger", false, "serve with API keys and the usage ledger (SQLite in a temporary folder), as moxing serve --auth")
	flag.IntVar(&longPrompt, "long-prompt", 0, "add a client that sends prompts of about this many tokens (for one token each), to measure the stall prefill causes")
	prefill := flag.Int("prefill-chunk", 0, "the server's prompt tokens per step (0: its default)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (server and load) here")
	memProfile := flag.String("memprofile", "", "write an allocation profile of the whole run here")
	flag.Parse()
	defer profile(*cpuProfile, *memProfile)()
	levels, err := parseInts(*conc)
	if err != nil {
		fail(err)
	}
	url, stop, err := start(*config, *slots, *prefill)
	if err != nil {
		fail(err)
	}
	defer stop()
	var results []Level
	for _, c := range levels {
		l := Run(url, c, time.Duration(*seconds*float64(time.Second)), *tokens)
		results = append(results, l)
		if !*asJSON {
			fmt.Fprintf(os.Stderr, "concurrency %d: %.1f tokens/s, %d failed\n", c, l.TokensPerS, l.Failed)
		}
	}
	if *asJSON {
		json.NewEncoder(os.Stdout).Encode(results)
	} else {
		printTable(os.Stdout, *config, *tokens, results)
	}
	if *soak > 0 {
		Soak(os.Stdout, url, levels[len(levels)-1], *tokens, *soak, *every)
	}
}

// profile starts a CPU profile into cpu and returns what stops it and
// writes an allocation profile into mem (each only when named).
func profile(cpu, mem string) (stop func()) {
	if cpu != "" {
		f, err := os.Create(cpu)
		if err != nil {
			fail(err)
		}
		pprof.StartCPUProfile(f)
	}
	return func() {
		pprof.StopCPUProfile()
		if mem != "" {
			f, err := os.Create(mem)
			if err != nil {
				fail(err)
			}
			runtime.GC() // the profile is as of the last collection
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/serve:", err)
	os.Exit(1)
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-conc %q: want positive integers", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// start serves a GPT of the named config with random weights and GPT-2's
// tokenizer (a character tokenizer for tiny) as "bench" on a loopback
// port, and returns its URL and a function that stops it.
func start(config string, slots, prefill int) (string, func(), error) {
	cfg, ok := gpt.Preset(config)
	if !ok {
		return "", nil, fmt.Errorf("-config %q: want tiny or gpt2-small", config)
	}
	var tok tokenizer.Tokenizer
	var err error
	if config == "tiny" {
		tok, err = tokenizer.NewChar(prompt)
		cfg.VocabSize = tok.VocabSize()
	} else {
		tok, err = tokenizer.GPT2()
	}
	if err != nil {
		return "", nil, err
	}
	m, err := gpt.New(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		return "", nil, err
	}
	o := serve.Options{Slots: slots, PrefillChunk: prefill, MaxQueue: 1024}
	if withLedger {
		dir, err := os.MkdirTemp("", "bench-serve-")
		if err != nil {
			return "", nil, err
		}
		defer os.RemoveAll(dir) // the open database stays readable until it is closed
		if o.Ledger, err = ledger.Open(filepath.Join(dir, "moxing.db")); err != nil {
			return "", nil, err
		}
		if _, bearer, err = o.Ledger.CreateKey(context.Background(), ledger.NewKey{Name: "bench"}); err != nil {
			return "", nil, err
		}
		o.Auth = true
	}
	srv, err := serve.New(map[string]*load.Model{"bench": {Path: config, GPT: &gpt.Pretrained{LM: m, Tokenizer: tok}}}, o)
	if err != nil {
		return "", nil, err
	}
	serve.LimitHeap(1 << 30) // as moxing serve does by default
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		serve.Serve(ctx, ln, srv, 10*time.Second)
		close(done)
	}()
	return "http://" + ln.Addr().String(), func() { cancel(); <-done; srv.Close() }, nil
}

// Run streams completions of tokens tokens from the server at url with
// concurrency clients for about d (requests under way at d finish).
func Run(url string, concurrency int, d time.Duration, tokens int) Level {
	body, _ := json.Marshal(map[string]any{"model": "bench", "prompt": prompt, "max_tokens": tokens, "stream": true, "temperature": 1})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency + 1}}
	var mu sync.Mutex
	l := Level{Concurrency: concurrency}
	var ttft, lat, itl []float64
	rss := sampleRSS()
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	if longPrompt > 0 {
		// One more client sends long prompts for one token each: the
		// prefill the others' streams must not wait for all at once.
		long, _ := json.Marshal(map[string]any{"model": "bench", "prompt": strings.Repeat(prompt+" ", longPrompt/20+1), "max_tokens": 1, "stream": true})
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if _, _, _, _, err := stream(client, url, long); err != nil {
					mu.Lock()
					l.Failed++
					l.FirstError = cmp.Or(l.FirstError, "long prompt: "+err.Error())
					mu.Unlock()
				}
			}
		})
	}
	for range concurrency {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				first, total, gaps, n, err := stream(client, url, body)
				mu.Lock()
				l.Requests++
				if err != nil || n != tokens {
					l.Failed++
					if l.FirstError == "" {
						l.FirstError = fmt.Sprintf("%d tokens of %d: %v", n, tokens, err)
					}
				} else {
					l.Tokens += n
					ttft, lat, itl = append(ttft, ms(first)), append(lat, ms(total)), append(itl, gaps...)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	l.Seconds = time.Since(start).Seconds()
	l.PeakRSSMB = rss()
	l.RequestsPerS, l.TokensPerS = float64(l.Requests-l.Failed)/l.Seconds, float64(l.Tokens)/l.Seconds
	l.TTFT50, l.TTFT99 = percentile(ttft, 50), percentile(ttft, 99)
	l.Lat50, l.Lat99 = percentile(lat, 50), percentile(lat, 99)
	l.ITL50, l.ITL99 = percentile(itl, 50), percentile(itl, 99)
	return l
}

// stream makes one streaming request and returns the time to its first
// token, its whole time, the milliseconds between its tokens and the
// tokens it reported (usage).
func stream(client *http.Client, url string, body []byte) (first, total time.Duration, gaps []float64, tokens int, err error) {
	start := time.Now()
	req, _ := http.NewRequest("POST", url+"/v1/completions", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return 0, 0, nil, 0, fmt.Errorf("status %d: %s", resp.StatusCode, msg)
	}
	last := start
	sc := bufio.NewScanner(resp.Body)
	done := false
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if line == "[DONE]" {
			done = true
			break
		}
		var chunk struct {
			Usage *struct {
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(line), &chunk); err != nil {
			return 0, 0, nil, 0, err
		}
		now := time.Now()
		if first == 0 {
			first = now.Sub(start)
		} else {
			gaps = append(gaps, ms(now.Sub(last)))
		}
		last = now
		if chunk.Usage != nil {
			tokens = chunk.Usage.CompletionTokens
		}
	}
	if !done {
		return 0, 0, nil, tokens, errors.Join(errors.New("the stream ended without [DONE]"), sc.Err())
	}
	return first, time.Since(start), gaps, tokens, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// percentile is the p-th percentile of xs (nearest rank), 0 for none.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// sampleRSS samples this process's resident memory every 100 ms until the
// returned function is called, which returns the peak in MB.
func sampleRSS() func() float64 {
	stop := make(chan struct{})
	peak := make(chan float64)
	go func() {
		best := rssMB()
		for {
			select {
			case <-stop:
				peak <- max(best, rssMB())
				return
			case <-time.After(100 * time.Millisecond):
				best = max(best, rssMB())
			}
		}
	}()
	return func() float64 { close(stop); return <-peak }
}

// rssMB is this process's resident memory (VmRSS) in MB.
func rssMB() float64 {
	raw, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// Soak runs concurrency clients for d and prints the RSS each every, and
// its spread relative to the first sample.
func Soak(w io.Writer, url string, concurrency, tokens int, d, every time.Duration) {
	fmt.Fprintf(w, "\nsoak at concurrency %d for %v:\n\n| minute | RSS MB | Go heap in use MB | tokens/s | failed |\n|---|---|---|---|---|\n", concurrency, d)
	var samples []float64
	start := time.Now()
	for time.Since(start) < d {
		l := Run(url, concurrency, every, tokens)
		rss := rssMB()
		samples = append(samples, rss)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(w, "| %.1f | %.0f | %.0f | %.1f | %d |\n", time.Since(start).Minutes(), rss, float64(ms.HeapInuse)/(1<<20), l.TokensPerS, l.Failed)
	}
	lo, hi := slices.Min(samples), slices.Max(samples)
	fmt.Fprintf(w, "\nRSS from %.0f to %.0f MB: %+.1f%% of the first sample's %.0f MB\n", lo, hi, 100*(hi-lo)/samples[0], samples[0])
}

func printTable(w io.Writer, config string, tokens int, ls []Level) {
	fmt.Fprintf(w, "\n%s, random weights, %d tokens a request, streamed\n\n", config, tokens)
	fmt.Fprintln(w, "| concurrency | requests | req/s | gen tokens/s | × conc. 1 | TTFT p50 ms | TTFT p99 ms | between tokens p50 ms | p99 ms | latency p50 ms | latency p99 ms | failed | peak RSS MB |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, l := range ls {
		fmt.Fprintf(w, "| %d | %d | %.2f | %.1f | %.2f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %d | %.0f |\n", l.Concurrency, l.Requests, l.RequestsPerS,
			l.TokensPerS, l.TokensPerS/ls[0].TokensPerS, l.TTFT50, l.TTFT99, l.ITL50, l.ITL99, l.Lat50, l.Lat99, l.Failed, l.PeakRSSMB)
	}
}
