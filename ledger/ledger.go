// Package ledger holds a model server's API keys and its usage ledger: who
// may call which models, how many tokens each key may still spend, and one
// record per request, appended before the response completes. The store
// is a SQL database: an embedded SQLite file by default (modernc.org/sqlite,
// pure Go), in WAL mode, or PostgreSQL (github.com/jackc/pgx) for several
// servers sharing one ledger; the schema and the statements are the same.
//
// A key is shown once, when it is made: the store keeps its id, a salt and
// the SHA-256 of the salted secret, and checks a presented key by hashing
// it and comparing in constant time. Quotas are enforced by reservation:
// a request reserves the most tokens it may use before it generates
// (Reserve), and settles to what it used when it ends (Settle), in one
// transaction with its ledger record, so that concurrent requests of one
// key never spend more than its quota.
package ledger

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Errors of Authenticate and Reserve.
var (
	ErrNoKey   = errors.New("no such API key")
	ErrRevoked = errors.New("the API key was revoked")
	ErrExpired = errors.New("the API key has expired")
	ErrQuota   = errors.New("the API key's token quota is spent")
)

// Key is an API key's record: never its secret.
type Key struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	QuotaTokens int64     `json:"quota_tokens"` // 0: unlimited
	Spent       int64     `json:"spent_tokens"`
	Reserved    int64     `json:"reserved_tokens"` // held by requests under way
	Rate        float64   `json:"rate"`            // requests a second; 0: unlimited
	Models      []string  `json:"models"`          // the models it may use; empty: all
	Admin       bool      `json:"admin"`           // may manage keys and read usage
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires,omitzero"` // zero: never
	Revoked     bool      `json:"revoked"`
}

// Allows reports whether k may use model.
func (k *Key) Allows(model string) bool {
	return len(k.Models) == 0 || slices.Contains(k.Models, model)
}

// Record is one request in the ledger.
type Record struct {
	Time             time.Time `json:"time"`
	KeyID            string    `json:"key"` // "" without a key
	Model            string    `json:"model"`
	Route            string    `json:"route"`
	PromptTokens     int64     `json:"prompt_tokens"`
	CompletionTokens int64     `json:"completion_tokens"`
	LatencyMS        int64     `json:"latency_ms"`
	Status           int       `json:"status"`
}

// Store is the keys and the ledger in a database. It is safe for
// concurrent use.
type Store struct {
	db       *sql.DB
	postgres bool // placeholders $1, $2, … instead of ?
}

// q rebinds a query written with ? placeholders for the store's database.
func (s *Store) q(query string) string {
	if !s.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// b2i stores a bool as the 0 or 1 both databases keep.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// schema is the tables, in SQLite's dialect; schemaPostgres is the same in
// PostgreSQL's.
const schema = `
CREATE TABLE IF NOT EXISTS keys (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	salt BLOB NOT NULL,
	hash BLOB NOT NULL,
	quota_tokens INTEGER NOT NULL DEFAULT 0,
	spent_tokens INTEGER NOT NULL DEFAULT 0,
	reserved_tokens INTEGER NOT NULL DEFAULT 0,
	rate REAL NOT NULL DEFAULT 0,
	models TEXT NOT NULL DEFAULT '',
	admin INTEGER NOT NULL DEFAULT 0,
	created INTEGER NOT NULL,
	expires INTEGER NOT NULL DEFAULT 0,
	revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS usage (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	time INTEGER NOT NULL,
	key_id TEXT NOT NULL,
	model TEXT NOT NULL,
	route TEXT NOT NULL,
	prompt_tokens INTEGER NOT NULL,
	completion_tokens INTEGER NOT NULL,
	latency_ms INTEGER NOT NULL,
	status INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_time ON usage (time);
CREATE TABLE IF NOT EXISTS reservations (
	id TEXT PRIMARY KEY,
	key_id TEXT NOT NULL,
	tokens INTEGER NOT NULL,
	expires INTEGER NOT NULL
);
`

const schemaPostgres = `
CREATE TABLE IF NOT EXISTS keys (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	salt BYTEA NOT NULL,
	hash BYTEA NOT NULL,
	quota_tokens BIGINT NOT NULL DEFAULT 0,
	spent_tokens BIGINT NOT NULL DEFAULT 0,
	reserved_tokens BIGINT NOT NULL DEFAULT 0,
	rate DOUBLE PRECISION NOT NULL DEFAULT 0,
	models TEXT NOT NULL DEFAULT '',
	admin INTEGER NOT NULL DEFAULT 0,
	created BIGINT NOT NULL,
	expires BIGINT NOT NULL DEFAULT 0,
	revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS usage (
	id BIGSERIAL PRIMARY KEY,
	time BIGINT NOT NULL,
	key_id TEXT NOT NULL,
	model TEXT NOT NULL,
	route TEXT NOT NULL,
	prompt_tokens BIGINT NOT NULL,
	completion_tokens BIGINT NOT NULL,
	latency_ms BIGINT NOT NULL,
	status INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_time ON usage (time);
CREATE TABLE IF NOT EXISTS reservations (
	id TEXT PRIMARY KEY,
	key_id TEXT NOT NULL,
	tokens BIGINT NOT NULL,
	expires BIGINT NOT NULL
);
`

// NewKey is what CreateKey makes a key with.
type NewKey struct {
	Name        string
	QuotaTokens int64
	Rate        float64
	Models      []string
	Admin       bool
	Expires     time.Time // zero: never
}

// secretPrefix starts every key: "mx-<id>-<secret>".
const secretPrefix = "mx-"

// CreateKey makes a key and returns its record and its secret, which is
// shown only now.
func (s *Store) CreateKey(ctx context.Context, n NewKey) (*Key, string, error) {
	if strings.TrimSpace(n.Name) == "" {
		return nil, "", errors.New("ledger: a key needs a name")
	}
	if n.QuotaTokens < 0 || n.Rate < 0 {
		return nil, "", errors.New("ledger: a negative quota or rate")
	}
	idb, secretb, salt := make([]byte, 6), make([]byte, 24), make([]byte, 16)
	for _, b := range [][]byte{idb, secretb, salt} {
		rand.Read(b)
	}
	id := hex.EncodeToString(idb)
	secret := secretPrefix + id + "-" + base64.RawURLEncoding.EncodeToString(secretb)
	k := &Key{ID: id, Name: n.Name, QuotaTokens: n.QuotaTokens, Rate: n.Rate, Models: n.Models, Admin: n.Admin,
		Created: time.Now().UTC().Truncate(time.Second), Expires: n.Expires}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO keys (id, name, salt, hash, quota_tokens, rate, models, admin, created, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		id, n.Name, salt, hashSecret(salt, secret), n.QuotaTokens, n.Rate, strings.Join(n.Models, ","), b2i(n.Admin), k.Created.Unix(), unix(n.Expires))
	if err != nil {
		return nil, "", fmt.Errorf("ledger: create key: %w", err)
	}
	return k, secret, nil
}

func hashSecret(salt []byte, secret string) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(secret))
	return h.Sum(nil)
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// Authenticate returns the key whose secret this is. A malformed secret
// and a wrong one are both ErrNoKey; the check hashes the secret and
// compares hashes in constant time, so its time does not depend on how much
// of a wrong secret matches.
func (s *Store) Authenticate(ctx context.Context, secret string) (*Key, error) {
	rest, ok := strings.CutPrefix(secret, secretPrefix)
	id, _, ok2 := strings.Cut(rest, "-")
	if !ok || !ok2 || len(id) != 12 {
		return nil, ErrNoKey
	}
	var salt, hash []byte
	k, err := s.key(ctx, id, &salt, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		hashSecret(make([]byte, 16), secret) // the same work as for a known id
		return nil, ErrNoKey
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(hashSecret(salt, secret), hash) != 1 {
		return nil, ErrNoKey
	}
	switch {
	case k.Revoked:
		return k, ErrRevoked
	case !k.Expires.IsZero() && time.Now().After(k.Expires):
		return k, ErrExpired
	}
	return k, nil
}

// Key returns the key with this id, or ErrNoKey.
func (s *Store) Key(ctx context.Context, id string) (*Key, error) {
	var salt, hash []byte
	k, err := s.key(ctx, id, &salt, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoKey
	}
	return k, err
}

const keyColumns = `id, name, salt, hash, quota_tokens, spent_tokens, reserved_tokens, rate, models, admin, created, expires, revoked`

func (s *Store) key(ctx context.Context, id string, salt, hash *[]byte) (*Key, error) {
	return scanKey(s.db.QueryRowContext(ctx, s.q(`SELECT `+keyColumns+` FROM keys WHERE id = ?`), id), salt, hash)
}

func scanKey(row interface{ Scan(...any) error }, salt, hash *[]byte) (*Key, error) {
	var k Key
	var models string
	var created, expires int64
	if err := row.Scan(&k.ID, &k.Name, salt, hash, &k.QuotaTokens, &k.Spent, &k.Reserved, &k.Rate, &models, &k.Admin, &created, &expires, &k.Revoked); err != nil {
		return nil, err
	}
	if models != "" {
		k.Models = strings.Split(models, ",")
	}
	k.Created = time.Unix(created, 0).UTC()
	if expires != 0 {
		k.Expires = time.Unix(expires, 0).UTC()
	}
	return &k, nil
}

// Keys returns every key, oldest first.
func (s *Store) Keys(ctx context.Context) ([]*Key, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+keyColumns+` FROM keys ORDER BY created, id`)
	if err != nil {
		return nil, fmt.Errorf("ledger: keys: %w", err)
	}
	defer rows.Close()
	var keys []*Key
	for rows.Next() {
		var salt, hash []byte
		k, err := scanKey(rows, &salt, &hash)
		if err != nil {
			return nil, fmt.Errorf("ledger: keys: %w", err)
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// RevokeKey revokes the key with this id (or name); a revoked key stays
// in the ledger's records.
func (s *Store) RevokeKey(ctx context.Context, idOrName string) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE keys SET revoked = 1 WHERE id = ? OR name = ?`), idOrName, idOrName)
	if err != nil {
		return fmt.Errorf("ledger: revoke: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("ledger: revoke %q: %w", idOrName, ErrNoKey)
	}
	return nil
}

// Reservation is tokens of a key's quota held for one request until it
// settles, or until Expires, when ReleaseExpired gives them back (the
// server that held them died).
type Reservation struct {
	ID      string
	KeyID   string
	Tokens  int64
	Expires time.Time
}

// Reserve holds tokens of the key's quota for a request about to generate,
// for at most ttl: it fails with ErrQuota, holding nothing, when what is
// spent and held already plus tokens would pass the quota.
func (s *Store) Reserve(ctx context.Context, keyID string, tokens int64, ttl time.Duration) (*Reservation, error) {
	idb := make([]byte, 12)
	rand.Read(idb)
	r := &Reservation{ID: hex.EncodeToString(idb), KeyID: keyID, Tokens: tokens, Expires: time.Now().Add(ttl)}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("ledger: reserve: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.q(`UPDATE keys SET reserved_tokens = reserved_tokens + ?
		WHERE id = ? AND (quota_tokens = 0 OR spent_tokens + reserved_tokens + ? <= quota_tokens)`), tokens, keyID, tokens)
	if err != nil {
		return nil, fmt.Errorf("ledger: reserve: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, ErrQuota
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO reservations (id, key_id, tokens, expires) VALUES (?, ?, ?, ?)`),
		r.ID, keyID, tokens, r.Expires.UnixMilli()); err != nil {
		return nil, fmt.Errorf("ledger: reserve: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("ledger: reserve: %w", err)
	}
	return r, nil
}

// Settle appends rec to the ledger and, for its key, spends the tokens rec
// used and releases the reservation r (nil for none), in one transaction:
// a crash leaves both or neither. A reservation ReleaseExpired already gave
// back is not released twice.
func (s *Store) Settle(ctx context.Context, rec Record, r *Reservation) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ledger: settle: %w", err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO usage (time, key_id, model, route, prompt_tokens, completion_tokens, latency_ms, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		rec.Time.UnixMilli(), rec.KeyID, rec.Model, rec.Route, rec.PromptTokens, rec.CompletionTokens, rec.LatencyMS, rec.Status)
	if err != nil {
		return fmt.Errorf("ledger: settle: %w", err)
	}
	var held int64
	if r != nil {
		// The row goes to whichever of Settle and ReleaseExpired deletes it.
		err := tx.QueryRowContext(ctx, s.q(`DELETE FROM reservations WHERE id = ? RETURNING tokens`), r.ID).Scan(&held)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("ledger: settle: %w", err)
		}
	}
	if rec.KeyID != "" {
		_, err = tx.ExecContext(ctx, s.q(`UPDATE keys SET reserved_tokens = CASE WHEN reserved_tokens > ? THEN reserved_tokens - ? ELSE 0 END,
			spent_tokens = spent_tokens + ? WHERE id = ?`), held, held, rec.PromptTokens+rec.CompletionTokens, rec.KeyID)
		if err != nil {
			return fmt.Errorf("ledger: settle: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ledger: settle: %w", err)
	}
	return nil
}

// ReleaseExpired gives back the reservations that expired before now: those
// of requests whose server died before settling them. It returns the tokens
// released. Servers sharing the store may all call it.
func (s *Store) ReleaseExpired(ctx context.Context, now time.Time) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("ledger: release: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, s.q(`DELETE FROM reservations WHERE expires < ? RETURNING key_id, tokens`), now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("ledger: release: %w", err)
	}
	held := map[string]int64{}
	for rows.Next() {
		var key string
		var tokens int64
		if err := rows.Scan(&key, &tokens); err != nil {
			rows.Close()
			return 0, fmt.Errorf("ledger: release: %w", err)
		}
		held[key] += tokens
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("ledger: release: %w", err)
	}
	var total int64
	for key, tokens := range held {
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE keys SET reserved_tokens = CASE WHEN reserved_tokens > ? THEN reserved_tokens - ? ELSE 0 END WHERE id = ?`),
			tokens, tokens, key); err != nil {
			return 0, fmt.Errorf("ledger: release: %w", err)
		}
		total += tokens
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("ledger: release: %w", err)
	}
	return total, nil
}

// Filter selects ledger records: by key (id), and from Since (inclusive)
// until Until (exclusive); zero values select all.
type Filter struct {
	KeyID        string
	Since, Until time.Time
}

// Records returns the ledger's records that f selects, oldest first.
func (s *Store) Records(ctx context.Context, f Filter) ([]Record, error) {
	q := `SELECT time, key_id, model, route, prompt_tokens, completion_tokens, latency_ms, status FROM usage WHERE 1 = 1`
	var args []any
	if f.KeyID != "" {
		q += ` AND key_id = ?`
		args = append(args, f.KeyID)
	}
	if !f.Since.IsZero() {
		q += ` AND time >= ?`
		args = append(args, f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		q += ` AND time < ?`
		args = append(args, f.Until.UnixMilli())
	}
	rows, err := s.db.QueryContext(ctx, s.q(q+` ORDER BY id`), args...)
	if err != nil {
		return nil, fmt.Errorf("ledger: records: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var r Record
		var ms int64
		if err := rows.Scan(&ms, &r.KeyID, &r.Model, &r.Route, &r.PromptTokens, &r.CompletionTokens, &r.LatencyMS, &r.Status); err != nil {
			return nil, fmt.Errorf("ledger: records: %w", err)
		}
		r.Time = time.UnixMilli(ms).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Total is the usage of one group of records.
type Total struct {
	Group            string `json:"group"`
	Requests         int    `json:"requests"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
}

// WriteTotals writes totals grouped by by as a table with a header row:
// CSV when comma is ',', tab-separated when '\t'.
func WriteTotals(w io.Writer, by string, totals []Total, comma rune) error {
	cw := csv.NewWriter(w)
	cw.Comma = comma
	cw.Write([]string{by, "requests", "prompt_tokens", "completion_tokens", "total_tokens"})
	for _, t := range totals {
		cw.Write([]string{t.Group, fmt.Sprint(t.Requests), fmt.Sprint(t.PromptTokens), fmt.Sprint(t.CompletionTokens), fmt.Sprint(t.PromptTokens + t.CompletionTokens)})
	}
	cw.Flush()
	return cw.Error()
}

// Totals sums records by "day" (UTC, 2006-01-02), "key" (named by names,
// id → name, where it has the id), "model" or "route", in the order of
// their groups.
func Totals(records []Record, by string, names map[string]string) ([]Total, error) {
	group := map[string]func(Record) string{
		"day":   func(r Record) string { return r.Time.UTC().Format(time.DateOnly) },
		"key":   func(r Record) string { return cmp.Or(names[r.KeyID], r.KeyID, "(no key)") },
		"model": func(r Record) string { return r.Model },
		"route": func(r Record) string { return r.Route },
	}[by]
	if group == nil {
		return nil, fmt.Errorf("ledger: totals by %q: want day, key, model or route", by)
	}
	at := map[string]int{}
	var out []Total
	for _, r := range records {
		g := group(r)
		i, ok := at[g]
		if !ok {
			i, at[g] = len(out), len(out)
			out = append(out, Total{Group: g})
		}
		out[i].Requests++
		out[i].PromptTokens += r.PromptTokens
		out[i].CompletionTokens += r.CompletionTokens
	}
	slices.SortFunc(out, func(a, b Total) int { return strings.Compare(a.Group, b.Group) })
	return out, nil
}

// Usage is the ledger's totals by "day", "key", "model" or "route" (see
// Totals) over the records f selects; f.KeyID may also be a key's name.
// Keys are named by their names.
func (s *Store) Usage(ctx context.Context, f Filter, by string) ([]Total, error) {
	keys, err := s.Keys(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, k := range keys {
		names[k.ID] = k.Name
		if f.KeyID == k.Name {
			f.KeyID = k.ID
		}
	}
	recs, err := s.Records(ctx, f)
	if err != nil {
		return nil, err
	}
	return Totals(recs, by, names)
}
