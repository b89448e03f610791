package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver, pure Go
)

// Open opens the store at dsn: a PostgreSQL URL (postgres://…), or else
// the path of an SQLite file, created if needed, in WAL mode. The keys and
// ledger tables are made if missing. With SQLite, a commit is durable
// against a crash of the process (kill -9), not against a power cut
// (synchronous NORMAL, the usual WAL setting): fsyncing every request's
// record would cost more than the request.
func Open(dsn string) (*Store, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return openPostgres(dsn)
	}
	path := dsn
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	dsn = "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"
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

// openPostgres opens the PostgreSQL database at url. Its commits are
// durable (PostgreSQL's default synchronous_commit).
func openPostgres(url string) (*Store, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	db.SetMaxOpenConns(16)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, schemaPostgres); err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger: postgres: %w", err) // the error names the host, never the password
	}
	return &Store{db: db, postgres: true}, nil
}

// DefaultPath is where the CLI keeps the ledger by default:
// $XDG_DATA_HOME/moxing/moxing.db, or ~/.local/share/moxing/moxing.db.
func DefaultPath() string {
	dir := os.Getenv("XDG_DATA_HOME")
	if home, err := os.UserHomeDir(); dir == "" && err == nil {
		dir = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dir, "moxing", "moxing.db")
}
