package ledger_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moxing/moxing/ledger"
	"github.com/moxing/moxing/ledger/ledgertest"
)

// eachStore runs test on a fresh store of each database (see ledgertest).
func eachStore(t *testing.T, test func(t *testing.T, s *ledger.Store)) {
	for _, st := range ledgertest.Stores(t) {
		t.Run(st.Name, func(t *testing.T) { test(t, st.Store) })
	}
}

// Open makes the SQLite file's folder.
func TestOpenMakesFolder(t *testing.T) {
	s, err := ledger.Open(filepath.Join(t.TempDir(), "sub", "moxing.db"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func TestKeys(t *testing.T) {
	eachStore(t, func(t *testing.T, s *ledger.Store) {
		ctx := context.Background()
		k, secret, err := s.CreateKey(ctx, ledger.NewKey{Name: "alice", QuotaTokens: 100, Models: []string{"go"}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Authenticate(ctx, secret)
		if err != nil || got.ID != k.ID || got.Name != "alice" || !got.Allows("go") || got.Allows("other") {
			t.Fatalf("authenticate: %+v, %v", got, err)
		}
		last := "A" // a last character the secret does not end with
		if strings.HasSuffix(secret, last) {
			last = "B"
		}
		for _, wrong := range []string{"", "Bearer x", secret[:len(secret)-1] + last, "mx-" + k.ID + "-", "mx-000000000000-abc", strings.ToUpper(secret)} {
			if _, err := s.Authenticate(ctx, wrong); !errors.Is(err, ledger.ErrNoKey) {
				t.Errorf("authenticate %q: %v, want ErrNoKey", wrong, err)
			}
		}
		_, old, _ := s.CreateKey(ctx, ledger.NewKey{Name: "old", Expires: time.Now().Add(-time.Hour)})
		if _, err := s.Authenticate(ctx, old); !errors.Is(err, ledger.ErrExpired) {
			t.Errorf("an expired key: %v", err)
		}
		if err := s.RevokeKey(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, secret); !errors.Is(err, ledger.ErrRevoked) {
			t.Errorf("a revoked key: %v", err)
		}
		if err := s.RevokeKey(ctx, "nobody"); !errors.Is(err, ledger.ErrNoKey) {
			t.Errorf("revoking no key: %v", err)
		}
		keys, err := s.Keys(ctx)
		if err != nil || len(keys) != 2 || !keys[0].Revoked && !keys[1].Revoked {
			t.Fatalf("keys: %+v %v", keys, err)
		}
		if _, _, err := s.CreateKey(ctx, ledger.NewKey{Name: " "}); err == nil {
			t.Error("a key without a name")
		}
	})
}

// Requests of one key, concurrently, never spend more than its quota: each
// reserves its most before generating and settles what it used.
func TestQuotaUnderConcurrency(t *testing.T) {
	eachStore(t, func(t *testing.T, s *ledger.Store) {
		ctx := context.Background()
		const quota = 1000
		k, _, err := s.CreateKey(ctx, ledger.NewKey{Name: "bob", QuotaTokens: quota})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		served, refused := 0, 0
		for i := range 64 {
			wg.Go(func() {
				r, err := s.Reserve(ctx, k.ID, 100, time.Minute)
				if errors.Is(err, ledger.ErrQuota) {
					mu.Lock()
					refused++
					mu.Unlock()
					return
				} else if err != nil {
					t.Error(err)
					return
				}
				rec := ledger.Record{Time: time.Now(), KeyID: k.ID, Model: "m", Route: "/v1/completions", PromptTokens: 10, CompletionTokens: int64(40 + i%50), Status: 200}
				if err := s.Settle(ctx, rec, r); err != nil {
					t.Error(err)
				}
				mu.Lock()
				served++
				mu.Unlock()
			})
		}
		wg.Wait()
		got, err := s.Key(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		recs, _ := s.Records(ctx, ledger.Filter{KeyID: k.ID})
		var sum int64
		for _, r := range recs {
			sum += r.PromptTokens + r.CompletionTokens
		}
		if got.Spent > quota || got.Reserved != 0 || sum != got.Spent || len(recs) != served || served+refused != 64 || refused == 0 {
			t.Fatalf("spent %d of %d (reserved %d), ledger sum %d over %d records; %d served, %d refused", got.Spent, quota, got.Reserved, sum, len(recs), served, refused)
		}
	})
}

// A reservation its server never settled (it died) is given back once it
// expires, and settling it late does not give it back twice.
func TestReleaseExpired(t *testing.T) {
	eachStore(t, func(t *testing.T, s *ledger.Store) {
		ctx := context.Background()
		k, _, err := s.CreateKey(ctx, ledger.NewKey{Name: "carol", QuotaTokens: 1000})
		if err != nil {
			t.Fatal(err)
		}
		held := func() int64 {
			t.Helper()
			got, err := s.Key(ctx, k.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got.Reserved
		}
		lost, err := s.Reserve(ctx, k.ID, 600, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		live, err := s.Reserve(ctx, k.ID, 300, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Reserve(ctx, k.ID, 200, time.Hour); !errors.Is(err, ledger.ErrQuota) {
			t.Fatalf("600 + 300 + 200 held of 1000: %v", err)
		}
		if n, err := s.ReleaseExpired(ctx, time.Now()); n != 0 || err != nil || held() != 900 {
			t.Fatalf("nothing expired yet: released %d, %v; held %d", n, err, held())
		}
		if n, err := s.ReleaseExpired(ctx, time.Now().Add(2*time.Minute)); n != 600 || err != nil || held() != 300 {
			t.Fatalf("the lost reservation expired: released %d, %v; held %d", n, err, held())
		}
		rec := ledger.Record{Time: time.Now(), KeyID: k.ID, Model: "m", Route: "/v1/completions", PromptTokens: 5, CompletionTokens: 5, Status: 200}
		if err := s.Settle(ctx, rec, lost); err != nil || held() != 300 {
			t.Fatalf("settling the released reservation: %v; held %d", err, held())
		}
		if err := s.Settle(ctx, rec, live); err != nil || held() != 0 {
			t.Fatalf("settling the live one: %v; held %d", err, held())
		}
		if got, _ := s.Key(ctx, k.ID); got.Spent != 20 {
			t.Fatalf("spent %d, want 20", got.Spent)
		}
	})
}

func TestRecordsFilter(t *testing.T) {
	eachStore(t, func(t *testing.T, s *ledger.Store) {
		ctx := context.Background()
		day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		for i, key := range []string{"a", "b", "a"} {
			if err := s.Settle(ctx, ledger.Record{Time: day.Add(time.Duration(i) * 24 * time.Hour), KeyID: key, Model: "m", Route: "/v1/chat/completions", PromptTokens: 1, Status: 200}, nil); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			f    ledger.Filter
			want int
		}{
			{ledger.Filter{}, 3},
			{ledger.Filter{KeyID: "a"}, 2},
			{ledger.Filter{Since: day.Add(24 * time.Hour)}, 2},
			{ledger.Filter{Until: day.Add(24 * time.Hour)}, 1},
			{ledger.Filter{KeyID: "a", Since: day.Add(time.Hour), Until: day.Add(72 * time.Hour)}, 1},
		} {
			recs, err := s.Records(ctx, tc.f)
			if err != nil || len(recs) != tc.want {
				t.Errorf("%+v: %d records (%v), want %d", tc.f, len(recs), err, tc.want)
			}
		}
	})
}

func TestTotals(t *testing.T) {
	day := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	recs := []ledger.Record{
		{Time: day, KeyID: "a1", Model: "go", PromptTokens: 5, CompletionTokens: 7},
		{Time: day.Add(20 * time.Hour), KeyID: "b2", Model: "go", PromptTokens: 1, CompletionTokens: 2},
		{Time: day.Add(time.Hour), KeyID: "a1", Model: "gpt2", PromptTokens: 3},
	}
	byKey, err := ledger.Totals(recs, "key", map[string]string{"a1": "alice"})
	if err != nil || len(byKey) != 2 || byKey[0] != (ledger.Total{Group: "alice", Requests: 2, PromptTokens: 8, CompletionTokens: 7}) || byKey[1].Group != "b2" {
		t.Fatalf("by key: %+v %v", byKey, err)
	}
	byDay, _ := ledger.Totals(recs, "day", nil)
	if len(byDay) != 2 || byDay[0].Group != "2026-12-01" || byDay[0].Requests != 2 || byDay[1].Group != "2026-12-02" {
		t.Fatalf("by day: %+v", byDay)
	}
	if _, err := ledger.Totals(recs, "week", nil); err == nil {
		t.Fatal("totals by week: no error")
	}
}
