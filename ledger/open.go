package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

// Open opens (creating it if needed) the SQLite database at path, in WAL
// mode, with the keys and ledger tables. A commit is durable against a
// crash of the process (kill -9), not against a power cut (synchronous
// NORMAL, the usual WAL setting): fsyncing every request's record would
// cost more than the request.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("ledger: %s: %w", path, err)
	}
	// One connection: SQLite has one writer at a time anyway, and a single
	// connection makes each statement's view and lock simple.
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(context.Background(), schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger: %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil { // key hashes and usage: the owner's alone
		db.Close()
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return &Store{db: db}, nil
}
