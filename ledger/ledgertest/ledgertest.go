// Package ledgertest gives tests a fresh ledger store on each database the
// ledger runs on: SQLite always, and PostgreSQL at the URL in
// MOXING_TEST_POSTGRES (scripts/postgres.sh starts one), each test in a
// schema of its own. Under CI=true a missing PostgreSQL fails the test.
package ledgertest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/moxing/moxing/ledger"
)

// Store is a fresh store on one database.
type Store struct {
	Name  string // "sqlite" or "postgres"
	Store *ledger.Store
}

// Stores returns a fresh store on each database; they close when t ends.
func Stores(t testing.TB) []Store {
	t.Helper()
	s, err := ledger.Open(filepath.Join(t.TempDir(), "moxing.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	stores := []Store{{"sqlite", s}}
	url := os.Getenv("MOXING_TEST_POSTGRES")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("MOXING_TEST_POSTGRES is not set: .ci/run starts PostgreSQL with scripts/postgres.sh and sets it")
		}
		t.Log("MOXING_TEST_POSTGRES is not set: PostgreSQL not tested (scripts/postgres.sh starts one)")
		return stores
	}
	return append(stores, Store{"postgres", postgres(t, url)})
}

// postgres opens a store in a new schema of the database at url, dropped
// when t ends.
func postgres(t testing.TB, url string) *ledger.Store {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "test_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		t.Fatalf("PostgreSQL at MOXING_TEST_POSTGRES: %v", err)
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	s, err := ledger.Open(url + sep + "search_path=" + schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	return s
}
