package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tinyRun pretrains a tiny GPT for a few steps and returns its run folder.
func tinyRun(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus.txt")
	os.WriteFile(corpus, []byte(strings.Repeat("a stitch in time saves nine. ", 400)), 0o644)
	prepared, run := filepath.Join(dir, "prepared"), filepath.Join(dir, "run")
	if code, _, e := moxing(t, context.Background(), "prepare", "--input", corpus, "--out", prepared); code != 0 {
		t.Fatal(e)
	}
	if code, _, e := moxing(t, context.Background(), "pretrain", "--data", prepared, "--layers", "1", "--heads", "2", "--embd", "16",
		"--seq", "128", "--steps", "4", "--batch-size", "2", "--eval-every", "2", "--run", run); code != 0 {
		t.Fatal(e)
	}
	return run
}

// serveChild runs moxing serve of the model at run, named "tiny", in a
// child process on a free loopback port, and returns its URL, the process
// (killed at the test's end) and its standard error.
func serveChild(t *testing.T, run string, more ...string) (string, *exec.Cmd, *strings.Builder) {
	t.Helper()
	srv := cli(append([]string{"serve", "--model", "tiny=" + run, "--addr", "127.0.0.1:0"}, more...)...)
	stdout, _ := srv.StdoutPipe()
	stderr := &strings.Builder{}
	srv.Stderr = stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "serving on ")
	if err != nil || !ok {
		t.Fatalf("first line %q (%v); stderr:\n%s", line, err, stderr.String())
	}
	return url, srv, stderr
}

// startServer is serveChild's URL.
func startServer(t *testing.T, run string) string {
	url, _, _ := serveChild(t, run)
	return url
}

// moxing serve answers OpenAI's API on the address it prints, streams while
// SIGTERM drains it, and exits once the stream is done.
func TestServe(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server in a child process")
	}
	url, srv, stderr := serveChild(t, tinyRun(t))
	resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(`{"model":"tiny","prompt":"a stitch","max_tokens":5}`))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Choices []struct{ Text string }
		Usage   struct {
			CompletionTokens int `json:"completion_tokens"`
		}
	}
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(out.Choices) != 1 || out.Usage.CompletionTokens != 5 {
		t.Fatalf("completion: %d %+v", resp.StatusCode, out)
	}

	// A stream under way when SIGTERM comes is finished; then the server exits.
	resp, err = http.Post(url+"/v1/completions", "application/json", strings.NewReader(`{"model":"tiny","prompt":"a","max_tokens":25,"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	srv.Process.Signal(syscall.SIGTERM)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasSuffix(string(body), "data: [DONE]\n\n") {
		t.Fatalf("the stream under way at SIGTERM was cut: %q", body)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		t.Fatalf("the server did not exit after SIGTERM; stderr:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), `"path":"/v1/completions","status":200`) {
		t.Errorf("no request log line on stderr:\n%s", stderr.String())
	}
}

// A new user's path: moxing keys create, moxing serve --auth, a request
// with the key (and one without), moxing usage --csv bills it, moxing keys
// list shows what the key spent, and revoke ends it.
func TestKeysServeUsage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server in a child process")
	}
	db := filepath.Join(t.TempDir(), "ledger", "moxing.db")
	code, out, e := moxing(t, context.Background(), "keys", "create", "--name", "alice", "--quota-tokens", "1000", "--db", db)
	secret, _, _ := strings.Cut(out, "\n")
	if code != 0 || !strings.HasPrefix(secret, "mx-") {
		t.Fatalf("keys create: %d %q %s", code, out, e)
	}
	url, _, _ := serveChild(t, tinyRun(t), "--auth", "--db", db)
	post := func(key string) (int, int) {
		req, _ := http.NewRequest("POST", url+"/v1/completions", strings.NewReader(`{"model":"tiny","prompt":"a stitch","max_tokens":5}`))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Usage struct {
				TotalTokens int `json:"total_tokens"`
			}
		}
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Usage.TotalTokens
	}
	if code, _ := post(""); code != 401 {
		t.Fatalf("no key: %d", code)
	}
	code, total := post(secret)
	if code != 200 || total == 0 {
		t.Fatalf("with the key: %d, %d tokens", code, total)
	}
	code, out, e = moxing(t, context.Background(), "usage", "--db", db, "--by", "key", "--csv")
	if want := fmt.Sprintf("alice,1,"); code != 0 || !strings.Contains(out, want) || !strings.Contains(out, fmt.Sprintf(",%d\n", total)) || !strings.Contains(out, "(no key),1,") {
		t.Fatalf("usage: %d %q %s", code, out, e)
	}
	code, out, _ = moxing(t, context.Background(), "keys", "list", "--db", db, "--json")
	var keys []struct {
		Name  string
		Spent int `json:"spent_tokens"`
	}
	if json.Unmarshal([]byte(out), &keys); code != 0 || len(keys) != 1 || keys[0].Spent != total {
		t.Fatalf("keys list: %d %q", code, out)
	}
	if code, _, e := moxing(t, context.Background(), "keys", "revoke", "alice", "--db", db); code != 0 {
		t.Fatal(e)
	}
	if code, _ := post(secret); code != 403 {
		t.Fatalf("a revoked key: %d", code)
	}
	if code, _, e := moxing(t, context.Background(), "usage", "--db", db, "--by", "week"); code != 2 || !strings.Contains(e, `--by "week"`) {
		t.Fatalf("usage --by week: %d %s", code, e)
	}
}
