package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"path/filepath"

	"github.com/humanos/human/adapters"
	"github.com/humanos/human/adapters/postgres"
	"github.com/humanos/human/errs"
)

func init() {
	register(&command{
		name:    "migrate",
		summary: "apply the store schema migrations (PostgreSQL; SQLite migrates on open)",
		run:     runMigrate,
	})
}

const migrateUsage = `usage: human migrate [--check] [config flags]

Brings the schema of every configured store (--store, --ledger, or the
embedded SQLite default) to this binary's version. PostgreSQL migrations
run behind an advisory lock, so replicas and operators may run this at
once; connect as the role that owns the tables (not the application
role). A database newer than this binary is refused, never changed.

--check only reports: exit 0 if every schema is current, 1 if not.
`

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := configFlags(fs)
	check := fs.Bool("check", false, "only check that every schema is current (exit 1 if not)")
	if code, ok := parseFlags(fs, args, migrateUsage, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "human migrate: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if cfg.BaseURL != "" && cfg.Store == "" && cfg.Ledger == "" {
		fmt.Fprintln(stderr, "human migrate: a remote server (--base-url) migrates its own stores; nothing to do here")
		return exitOK
	}
	urls := []string{cfg.Store}
	if urls[0] == "" {
		dir := cfg.DataDir
		if dir == "" {
			dir = "human-data"
		}
		abs, err := filepath.Abs(filepath.Join(dir, "human.db"))
		if err != nil {
			fmt.Fprintf(stderr, "human migrate: data dir %q: %v\n", dir, err)
			return exitUsage
		}
		urls[0] = "sqlite://" + filepath.ToSlash(abs)
	}
	if cfg.Ledger != "" && cfg.Ledger != urls[0] {
		urls = append(urls, cfg.Ledger)
	}
	code := exitOK
	for _, raw := range urls {
		if c := migrateOne(ctx, raw, *check, stdout, stderr); c > code {
			code = c
		}
	}
	return code
}

// migrateOne migrates (or checks) the store at raw and reports on stdout.
func migrateOne(ctx context.Context, raw string, check bool, stdout, stderr io.Writer) int {
	u, err := url.Parse(raw)
	if err != nil {
		fmt.Fprintf(stderr, "human migrate: store URL: %v\n", err)
		return exitUsage
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		// Other built-in stores migrate when they are opened.
		st, err := adapters.Open(ctx, raw)
		if err != nil {
			fmt.Fprintf(stderr, "human migrate: %s: %v\n", u.Redacted(), err)
			return migrateExit(err)
		}
		if st.Close != nil {
			_ = st.Close()
		}
		fmt.Fprintf(stdout, "%s: schema current (%s migrates on open)\n", u.Redacted(), u.Scheme)
		return exitOK
	}
	cfg, opts, err := postgres.ParseURL(u)
	if err != nil {
		fmt.Fprintf(stderr, "human migrate: %v\n", err)
		return exitUsage
	}
	d, err := postgres.OpenConfig(ctx, cfg, &postgres.Options{Schema: opts.Schema, Migrate: postgres.MigrateNone})
	if err != nil {
		fmt.Fprintf(stderr, "human migrate: %s: %v\n", u.Redacted(), err)
		return migrateExit(err)
	}
	defer d.Close()
	if check {
		if err := d.CheckSchema(ctx); err != nil {
			fmt.Fprintf(stderr, "human migrate: %v\n", err)
			return migrateExit(err)
		}
		fmt.Fprintf(stdout, "%s: schema current (version %d)\n", u.Redacted(), postgres.SchemaVersion())
		return exitOK
	}
	var p *progress
	res, err := d.Migrate(ctx, func(done, total int) {
		if p == nil {
			p = newProgress(stderr, "migrating", int64(total))
		}
		p.Update(int64(done))
	})
	if p != nil {
		p.Done()
	}
	if err != nil {
		fmt.Fprintf(stderr, "human migrate: %v\n", err)
		return migrateExit(err)
	}
	fmt.Fprintf(stdout, "%s: schema %q at version %d (was %d; %d applied)\n", u.Redacted(), res.Schema, res.To, res.From, res.Applied)
	return exitOK
}

// migrateExit: a schema in the wrong state is a failed check (1); bad
// configuration is usage (2); an unreachable database is a failure (1).
func migrateExit(err error) int {
	if errors.Is(err, errs.ErrInvalidArgument) {
		return exitUsage
	}
	return exitCheck
}
