package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moxing/moxing/ledger"
)

// accounts is a Server's keys and ledger: who may call, how often and how
// much, and a record of every /v1 request.
type accounts struct {
	store *ledger.Store
	auth  bool           // every /v1 request needs a key
	hold  time.Duration  // how long a reservation may outlive its request's start
	stop  chan struct{}  // closed by Close: ends sweep
	swept sync.WaitGroup // sweep, running

	mu      sync.Mutex
	buckets map[string]*bucket // rate limits by key id
}

// sweep releases the reservations of requests that never settled (their
// server died) once they expire: now, then every minute until stop closes.
func (a *accounts) sweep(log *slog.Logger) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		if n, err := a.store.ReleaseExpired(context.Background(), time.Now()); err != nil {
			log.Error("ledger", "err", err.Error())
		} else if n > 0 {
			log.Warn("ledger: released the expired reservations of requests that never settled", "tokens", n)
		}
		select {
		case <-a.stop:
			return
		case <-tick.C:
		}
	}
}

// bucket is a token bucket of requests: it holds up to rate tokens (one
// second's worth, at least 1) and gains rate a second.
type bucket struct {
	tokens float64
	last   time.Time
}

// allow takes a request from k's bucket, or says how long until one is
// there.
func (a *accounts) allow(k *ledger.Key, now time.Time) (bool, time.Duration) {
	if k.Rate <= 0 {
		return true, 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	burst := math.Max(k.Rate, 1)
	b, ok := a.buckets[k.ID]
	if !ok {
		b = &bucket{tokens: burst, last: now}
		a.buckets[k.ID] = b
	}
	b.tokens = math.Min(burst, b.tokens+now.Sub(b.last).Seconds()*k.Rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / k.Rate * float64(time.Second))
}

// authenticate reads the request's bearer key, when the server asks for
// one: 401 without a key or with a wrong one, 403 for a revoked or expired
// one, 429 over its rate.
func (a *accounts) authenticate(r *http.Request, info *requestInfo) error {
	if !a.auth {
		return nil
	}
	secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || secret == "" {
		return &apiError{Status: http.StatusUnauthorized, Type: "invalid_request_error", Code: "invalid_api_key",
			Message: "no API key: send Authorization: Bearer KEY (moxing keys create makes one)"}
	}
	k, err := a.store.Authenticate(r.Context(), strings.TrimSpace(secret))
	switch {
	case errors.Is(err, ledger.ErrNoKey):
		return &apiError{Status: http.StatusUnauthorized, Type: "invalid_request_error", Code: "invalid_api_key", Message: "invalid API key"}
	case errors.Is(err, ledger.ErrRevoked), errors.Is(err, ledger.ErrExpired):
		return &apiError{Status: http.StatusForbidden, Type: "permission_error", Code: "invalid_api_key", Message: err.Error()}
	case err != nil:
		return err
	}
	info.key = k
	if ok, wait := a.allow(k, time.Now()); !ok {
		return &apiError{Status: http.StatusTooManyRequests, Type: "rate_limit_error", Code: "rate_limit_exceeded",
			Message: fmt.Sprintf("over this key's rate of %g requests a second", k.Rate), retryAfter: wait}
	}
	return nil
}

// reserve holds tokens of the request's key's quota before it generates:
// a request that could pass the quota is refused (429 insufficient_quota),
// never cut short.
func (a *accounts) reserve(ctx context.Context, info *requestInfo, tokens int64) error {
	if a == nil || info.key == nil || info.key.QuotaTokens == 0 {
		return nil
	}
	r, err := a.store.Reserve(ctx, info.key.ID, tokens, a.hold)
	if errors.Is(err, ledger.ErrQuota) {
		return &apiError{Status: http.StatusTooManyRequests, Type: "insufficient_quota", Code: "insufficient_quota",
			Message: fmt.Sprintf("this key's quota of %d tokens cannot cover the %d this request may use (its prompt and max_tokens)", info.key.QuotaTokens, tokens)}
	} else if err != nil {
		return err
	}
	info.reservation = r
	return nil
}

// settle appends the request's record to the ledger and settles its key's
// reservation; the first call counts, later ones do nothing.
func (a *accounts) settle(info *requestInfo, route string, status int, start time.Time) error {
	if info.settled {
		return nil
	}
	info.settled = true
	rec := ledger.Record{Time: start, Model: info.model, Route: route, PromptTokens: int64(info.promptTokens),
		CompletionTokens: int64(info.completionTokens), LatencyMS: time.Since(start).Milliseconds(), Status: status}
	if info.key != nil {
		rec.KeyID = info.key.ID
	}
	// Not the request's context: a client that left is still billed.
	return a.store.Settle(context.Background(), rec, info.reservation)
}

// retryAfter is the Retry-After header of an error: whole seconds, at
// least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}
