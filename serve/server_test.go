package serve

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/models/bow"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/models/rnn"
	"github.com/moxing/moxing/recipe"
	"github.com/moxing/moxing/sample"
	"github.com/moxing/moxing/tokenizer"
)

const corpus = "the quick brown fox jumps over the lazy dog. THE END!?\n"

// testLM is a tiny GPT with a character tokenizer, as load.Open returns it.
func testLM(t testing.TB) *load.Model {
	t.Helper()
	m, err := newTestLM()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newTestLM() (*load.Model, error) {
	tok, err := tokenizer.NewChar(corpus)
	if err != nil {
		return nil, err
	}
	m, err := gpt.New(gpt.Config{VocabSize: tok.VocabSize(), BlockSize: 64, NEmbd: 32, NLayer: 2, NHead: 4}, rand.New(rand.NewPCG(8, 9)))
	if err != nil {
		return nil, err
	}
	return &load.Model{Path: "test", GPT: &gpt.Pretrained{LM: m, Tokenizer: tok}}, nil
}

// testServer serves the tiny GPT as "lm" (and other models by name).
func testServer(t testing.TB, o Options, more map[string]*load.Model) *httptest.Server {
	t.Helper()
	models := map[string]*load.Model{"lm": testLM(t)}
	for k, v := range more {
		models[k] = v
	}
	s, err := New(models, o)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { ts.Close(); s.Close() })
	return ts
}

// post sends body to path and decodes the JSON answer.
func post(t testing.TB, ts *httptest.Server, path, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(ts.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s: not JSON (%v): %q", path, err, raw)
	}
	return resp.StatusCode, out
}

// events posts a streaming request and returns its data events, which must
// end with [DONE].
func events(t testing.TB, ts *httptest.Server, path, body string) []map[string]any {
	t.Helper()
	resp, err := http.Post(ts.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		raw, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream: %d %s: %s", resp.StatusCode, ct, raw)
	}
	var out []map[string]any
	sc := bufio.NewScanner(resp.Body)
	done := false
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		payload, ok := strings.CutPrefix(line, "data: ")
		if !ok || done {
			t.Fatalf("stream line %q (after [DONE]: %v)", line, done)
		}
		if payload == "[DONE]" {
			done = true
			continue
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(payload), &e); err != nil {
			t.Fatalf("event %q: %v", payload, err)
		}
		out = append(out, e)
	}
	if !done {
		t.Fatal("stream did not end with data: [DONE]")
	}
	return out
}

// greedy is what the model generates alone for prompt, greedily, as text.
func greedy(t testing.TB, m *load.Model, prompt string, n int) string {
	lm, err := m.LanguageModel()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if _, err := lm.Complete(context.Background(), &b, prompt, n, sample.Config{}, 0, ""); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestCompletions(t *testing.T) {
	ts := testServer(t, Options{}, nil)
	want := greedy(t, testLM(t), "the quick", 12)

	code, out := post(t, ts, "/v1/completions", `{"model":"lm","prompt":"the quick","max_tokens":12,"temperature":0}`)
	choices, _ := out["choices"].([]any)
	if code != 200 || out["object"] != "text_completion" || len(choices) != 1 {
		t.Fatalf("%d %v", code, out)
	}
	c := choices[0].(map[string]any)
	usage := out["usage"].(map[string]any)
	if c["text"] != want || c["finish_reason"] != "length" || usage["prompt_tokens"] != 9.0 || usage["completion_tokens"] != 12.0 || usage["total_tokens"] != 21.0 {
		t.Fatalf("choice %v usage %v; want text %q", c, usage, want)
	}

	// Streamed: the same text in pieces, then a finish with the usage.
	evs := events(t, ts, "/v1/completions", `{"model":"lm","prompt":"the quick","max_tokens":12,"temperature":0,"stream":true}`)
	var text strings.Builder
	for _, e := range evs {
		ch := e["choices"].([]any)[0].(map[string]any)
		text.WriteString(ch["text"].(string))
	}
	last := evs[len(evs)-1]
	if text.String() != want || last["choices"].([]any)[0].(map[string]any)["finish_reason"] != "length" || last["usage"] == nil {
		t.Fatalf("streamed %q (want %q), last event %v", text.String(), want, last)
	}

	// A stop string ends the text before it, with finish_reason "stop".
	stop := want[4:6]
	_, out = post(t, ts, "/v1/completions", fmt.Sprintf(`{"model":"lm","prompt":"the quick","max_tokens":12,"temperature":0,"stop":[%q]}`, stop))
	c = out["choices"].([]any)[0].(map[string]any)
	if c["text"] != want[:strings.Index(want, stop)] || c["finish_reason"] != "stop" {
		t.Fatalf("stop %q: %v (full text %q)", stop, c, want)
	}

	// n choices with a seed are reproducible; logprobs are log-probabilities.
	body := `{"model":"lm","prompt":["a","b"],"n":2,"max_tokens":5,"seed":7,"logprobs":2}`
	_, a := post(t, ts, "/v1/completions", body)
	_, b := post(t, ts, "/v1/completions", body)
	if len(a["choices"].([]any)) != 4 || fmt.Sprint(a["choices"]) != fmt.Sprint(b["choices"]) {
		t.Fatalf("seeded n=2 of 2 prompts not reproducible:\n%v\n%v", a["choices"], b["choices"])
	}
	lp := a["choices"].([]any)[0].(map[string]any)["logprobs"].(map[string]any)
	for _, x := range lp["token_logprobs"].([]any) {
		if v := x.(float64); v > 0 || math.IsNaN(v) {
			t.Fatalf("logprob %v", v)
		}
	}
	if len(lp["tokens"].([]any)) != 5 || len(lp["top_logprobs"].([]any)[0].(map[string]any)) != 2 {
		t.Fatalf("logprobs %v", lp)
	}
}

func TestChatCompletions(t *testing.T) {
	ts := testServer(t, Options{}, nil)
	msgs := `[{"role":"system","content":"be brief."},{"role":"user","content":[{"type":"text","text":"the fox?"}]}]`
	prompt := "be brief.\n\nUser: the fox?\n\nAssistant:"
	want := greedy(t, testLM(t), prompt, 8)
	if i := strings.Index(want, chatStop); i >= 0 {
		want = want[:i]
	}
	code, out := post(t, ts, "/v1/chat/completions", `{"model":"lm","messages":`+msgs+`,"max_tokens":8,"temperature":0}`)
	if code != 200 || out["object"] != "chat.completion" {
		t.Fatalf("%d %v", code, out)
	}
	msg := out["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)
	if msg["role"] != "assistant" || msg["content"] != want {
		t.Fatalf("message %v, want content %q", msg, want)
	}
	evs := events(t, ts, "/v1/chat/completions", `{"model":"lm","messages":`+msgs+`,"max_tokens":8,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}`)
	first := evs[0]["choices"].([]any)[0].(map[string]any)["delta"].(map[string]any)
	if evs[0]["object"] != "chat.completion.chunk" || first["role"] != "assistant" {
		t.Fatalf("first chunk %v", evs[0])
	}
	var text strings.Builder
	for _, e := range evs[1 : len(evs)-1] {
		ch := e["choices"].([]any)[0].(map[string]any)
		if c, ok := ch["delta"].(map[string]any)["content"].(string); ok {
			text.WriteString(c)
		}
	}
	usage := evs[len(evs)-1]
	if text.String() != want || len(usage["choices"].([]any)) != 0 || usage["usage"].(map[string]any)["completion_tokens"] != 8.0 {
		t.Fatalf("streamed %q (want %q); last chunk %v", text.String(), want, usage)
	}
}

// Bad requests get OpenAI's error body with the right status, naming the
// field at fault.
func TestBadRequests(t *testing.T) {
	ts := testServer(t, Options{MaxBodyBytes: 4096}, nil)
	for _, tc := range []struct {
		name, path, body string
		code             int
		param, want      string
	}{
		{"unknown_field", "/v1/completions", `{"model":"lm","prompt":"a","max_tokenz":3}`, 400, "max_tokenz", "unknown field"},
		{"wrong_type", "/v1/completions", `{"model":"lm","prompt":"a","max_tokens":"3"}`, 400, "max_tokens", "want an integer"},
		{"prompt_type", "/v1/completions", `{"model":"lm","prompt":{"x":1}}`, 400, "prompt", "want a string"},
		{"not_json", "/v1/completions", `{"model":`, 400, "", "not valid JSON"},
		{"two_values", "/v1/completions", `{"model":"lm","prompt":"a"} {}`, 400, "", "more than one JSON value"},
		{"bad_utf8", "/v1/completions", "{\"model\":\"lm\",\"prompt\":\"\xff\"}", 400, "", "not valid UTF-8"},
		{"too_large", "/v1/completions", `{"model":"lm","prompt":"` + strings.Repeat("a", 5000) + `"}`, 413, "", "over 4096 bytes"},
		{"no_model", "/v1/completions", `{"prompt":"a"}`, 400, "model", "required"},
		{"unknown_model", "/v1/completions", `{"model":"gpt-4","prompt":"a"}`, 404, "model", `"gpt-4" does not exist`},
		{"context", "/v1/completions", `{"model":"lm","prompt":"the","max_tokens":62}`, 400, "max_tokens", "maximum context length is 64 tokens"},
		{"long_prompt", "/v1/completions", `{"model":"lm","prompt":"` + strings.Repeat("a", 70) + `"}`, 400, "max_tokens", "maximum context length"},
		{"zero_tokens", "/v1/completions", `{"model":"lm","prompt":"a","max_tokens":0}`, 400, "max_tokens", "at least 1"},
		{"n", "/v1/completions", `{"model":"lm","prompt":"a","n":0}`, 400, "n", "want 1 to 16"},
		{"temperature", "/v1/completions", `{"model":"lm","prompt":"a","temperature":3}`, 400, "temperature", "[0, 2]"},
		{"top_p", "/v1/completions", `{"model":"lm","prompt":"a","top_p":0}`, 400, "top_p", "(0, 1]"},
		{"stops", "/v1/completions", `{"model":"lm","prompt":"a","stop":["1","2","3","4","5"]}`, 400, "stop", "at most 4"},
		{"empty_prompt", "/v1/completions", `{"model":"lm","prompt":""}`, 400, "prompt", "empty"},
		{"bad_token", "/v1/completions", `{"model":"lm","prompt":[1,999]}`, 400, "prompt", "outside the vocabulary"},
		{"penalty", "/v1/completions", `{"model":"lm","prompt":"a","presence_penalty":1}`, 422, "presence_penalty", "not supported"},
		{"logprobs", "/v1/completions", `{"model":"lm","prompt":"a","logprobs":6}`, 400, "logprobs", "0 to 5"},
		{"no_messages", "/v1/chat/completions", `{"model":"lm","messages":[]}`, 400, "messages", "at least one"},
		{"role", "/v1/chat/completions", `{"model":"lm","messages":[{"role":"robot","content":"x"}]}`, 400, "messages[0].role", "robot"},
		{"tools", "/v1/chat/completions", `{"model":"lm","messages":[{"role":"user","content":"x"}],"tools":[{}]}`, 422, "tools", "not supported"},
		{"image_part", "/v1/chat/completions", `{"model":"lm","messages":[{"role":"user","content":[{"type":"image_url"}]}]}`, 422, "messages", "text parts only"},
		{"embed_long", "/v1/embeddings", `{"model":"lm","input":"` + strings.Repeat("a", 65) + `"}`, 400, "input", "65 tokens"},
		{"embed_format", "/v1/embeddings", `{"model":"lm","input":"a","encoding_format":"hex"}`, 400, "encoding_format", "float or base64"},
		{"classify_lm", "/v1/classify", `{"model":"lm","input":"a"}`, 400, "model", "not a text classifier"},
		{"predict_lm", "/v1/predict", `{"model":"lm","rows":[{}]}`, 400, "model", "tabular and image"},
		{"no_route", "/v2/nothing", `{}`, 404, "", "no such route"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := post(t, ts, tc.path, tc.body)
			e, _ := out["error"].(map[string]any)
			if code != tc.code || e == nil || !strings.Contains(fmt.Sprint(e["message"]), tc.want) {
				t.Fatalf("%d %v; want %d and a message with %q", code, out, tc.code, tc.want)
			}
			if tc.param != "" && e["param"] != tc.param {
				t.Fatalf("param %v, want %q", e["param"], tc.param)
			}
		})
	}
	resp, _ := http.Get(ts.URL + "/v1/completions")
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Fatalf("GET /v1/completions: %d", resp.StatusCode)
	}
	resp.Body.Close()
}

func TestEmbeddingsModelsHealth(t *testing.T) {
	ts := testServer(t, Options{}, nil)
	_, out := post(t, ts, "/v1/embeddings", `{"model":"lm","input":["the fox","the dog"]}`)
	data := out["data"].([]any)
	if len(data) != 2 || out["usage"].(map[string]any)["prompt_tokens"] != 14.0 {
		t.Fatalf("%v", out)
	}
	var norm float64
	vec := data[0].(map[string]any)["embedding"].([]any)
	for _, x := range vec {
		norm += x.(float64) * x.(float64)
	}
	if len(vec) != 32 || math.Abs(norm-1) > 1e-5 {
		t.Fatalf("embedding of %d values, norm² %v", len(vec), norm)
	}
	_, out = post(t, ts, "/v1/embeddings", `{"model":"lm","input":"the fox","encoding_format":"base64"}`)
	raw, err := base64.StdEncoding.DecodeString(out["data"].([]any)[0].(map[string]any)["embedding"].(string))
	if err != nil || len(raw) != 4*32 || math.Float32frombits(binary.LittleEndian.Uint32(raw)) != float32(vec[0].(float64)) {
		t.Fatalf("base64 embedding: %v, %d bytes", err, len(raw))
	}

	for path, want := range map[string]string{"/v1/models": `"id":"lm"`, "/v1/models/lm": `"context_window":64`, "/healthz": "ok", "/readyz": "ready", "/metrics": `moxing_requests_total{route="/v1/embeddings",status="200"} 2`} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d %s; want %s", path, resp.StatusCode, body, want)
		}
	}
}

// A client that leaves mid-stream frees its slot: with one slot, the next
// request is served.
func TestCancelMidStream(t *testing.T) {
	// A window of 4096 tokens: the stream would run for thousands of steps.
	lm := testLM(t)
	m, err := gpt.New(gpt.Config{VocabSize: lm.GPT.LM.Config.VocabSize, BlockSize: 4096, NEmbd: 32, NLayer: 2, NHead: 4}, rand.New(rand.NewPCG(8, 9)))
	if err != nil {
		t.Fatal(err)
	}
	long := &load.Model{Path: "long", GPT: &gpt.Pretrained{LM: m, Tokenizer: lm.GPT.Tokenizer}}
	ts := testServer(t, Options{Slots: 1}, map[string]*load.Model{"long": long})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/v1/completions",
		strings.NewReader(`{"model":"long","prompt":"a","max_tokens":4000,"stream":true}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	bufio.NewReader(resp.Body).ReadString('\n') // the first chunk
	cancel()
	resp.Body.Close()
	done := make(chan int)
	go func() {
		code, _ := post(t, ts, "/v1/completions", `{"model":"long","prompt":"b","max_tokens":3}`)
		done <- code
	}()
	select {
	case code := <-done:
		if code != 200 {
			t.Fatalf("after a cancelled stream: %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the cancelled stream's slot was not freed")
	}
	// The cancelled stream stopped early: far fewer than its 4000 tokens
	// were made (the next request's 3 included).
	resp, err = http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var made float64
	for _, line := range strings.Split(string(metrics), "\n") {
		if v, ok := strings.CutPrefix(line, `moxing_generated_tokens_total{model="long"} `); ok {
			fmt.Sscan(v, &made)
		}
	}
	if made == 0 || made > 2000 {
		t.Fatalf("%v tokens generated for a stream cancelled after its first", made)
	}
	t.Logf("%v tokens generated before the cancelled stream stopped", made)
}

// A burst of requests at a server with one slot and a queue of one: each
// is served (200) or refused with 429 and Retry-After, none fails
// otherwise, and some are refused.
func TestQueueFull(t *testing.T) {
	ts := testServer(t, Options{Slots: 1, MaxQueue: 1}, nil)
	codes := make(chan int, 12)
	for range cap(codes) {
		go func() {
			resp, err := http.Post(ts.URL+"/v1/completions", "application/json", strings.NewReader(`{"model":"lm","prompt":"a","max_tokens":60}`))
			if err != nil {
				codes <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
				codes <- -429
				return
			}
			codes <- resp.StatusCode
		}()
	}
	refused := 0
	for range cap(codes) {
		switch code := <-codes; code {
		case 200:
		case 429:
			refused++
		default:
			t.Fatalf("a request ended %d (0: no answer, -429: no Retry-After)", code)
		}
	}
	if refused == 0 {
		t.Fatal("12 requests at once, one slot and a queue of one: none refused")
	}
}

// testTabular trains a small tabular classifier (x, colour → lo or hi) in
// a run folder and opens it.
func testTabular(t testing.TB) *load.Model {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("x,colour,label\n")
	for i := range 60 {
		fmt.Fprintf(&b, "%d,%s,%s\n", i%10, []string{"red", "blue"}[i%2], []string{"lo", "hi"}[(i%10)/5])
	}
	path := filepath.Join(dir, "t.csv")
	os.WriteFile(path, []byte(b.String()), 0o644)
	var o recipe.TrainOptions
	recipe.Defaults(&o)
	o.Data, o.Epochs, o.Hidden = path, 30, "8"
	if _, err := recipe.Train(context.Background(), o, recipe.Folder{Dir: filepath.Join(dir, "run")}, nil, io.Discard); err != nil {
		t.Fatal(err)
	}
	m, err := load.Open(filepath.Join(dir, "run"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The zoo routes: a text-free tabular model through /v1/predict.
func TestPredictTabular(t *testing.T) {
	ts := testServer(t, Options{}, map[string]*load.Model{"tab": testTabular(t)})
	code, out := post(t, ts, "/v1/predict", `{"model":"tab","rows":[{"x":1,"colour":"red"},{"x":"9","colour":"blue"}]}`)
	data, _ := out["data"].([]any)
	if code != 200 || len(data) != 2 {
		t.Fatalf("%d %v", code, out)
	}
	for _, d := range data {
		probs := d.(map[string]any)["probabilities"].(map[string]any)
		if s := probs["lo"].(float64) + probs["hi"].(float64); math.Abs(s-1) > 1e-6 {
			t.Fatalf("probabilities %v", probs)
		}
	}
	code, out = post(t, ts, "/v1/predict", `{"model":"tab","rows":[{"x":1,"colour":"mauve"}]}`)
	if code != 400 || !strings.Contains(fmt.Sprint(out["error"]), `category "mauve" was not seen`) {
		t.Fatalf("an unseen category: %d %v", code, out)
	}
}

// A GPT text classifier through /v1/classify, and a recurrent language
// model (no Batcher: one goroutine a sequence) through /v1/completions.
func TestClassifyAndRecurrentLM(t *testing.T) {
	lm := testLM(t)
	cls, err := gpt.NewClassifier(lm.GPT.LM, 2, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	classifier := &load.Model{Path: "cls", GPT: &gpt.Pretrained{LM: lm.GPT.LM, Classifier: cls, Labels: []string{"neg", "pos"}, Tokenizer: lm.GPT.Tokenizer}}
	tok := lm.GPT.Tokenizer
	r, err := rnn.NewLM(rnn.Config{Vocab: tok.VocabSize(), Embed: 8, Hidden: 16, Layers: 1}, rand.New(rand.NewPCG(5, 6)))
	if err != nil {
		t.Fatal(err)
	}
	recurrent := &load.Model{Path: "rnn", RNN: &rnn.Pretrained{LM: r, Tokenizer: tok, Window: 32}}
	vec, err := bow.Fit(bow.Features{Words: [2]int{1, 1}}, []string{"good fox", "bad dog"})
	if err != nil {
		t.Fatal(err)
	}
	bm, _ := bow.New(bow.Config{Features: vec.Len(), Classes: 2}, nil)
	bm.Weight.Data[0*2+0], bm.Weight.Data[1*2+1] = 1, 1 // "bad" → neg, "dog" → pos (terms sorted: bad, dog, fox, good)
	bag := &load.Model{Path: "bow", BOW: &bow.Pretrained{Model: bm, Vectorizer: vec, Labels: []string{"neg", "pos"}}}
	ts := testServer(t, Options{}, map[string]*load.Model{"cls": classifier, "rnn": recurrent, "bow": bag})

	code, out := post(t, ts, "/v1/classify", `{"model":"bow","input":["a bad day","the dog","nothing known"]}`)
	if data, _ := out["data"].([]any); code != 200 || len(data) != 3 {
		t.Fatalf("bag of n-grams: %d %v", code, out)
	}
	for i, want := range []string{"neg", "pos", "neg"} { // no known word: equal logits, the first label
		if got := out["data"].([]any)[i].(map[string]any)["label"]; got != want {
			t.Errorf("bag of n-grams: text %d is %v, want %s", i, got, want)
		}
	}

	code, out = post(t, ts, "/v1/classify", `{"model":"cls","input":["the fox","the lazy dog"]}`)
	data, _ := out["data"].([]any)
	if code != 200 || len(data) != 2 {
		t.Fatalf("%d %v", code, out)
	}
	for _, d := range data {
		d := d.(map[string]any)
		probs := d["probabilities"].(map[string]any)
		if s := probs["neg"].(float64) + probs["pos"].(float64); math.Abs(s-1) > 1e-6 || (d["label"] != "neg" && d["label"] != "pos") {
			t.Fatalf("classification %v", d)
		}
	}
	code, out = post(t, ts, "/v1/completions", `{"model":"rnn","prompt":"the","max_tokens":7,"temperature":0}`)
	if code != 200 || out["usage"].(map[string]any)["completion_tokens"] != 7.0 {
		t.Fatalf("recurrent LM: %d %v", code, out)
	}
	if want := greedy(t, recurrent, "the", 7); out["choices"].([]any)[0].(map[string]any)["text"] != want {
		t.Fatalf("recurrent LM text %v, want %q", out["choices"], want)
	}
	if code, out = post(t, ts, "/v1/chat/completions", `{"model":"rnn","messages":[{"role":"user","content":"the"}]}`); code != 200 ||
		out["usage"].(map[string]any)["completion_tokens"].(float64) > 256 {
		t.Fatalf("chat with a recurrent LM (no window): %d %v", code, out)
	}
	if code, out = post(t, ts, "/v1/completions", `{"model":"rnn","prompt":"the","logprobs":1}`); code != 422 {
		t.Fatalf("logprobs of a recurrent LM: %d %v", code, out)
	}
	if code, out = post(t, ts, "/v1/embeddings", `{"model":"rnn","input":"the"}`); code != 422 {
		t.Fatalf("embeddings of a recurrent LM: %d %v", code, out)
	}
}

// A panic in a request is that request's 500, in OpenAI's error body, and
// the server goes on serving.
func TestPanicIsA500(t *testing.T) {
	s, err := New(map[string]*load.Model{"lm": testLM(t)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := s.wrap(route{path: "/boom", method: http.MethodGet, handle: func(http.ResponseWriter, *http.Request, *requestInfo) error {
		var m map[string]int
		m["x"] = 1 // a nil map: a bug
		return nil
	}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boom", nil))
	var out map[string]map[string]any
	if rec.Code != 500 || json.Unmarshal(rec.Body.Bytes(), &out) != nil || out["error"]["type"] != "server_error" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != 200 {
		t.Fatalf("after a panic: /healthz %d", rec.Code)
	}
}
