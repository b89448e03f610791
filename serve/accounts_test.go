package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moxing/moxing/ledger"
	"github.com/moxing/moxing/ledger/ledgertest"
	"github.com/moxing/moxing/load"
)

// eachLedger runs test with the tiny GPT served as "lm" and "other", keys
// checked against a fresh ledger on each database (see ledgertest).
func eachLedger(t *testing.T, test func(t *testing.T, ts *httptest.Server, store *ledger.Store)) {
	for _, st := range ledgertest.Stores(t) {
		t.Run(st.Name, func(t *testing.T) {
			ts := ledgerServer(t, st.Store)
			test(t, ts, st.Store)
		})
	}
}

// ledgerServer serves the tiny GPT as "lm" and "other" with keys checked
// against store.
func ledgerServer(t *testing.T, store *ledger.Store) *httptest.Server {
	t.Helper()
	m := testLM(t)
	s, err := New(map[string]*load.Model{"lm": m, "other": m}, Options{Ledger: store, Auth: true})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { ts.Close(); s.Close() })
	return ts
}

// authed sends a request with key as the bearer token and decodes the JSON
// answer.
func authed(t *testing.T, ts *httptest.Server, method, path, key, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// call posts body to path with key as the bearer token and returns the
// status, the usage the client was told, and the error's code.
func call(t *testing.T, ts *httptest.Server, key, path, body string) (int, int64, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", ts.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, 0, ""
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Usage *struct {
			Total int64 `json:"total_tokens"`
		}
		Error struct {
			Code string
		}
	}
	json.Unmarshal(raw, &out)
	if resp.Header.Get("Content-Type") == "text/event-stream" { // the usage is in a chunk
		for _, line := range strings.Split(string(raw), "\n") {
			var chunk struct {
				Usage *struct {
					Total int64 `json:"total_tokens"`
				}
			}
			if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &chunk) == nil && chunk.Usage != nil {
				out.Usage = chunk.Usage
			}
		}
	}
	total := int64(0)
	if out.Usage != nil {
		total = out.Usage.Total
	}
	if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	return resp.StatusCode, total, out.Error.Code
}

func TestAuth(t *testing.T) {
	eachLedger(t, func(t *testing.T, ts *httptest.Server, store *ledger.Store) {
		ctx := context.Background()
		_, good, _ := store.CreateKey(ctx, ledger.NewKey{Name: "good"})
		_, scoped, _ := store.CreateKey(ctx, ledger.NewKey{Name: "scoped", Models: []string{"lm"}})
		_, revoked, _ := store.CreateKey(ctx, ledger.NewKey{Name: "revoked"})
		store.RevokeKey(ctx, "revoked")
		_, expired, _ := store.CreateKey(ctx, ledger.NewKey{Name: "expired", Expires: time.Now().Add(-time.Minute)})
		_, slow, _ := store.CreateKey(ctx, ledger.NewKey{Name: "slow", Rate: 0.5})
		body := `{"model":"other","prompt":"the","max_tokens":2}`
		wrong := good[:len(good)-1] + "A" // the good key with its last character changed
		if good[len(good)-1] == 'A' {
			wrong = good[:len(good)-1] + "B"
		}
		for _, tc := range []struct {
			name, key string
			code      int
			errCode   string
		}{
			{"no_key", "", 401, "invalid_api_key"},
			{"wrong_key", wrong, 401, "invalid_api_key"},
			{"garbage", "sk-123", 401, "invalid_api_key"},
			{"revoked", revoked, 403, "invalid_api_key"},
			{"expired", expired, 403, "invalid_api_key"},
			{"out_of_scope", scoped, 403, "model_not_allowed"},
			{"good", good, 200, ""},
			{"rate_first", slow, 200, ""},
			{"rate_second", slow, 429, "rate_limit_exceeded"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if code, _, errCode := call(t, ts, tc.key, "/v1/completions", body); code != tc.code || errCode != tc.errCode {
					t.Fatalf("%d %q, want %d %q", code, errCode, tc.code, tc.errCode)
				}
			})
		}
		if code, _, _ := call(t, ts, scoped, "/v1/completions", `{"model":"lm","prompt":"the","max_tokens":2}`); code != 200 {
			t.Fatalf("a scoped key on its model: %d", code)
		}
		// Every request, refused or not, is in the ledger, with its status.
		recs, err := store.Records(ctx, ledger.Filter{})
		if err != nil || len(recs) != 10 {
			t.Fatalf("%d records (%v), want 10", len(recs), err)
		}
		statuses := map[int]int{}
		for _, r := range recs {
			statuses[r.Status]++
		}
		if statuses[200] != 3 || statuses[401] != 3 || statuses[403] != 3 || statuses[429] != 1 {
			t.Fatalf("statuses in the ledger: %v", statuses)
		}
	})
}

// N requests at concurrency 16 from three keys: the ledger holds exactly
// N records, whose tokens sum to the usage the clients were told; a key
// with a quota, hammered at once, never spends more than it.
func TestExactAccounting(t *testing.T) {
	eachLedger(t, func(t *testing.T, ts *httptest.Server, store *ledger.Store) {
		ctx := context.Background()
		var keys []string
		for i := range 3 {
			_, k, _ := store.CreateKey(ctx, ledger.NewKey{Name: fmt.Sprint("k", i)})
			keys = append(keys, k)
		}
		const quota = 300
		capped, cappedSecret, _ := store.CreateKey(ctx, ledger.NewKey{Name: "capped", QuotaTokens: quota})
		const n = 60
		var wg sync.WaitGroup
		var mu sync.Mutex
		told := int64(0)
		refused := 0
		work := make(chan int, n+30)
		for i := range n + 30 {
			work <- i
		}
		close(work)
		for range 16 {
			wg.Go(func() {
				for i := range work {
					key, body := keys[i%3], fmt.Sprintf(`{"model":"lm","prompt":"the %d","max_tokens":%d,"stream":%v}`, i, 1+i%9, i%2 == 0)
					if i >= n {
						key = cappedSecret
					}
					code, total, _ := call(t, ts, key, "/v1/completions", body)
					mu.Lock()
					switch {
					case code == 200 && i < n:
						told += total
					case code == 429 && i >= n:
						refused++
					case code != 200:
						t.Errorf("request %d: %d", i, code)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		var ledgerSum int64
		count := 0
		for _, k := range keys {
			key, _ := store.Authenticate(ctx, k)
			recs, _ := store.Records(ctx, ledger.Filter{KeyID: key.ID})
			for _, r := range recs {
				ledgerSum += r.PromptTokens + r.CompletionTokens
				count++
			}
		}
		if count != n || ledgerSum != told {
			t.Fatalf("%d records with %d tokens; the clients made %d requests and were told %d tokens", count, ledgerSum, n, told)
		}
		k, _ := store.Key(ctx, capped.ID)
		if k.Spent > quota || k.Reserved != 0 || refused == 0 {
			t.Fatalf("the capped key spent %d of %d (reserved %d), %d refused", k.Spent, quota, k.Reserved, refused)
		}
	})
}

// An admin key manages keys and reads usage over HTTP; other keys may not.
func TestAdminRoutes(t *testing.T) {
	eachLedger(t, func(t *testing.T, ts *httptest.Server, store *ledger.Store) {
		ctx := context.Background()
		_, root, _ := store.CreateKey(ctx, ledger.NewKey{Name: "root", Admin: true})
		do := func(method, path, key, body string) (int, map[string]any) {
			return authed(t, ts, method, path, key, body)
		}
		code, out := do("POST", "/v1/admin/keys", root, `{"name":"bob","quota_tokens":500,"models":["lm"]}`)
		bob, _ := out["key"].(string)
		if code != 200 || !strings.HasPrefix(bob, "mx-") {
			t.Fatalf("create: %d %v", code, out)
		}
		if code, _, _ := call(t, ts, bob, "/v1/completions", `{"model":"lm","prompt":"the","max_tokens":3}`); code != 200 {
			t.Fatalf("bob's key: %d", code)
		}
		if code, _ := do("GET", "/v1/admin/keys", bob, ""); code != 403 {
			t.Fatalf("a key that is not an admin's on /v1/admin/keys: %d", code)
		}
		if code, out := do("GET", "/v1/admin/keys", root, ""); code != 200 || len(out["data"].([]any)) != 2 {
			t.Fatalf("list: %d %v", code, out)
		}
		code, out = do("GET", "/v1/admin/usage?by=key", root, "")
		found := false
		for _, row := range out["data"].([]any) {
			row := row.(map[string]any)
			found = found || row["group"] == "bob" && row["requests"] == 2.0 && row["completion_tokens"] == 3.0 // its completion and its refused admin call
		}
		if code != 200 || !found {
			t.Fatalf("usage: %d %v", code, out)
		}
		if code, _ := do("GET", "/v1/admin/usage?by=week", root, ""); code != 400 {
			t.Fatalf("usage by week: %d", code)
		}
		if code, _ := do("DELETE", "/v1/admin/keys/bob", root, ""); code != 200 {
			t.Fatalf("revoke: %d", code)
		}
		if code, _, _ := call(t, ts, bob, "/v1/completions", `{"model":"lm","prompt":"the","max_tokens":3}`); code != 403 {
			t.Fatalf("bob's key after revoking: %d", code)
		}
	})
}
