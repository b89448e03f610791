package serve

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"image/png"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/moxing/moxing/ledger"
	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/models/gpt"
)

// The page and its assets carry the security headers; the API answers no
// other origin's preflight and sets no CORS header, so a page elsewhere
// cannot call it with a key or read its answers.
func TestPageHeaders(t *testing.T) {
	ts := testServer(t, Options{}, nil)
	for _, path := range []string{"/", "/ui/app.js", "/ui/style.css"} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") != pageCSP || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, resp.Header)
		}
	}
	for _, path := range []string{"/ui/", "/ui/index.html", "/ui/missing.js", "/index.html", "/ui/../server.go"} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Fatalf("%s: %d, want 404", path, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest("OPTIONS", ts.URL+"/v1/completions", nil)
	req.Header.Set("Origin", "https://elsewhere.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("a cross-origin preflight: %d %v", resp.StatusCode, resp.Header)
	}
	req, _ = http.NewRequest("GET", ts.URL+"/v1/models", nil)
	req.Header.Set("Origin", "https://elsewhere.example")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("a cross-origin GET got CORS headers: %v", resp.Header)
	}
}

// chromium returns the path of a Chromium to drive. Without one the test
// is skipped, except under CI=true, where scripts/test.sh installs it.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH: scripts/test.sh installs Debian's chromium")
	}
	t.Skip("no chromium on PATH (Debian: apt-get install chromium)")
	return ""
}

// browser starts a headless Chromium for the test and returns its context.
// It fails the test on a JavaScript exception, console.error or any
// error the browser logs (a Content-Security-Policy violation among them),
// except failed network requests, which the test provokes (a 401).
func browser(t *testing.T) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("starting %s: %v", chromium(t), err)
	}
	var mu sync.Mutex
	var problems []string
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || (m.Type == chromedp.ConsoleError && m.Source != "network") {
				mu.Lock()
				problems = append(problems, m.String())
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		<-done
		if len(problems) > 0 {
			t.Errorf("the browser reported:\n%s", strings.Join(problems, "\n"))
		}
	})
	return ctx
}

// screenshot saves the browser's view as name.png in
// $MOXING_SCREENSHOTS (or the test's temporary folder) and checks that it
// is an image of the window with something drawn in it.
func screenshot(t *testing.T, ctx context.Context, name string) {
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	colours := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, a := img.At(x, y).RGBA()
			colours[[4]uint32{r, g, bl, a}] = true
		}
	}
	if b.Dx() < 800 || len(colours) < 20 {
		t.Fatalf("screenshot %s: %v with %d colours: blank?", name, b, len(colours))
	}
	dir := cmp.Or(os.Getenv("MOXING_SCREENSHOTS"), t.TempDir())
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s: %s (%v, %d colours)", name, filepath.Join(dir, name+".png"), b.Size(), len(colours))
}

// The page in a real browser, against a server with keys: it asks for a
// key, lists the models, streams a completion token by token (the same
// text the model generates alone), classifies texts, predicts a table row,
// draws a model card's training curves, and shows an admin the keys and
// the day's usage.
func TestPageInBrowser(t *testing.T) {
	ctx := browser(t)

	store, err := ledger.Open(filepath.Join(t.TempDir(), "moxing.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	_, userKey, err := store.CreateKey(context.Background(), ledger.NewKey{Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	_, adminKey, err := store.CreateKey(context.Background(), ledger.NewKey{Name: "root", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	// A GPT with a longer window, so that a stream has many steps.
	tiny := testLM(t)
	g, err := gpt.New(gpt.Config{VocabSize: tiny.GPT.LM.Config.VocabSize, BlockSize: 512, NEmbd: 64, NLayer: 2, NHead: 4}, rand.New(rand.NewPCG(8, 9)))
	if err != nil {
		t.Fatal(err)
	}
	lm := &load.Model{Path: "lm", GPT: &gpt.Pretrained{LM: g, Tokenizer: tiny.GPT.Tokenizer}}
	if lm.Card, err = lm.GPT.Card(); err != nil {
		t.Fatal(err)
	}
	cls, err := gpt.NewClassifier(tiny.GPT.LM, 2, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	classifier := &load.Model{Path: "cls", GPT: &gpt.Pretrained{LM: tiny.GPT.LM, Classifier: cls, Labels: []string{"neg", "pos"}, Tokenizer: tiny.GPT.Tokenizer}}
	tab := testTabular(t)
	models := map[string]*load.Model{"lm": lm, "cls": classifier, "tab": tab}
	s, err := New(models, Options{Ledger: store, Auth: true})
	if err != nil {
		t.Fatal(err)
	}
	// Each flush of a stream waits 5 ms, as a larger model's steps would:
	// the tiny models generate faster than a browser reads, and it would
	// get a whole stream in one piece.
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.ServeHTTP(slowFlusher{w}, r) }))
	defer func() { ts.Close(); s.Close() }()

	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		step, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := chromedp.Do(step, actions...); err != nil {
			t.Fatalf("%s: %v (status line: %q)", what, err, statusLine(ctx))
		}
	}
	until := func(expr string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(30*time.Second))
	}
	eval := func(expr string) chromedp.Action[chromedp.Void] { return chromedp.Evaluate[chromedp.Void](expr) }
	selectModel := func(name string) {
		t.Helper()
		run("select "+name, eval(fmt.Sprintf(`(() => { const s = document.getElementById('model'); s.value = %q; s.dispatchEvent(new Event('change')); })()`, name)))
	}

	// Without a key the page asks for one; with it, the models appear.
	run("open the page", chromedp.Navigate(ts.URL), chromedp.WaitVisible(chromedp.ID("key")),
		until(`document.getElementById('status').textContent.includes('needs an API key')`))
	run("enter the key", chromedp.SendKeys(chromedp.ID("key"), userKey), chromedp.Click(chromedp.ID("key-use")),
		until(`document.querySelectorAll('#model option').length === 3`))

	// The playground streams: the completion's text grows many times before
	// it is done, and it is what the model generates alone, greedily.
	selectModel("lm")
	const prompt, n = "the quick brown", 200
	run("playground", chromedp.WaitVisible(chromedp.ID("playground")))
	run("temperature", chromedp.SetValue(chromedp.ID("temperature"), "0"))
	run("max", chromedp.SetValue(chromedp.ID("max_tokens"), fmt.Sprint(n)))
	run("prompt", chromedp.SendKeys(chromedp.ID("prompt"), prompt),
		eval(`window.seen = []; new MutationObserver(() => {
			const c = document.getElementById('completion');
			if (c) window.seen.push(c.textContent.length);
		}).observe(document.getElementById('output'), {childList: true, subtree: true, characterData: true});`))
	run("generate", chromedp.Click(chromedp.ID("generate")),
		until(`document.getElementById('gen-usage').textContent.includes('completion tokens')`))
	got := text("#completion")
	if want := greedy(t, lm, prompt, n); got != want {
		t.Fatalf("the page shows %q, the model alone writes %q", got, want)
	}
	seen, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`window.seen`))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(seen)
	seen = slices.Compact(seen)
	if len(seen) < 5 || seen[0] >= len(got) {
		t.Fatalf("the completion appeared in %d steps (lengths %v): not streamed", len(seen), seen)
	}
	if usage := text("#gen-usage"); !strings.Contains(usage, fmt.Sprintf("%d completion tokens", n)) {
		t.Fatalf("usage line %q", usage)
	}
	t.Logf("%d characters streamed in %d visible steps", len(got), len(seen))
	screenshot(t, ctx, "playground")

	// A chat turn streams into the conversation.
	run("chat", chromedp.Click(chromedp.CSS(`input[name=mode][value=chat]`)), chromedp.SetValue(chromedp.ID("max_tokens"), "20"),
		eval(`document.getElementById('prompt').value = ''`), chromedp.SendKeys(chromedp.ID("prompt"), "the fox"), chromedp.Click(chromedp.ID("generate")),
		until(`document.querySelectorAll('#chat-log .msg').length === 2 && !document.getElementById('generate').disabled`))
	if got := text("#chat-log .msg.user .content"); got != "the fox" {
		t.Fatalf("the user's message shows %q", got)
	}
	if got := text("#chat-log .msg.assistant .content"); got == "" {
		t.Fatal("the assistant's reply is empty")
	}

	// The classify box labels each line as /v1/classify does.
	selectModel("cls")
	run("classify", chromedp.WaitVisible(chromedp.ID("classify")),
		chromedp.SendKeys(chromedp.ID("classify-input"), "the fox\nthe lazy dog"), chromedp.Click(chromedp.ID("classify-go")),
		until(`document.querySelectorAll('#classify-result td.label').length === 2`))
	labels, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#classify-result td.label')].map(td => td.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	_, out := authed(t, ts, "POST", "/v1/classify", userKey, `{"model":"cls","input":["the fox","the lazy dog"]}`)
	for i, d := range out["data"].([]any) {
		if want := d.(map[string]any)["label"]; labels[i] != want {
			t.Fatalf("text %d: the page shows %q, the API says %q", i, labels[i], want)
		}
	}

	// The predict form is made from the model's schema.
	selectModel("tab")
	run("predict", chromedp.WaitVisible(chromedp.CSS("#predict-form select[name=colour]")),
		chromedp.SetValue(chromedp.CSS(`#predict-form input[name=x]`), "9"), chromedp.SetValue(chromedp.CSS(`#predict-form select[name=colour]`), "blue"),
		chromedp.Click(chromedp.ID("predict-go")),
		chromedp.WaitVisible(chromedp.CSS("#predict-result td.label")))
	_, out = authed(t, ts, "POST", "/v1/predict", userKey, `{"model":"tab","rows":[{"x":9,"colour":"blue"}]}`)
	if got, want := text("#predict-result td.label"), out["data"].([]any)[0].(map[string]any)["label"]; got != want {
		t.Fatalf("predicted %q on the page, %q by the API", got, want)
	}

	// The model card draws the run's curves: a point per metrics.jsonl record.
	run("card", chromedp.Click(chromedp.CSS(`#tabs button[data-tab=card]`)),
		chromedp.WaitVisible(chromedp.CSS(`#curves polyline[data-series=val_loss]`)))
	points, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelector('#curves polyline[data-series=train_loss]').getAttribute('points').split(' ').length`))
	if err != nil {
		t.Fatal(err)
	}
	if want := len(s.models["tab"].fullCard.Training.Metrics); points != want || want == 0 {
		t.Fatalf("the loss curve has %d points, the run %d records", points, want)
	}
	if facts := text("#card-facts"); !strings.Contains(facts, "parameters") || !strings.Contains(facts, fmt.Sprint(tab.Parameters())) {
		t.Fatalf("card facts %q", facts)
	}
	screenshot(t, ctx, "card")

	// An admin sees the keys and the day's usage; alice's key may not.
	run("admin as alice", chromedp.Click(chromedp.CSS(`#tabs button[data-tab=admin]`)),
		until(`document.getElementById('status').textContent.includes('not an admin key')`))
	run("admin", chromedp.SetValue(chromedp.ID("key"), adminKey), chromedp.Click(chromedp.ID("key-use")),
		until(`[...document.querySelectorAll('#keys-table td')].some(td => td.textContent === 'alice')`),
		chromedp.WaitVisible(chromedp.CSS(`#usage-table td.num`)))
	today := time.Now().UTC().Format(time.DateOnly)
	if usage := text("#usage-table"); !strings.Contains(usage, today) {
		t.Fatalf("usage by day %q has no row for %s", usage, today)
	}
	screenshot(t, ctx, "admin")
}

// slowFlusher waits 5 ms after each flush.
type slowFlusher struct{ http.ResponseWriter }

func (w slowFlusher) Flush() {
	w.ResponseWriter.(http.Flusher).Flush()
	time.Sleep(5 * time.Millisecond)
}

// statusLine is the page's status line, for messages.
func statusLine(ctx context.Context) string {
	c, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	v, _ := chromedp.Run(c, chromedp.Evaluate[string](`document.getElementById('status').textContent + ' | model ' + document.getElementById('model').value + ' | visible ' + [...document.querySelectorAll('main > section')].filter(s => !s.hidden).map(s => s.id)`))
	return v
}
