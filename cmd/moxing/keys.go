package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/moxing/moxing/ledger"
)

// keysCommands are moxing keys' subcommands.
var keysCommands = []command{
	{"create", "make an API key (shown once)", "Makes an API key for moxing serve --auth and prints it: only its hash is kept.",
		"  moxing keys create --name alice --quota-tokens 100000 --rate 5 --models go,gpt2 --expires 720h", keysCreateCommand, ""},
	{"list", "list the API keys, their quotas and what they spent", "Lists the keys (never their secrets).", "  moxing keys list", keysListCommand, ""},
	{"revoke", "revoke an API key by id or name", "Revokes a key: its requests get 403 from then on; its records stay.", "  moxing keys revoke alice", keysRevokeCommand, "ID|NAME"},
}

// dbFlag registers --db, the ledger's SQLite file.
func dbFlag(fs *pflag.FlagSet) *string {
	return fs.String("db", ledger.DefaultPath(), "the keys and usage database (SQLite), made on first use")
}

// withStore runs f with the ledger at path.
func withStore(path string, f func(*ledger.Store) error) error {
	s, err := ledger.Open(path)
	if err != nil {
		return err
	}
	defer s.Close()
	return f(s)
}

func keysCreateCommand(fs *pflag.FlagSet) runner {
	var n ledger.NewKey
	var expires time.Duration
	db := dbFlag(fs)
	fs.StringVar(&n.Name, "name", "", "who the key is for")
	fs.Int64Var(&n.QuotaTokens, "quota-tokens", 0, "tokens (prompt and completion) the key may spend in all (0: no limit)")
	fs.Float64Var(&n.Rate, "rate", 0, "requests a second (0: no limit)")
	fs.StringSliceVar(&n.Models, "models", nil, "models it may use, comma-separated (default: all)")
	fs.DurationVar(&expires, "expires", 0, "valid for this long (0: no end)")
	fs.BoolVar(&n.Admin, "admin", false, "may manage keys and read usage")
	return func(ctx context.Context, _ io.Reader, stdout, _ io.Writer) error {
		if n.Name == "" || n.QuotaTokens < 0 || n.Rate < 0 || expires < 0 {
			return usagef("--name is required, and --quota-tokens, --rate and --expires cannot be negative")
		}
		if expires > 0 {
			n.Expires = time.Now().Add(expires)
		}
		return withStore(*db, func(s *ledger.Store) error {
			k, secret, err := s.CreateKey(ctx, n)
			if err == nil {
				fmt.Fprintf(stdout, "%s\n(key %s for %s: shown once, keep it)\n", secret, k.ID, k.Name)
			}
			return err
		})
	}
}

func keysListCommand(fs *pflag.FlagSet) runner {
	db := dbFlag(fs)
	asJSON := fs.Bool("json", false, "print the keys as JSON")
	return func(ctx context.Context, _ io.Reader, stdout, _ io.Writer) error {
		return withStore(*db, func(s *ledger.Store) error {
			keys, err := s.Keys(ctx)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(stdout, keys)
			}
			for _, k := range keys {
				fmt.Fprintf(stdout, "%s  %-12s spent %d of %d (0: no quota)  rate %g/s  models %s  revoked %v\n", k.ID, k.Name, k.Spent,
					k.QuotaTokens, k.Rate, cmp.Or(strings.Join(k.Models, ","), "all"), k.Revoked)
			}
			return nil
		})
	}
}

func keysRevokeCommand(fs *pflag.FlagSet) runner {
	db := dbFlag(fs)
	return func(ctx context.Context, _ io.Reader, stdout, _ io.Writer) error {
		if fs.NArg() != 1 {
			return usagef("want one key id or name")
		}
		return withStore(*db, func(s *ledger.Store) error { return s.RevokeKey(ctx, fs.Arg(0)) })
	}
}

const usageSynopsis = "Prints the usage in the ledger of moxing serve --auth, totalled by day, key, model or route, as a\n" +
	"table or CSV (for billing)."

func usageCommand(fs *pflag.FlagSet) runner {
	db := dbFlag(fs)
	var f ledger.Filter
	var since, until, by string
	var asCSV bool
	fs.StringVar(&f.KeyID, "key", "", "only this key (id or name)")
	fs.StringVar(&since, "since", "", "from this day (2006-01-02, UTC)")
	fs.StringVar(&until, "until", "", "before this day")
	fs.StringVar(&by, "by", "key", "total by day, key, model or route")
	fs.BoolVar(&asCSV, "csv", false, "print CSV")
	return func(ctx context.Context, _ io.Reader, stdout, _ io.Writer) error {
		if by != "day" && by != "key" && by != "model" && by != "route" {
			return usagef("--by %q: want day, key, model or route", by)
		}
		for _, d := range []struct {
			flag, value string
			to          *time.Time
		}{{"since", since, &f.Since}, {"until", until, &f.Until}} {
			if t, err := time.Parse(time.DateOnly, d.value); err == nil {
				*d.to = t
			} else if d.value != "" {
				return usagef("--%s %q: want a day, 2006-01-02", d.flag, d.value)
			}
		}
		return withStore(*db, func(s *ledger.Store) error {
			totals, err := s.Usage(ctx, f, by)
			if err != nil {
				return err
			}
			return ledger.WriteTotals(stdout, by, totals, map[bool]rune{true: ',', false: '\t'}[asCSV])
		})
	}
}
