package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moxing/moxing/ledger"
	"github.com/moxing/moxing/load"
)

// TestMain lets TestLedgerSurvivesKill run this test binary as a server it
// can kill: with MOXING_TEST_LEDGER_SERVER set to a ledger file, it serves
// the tiny GPT as "lm" with keys and the ledger, and prints its URL.
func TestMain(m *testing.M) {
	if db := os.Getenv("MOXING_TEST_LEDGER_SERVER"); db != "" {
		if err := serveForKill(db); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

func serveForKill(db string) error {
	store, err := ledger.Open(db)
	if err != nil {
		return err
	}
	lm, err := newTestLM()
	if err != nil {
		return err
	}
	s, err := New(map[string]*load.Model{"lm": lm}, Options{Ledger: store, Auth: true})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println("http://" + ln.Addr().String())
	return http.Serve(ln, s)
}

// A server killed with SIGKILL under load leaves a ledger that opens, with
// every record whole, and with a record for every request whose response
// the client received in full (the record is written before the
// response's last bytes).
func TestLedgerSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a child process")
	}
	db := filepath.Join(t.TempDir(), "moxing.db")
	store, err := ledger.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	// A quota, so that requests reserve tokens: those in flight at the kill
	// are left held, until they expire.
	k, secret, err := store.CreateKey(context.Background(), ledger.NewKey{Name: "load", QuotaTokens: 1 << 40})
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	srv := exec.Command(os.Args[0], "-test.run=^$")
	srv.Env = append(os.Environ(), "MOXING_TEST_LEDGER_SERVER="+db)
	out, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Process.Kill()
	url, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	url = strings.TrimSpace(url)
	var completed atomic.Int64
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for n := 0; ; n++ {
				req, _ := http.NewRequest("POST", url+"/v1/completions", strings.NewReader(fmt.Sprintf(`{"model":"lm","prompt":"the %d","max_tokens":%d}`, n, 5+i)))
				req.Header.Set("Authorization", "Bearer "+secret)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return // the server is gone
				}
				var body struct {
					Usage *struct {
						TotalTokens int `json:"total_tokens"`
					}
				}
				raw, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode == 200 && json.Unmarshal(raw, &body) == nil && body.Usage != nil {
					completed.Add(1)
				}
			}
		})
	}
	time.Sleep(400 * time.Millisecond)
	srv.Process.Kill()
	srv.Wait()
	wg.Wait()

	store, err = ledger.Open(db)
	if err != nil {
		t.Fatalf("the ledger does not open after the kill: %v", err)
	}
	defer store.Close()
	recs, err := store.Records(context.Background(), ledger.Filter{KeyID: k.ID})
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, r := range recs {
		if r.Status != 200 || r.Model != "lm" || r.PromptTokens < 4 || r.CompletionTokens < 5 {
			t.Fatalf("a record not whole: %+v", r)
		}
		sum += r.PromptTokens + r.CompletionTokens
	}
	// What the key spent is what its records used (each settled in one
	// transaction), and what the dead server held comes back once it
	// expires (5 minutes' deadline and a minute's margin).
	before, err := store.Key(context.Background(), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	released, err := store.ReleaseExpired(context.Background(), time.Now().Add(6*time.Minute+time.Second))
	if err != nil {
		t.Fatal(err)
	}
	after, _ := store.Key(context.Background(), k.ID)
	if before.Spent != sum || after.Reserved != 0 || released != before.Reserved {
		t.Fatalf("spent %d, the records sum to %d; %d held at the kill, %d released, %d left", before.Spent, sum, before.Reserved, released, after.Reserved)
	}
	if int64(len(recs)) < completed.Load() || completed.Load() == 0 {
		t.Fatalf("%d records for %d responses received in full", len(recs), completed.Load())
	}
	t.Logf("killed after %d complete responses; the ledger holds %d records; %d tokens were held by requests under way, released", completed.Load(), len(recs), released)
}
