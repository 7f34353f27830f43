package postgres

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/humanos/human/adapters"
	"github.com/humanos/human/errs"
)

// Migrate modes for [Options].Migrate.
const (
	// MigrateApply migrates the schema to this binary's version at Open.
	MigrateApply = "apply"
	// MigrateCheck refuses a schema that is not at this binary's version.
	MigrateCheck = "check"
	// MigrateNone neither migrates nor checks: for tools that call
	// [DB.Migrate] or [DB.CheckSchema] themselves. Not accepted in URLs.
	MigrateNone = "none"
)

// DefaultMaxRetries is how often a transaction that failed with a
// serialization failure or a deadlock is retried before the error surfaces.
const DefaultMaxRetries = 8

// Options tune Open. The zero value (or nil) gives the defaults.
type Options struct {
	// Schema is the schema holding HUMAN's tables; empty means the first
	// schema of the connection's search_path (usually "public"). Every
	// transaction sets search_path to it, so the pool needs no setup.
	Schema string
	// Migrate is MigrateApply (the default when empty), MigrateCheck or
	// MigrateNone.
	Migrate string
	// MaxRetries bounds the retries of a transaction that lost to a
	// serialization failure or a deadlock; 0 means DefaultMaxRetries, a
	// negative value no retry.
	MaxRetries int
}

// DB is an open HUMAN schema in PostgreSQL, shared by the stores of this
// package. It is safe for concurrent use.
type DB struct {
	pool     *pgxpool.Pool
	ownsPool bool
	schema   string
	// prefix qualifies table names: `"schema".` or empty (search_path).
	prefix   string
	sqlCache sync.Map // query with {S}. -> query with prefix
	retries  int
}

// setup starts every transaction: it sets human.org, which row-level
// security reads, for this transaction only (SET LOCAL).
const setup = `SELECT set_config('human.org', $1, true)`

// Open returns the HUMAN stores over pool, migrating or checking the schema
// as opts says. The pool stays the caller's: Close does not close it.
// A schema newer than this binary is errs.ErrFailedPrecondition; so is an
// older one with MigrateCheck.
func Open(ctx context.Context, pool *pgxpool.Pool, opts *Options) (*DB, error) {
	if pool == nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "postgres: nil pool")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	d := &DB{pool: pool, schema: o.Schema, retries: o.MaxRetries}
	if d.retries == 0 {
		d.retries = DefaultMaxRetries
	} else if d.retries < 0 {
		d.retries = 0
	}
	if d.schema != "" {
		d.prefix = pgx.Identifier{d.schema}.Sanitize() + "."
	}
	switch o.Migrate {
	case "", MigrateApply:
		if _, err := d.Migrate(ctx, nil); err != nil {
			return nil, err
		}
	case MigrateCheck:
		if err := d.CheckSchema(ctx); err != nil {
			return nil, err
		}
	case MigrateNone:
	default:
		return nil, errs.Errorf(errs.ErrInvalidArgument, "postgres: migrate mode %q (want %q, %q or %q)", o.Migrate, MigrateApply, MigrateCheck, MigrateNone)
	}
	return d, nil
}

// Pool is the connection pool the stores use.
func (d *DB) Pool() *pgxpool.Pool { return d.pool }

// Close releases the pool if this package opened it (from a URL); a pool
// passed to Open stays open.
func (d *DB) Close() error {
	if d.ownsPool {
		d.pool.Close()
	}
	return nil
}

// Stores returns every store of this package over d.
func (d *DB) Stores() *adapters.Stores {
	return &adapters.Stores{
		Passports: NewPassportStore(d),
		Ledger:    NewLedgerStore(d),
		Graph:     NewGraphStore(d),
		Policies:  NewPolicyStore(d),
		Budgets:   NewBudgetStore(d),
		Tasks:     NewQueueStore(d),
		Close:     d.Close,
	}
}

// sql qualifies the table names of q, written "{S}.table", with d's
// schema. Qualified names (rather than a search_path) keep every statement
// independent of session state, prepared statements included.
func (d *DB) sql(q string) string {
	if v, ok := d.sqlCache.Load(q); ok {
		return v.(string)
	}
	r := strings.ReplaceAll(q, "{S}.", d.prefix)
	d.sqlCache.Store(q, r)
	return r
}

// txn is a transaction of d whose statements get d's schema (see sql).
type txn struct {
	tx pgx.Tx
	d  *DB
}

func (t txn) Exec(ctx context.Context, q string, args ...any) (pgconn.CommandTag, error) {
	return t.tx.Exec(ctx, t.d.sql(q), args...)
}

func (t txn) Query(ctx context.Context, q string, args ...any) (pgx.Rows, error) {
	return t.tx.Query(ctx, t.d.sql(q), args...)
}

func (t txn) QueryRow(ctx context.Context, q string, args ...any) pgx.Row {
	return t.tx.QueryRow(ctx, t.d.sql(q), args...)
}

// Batch sends the statements qs (with their args) in one round trip.
func (t txn) Batch(ctx context.Context, qs []string, args [][]any) error {
	var b pgx.Batch
	for i, q := range qs {
		b.Queue(t.d.sql(q), args[i]...)
	}
	return t.tx.SendBatch(ctx, &b).Close()
}

// tx runs fn in one read-write transaction scoped to org (row-level
// security), committing if fn returns nil. A serialization failure or a
// deadlock reruns the whole transaction, at most d.retries times. Errors
// come back mapped to the errs vocabulary.
func (d *DB) tx(ctx context.Context, org string, fn func(txn) error) error {
	if err := ctx.Err(); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "postgres: %w", err)
	}
	for attempt := 0; ; attempt++ {
		err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, setup, org); err != nil {
				return err
			}
			return fn(txn{tx: tx, d: d})
		})
		if err == nil {
			return nil
		}
		if !retryable(err) || attempt >= d.retries || ctx.Err() != nil {
			return mapErr(ctx, err)
		}
		// Jittered backoff so that losers of one race do not collide again.
		wait := time.Duration(1+rand.IntN(1<<min(attempt, 6))) * time.Millisecond
		select {
		case <-ctx.Done():
			return errs.Errorf(errs.ErrUnavailable, "postgres: %w", ctx.Err())
		case <-time.After(wait):
		}
	}
}

// read runs one query scoped to org in a single round trip: the setup and
// the query travel in one pipeline, which PostgreSQL runs as one implicit
// transaction, so the LOCAL settings hold for the query and end with it.
// scan is called once per row.
func (d *DB) read(ctx context.Context, org, query string, args []any, scan func(pgx.Rows) error) error {
	return d.readWith(ctx, setup, org, query, args, scan)
}

// setupCustomPlan is setup for queries whose best plan depends on their
// arguments (recursive walks): it also makes PostgreSQL plan each
// execution for its arguments instead of reusing a generic plan.
const setupCustomPlan = `SELECT set_config('human.org', $1, true), set_config('plan_cache_mode', 'force_custom_plan', true)`

func (d *DB) readWith(ctx context.Context, setup, org, query string, args []any, scan func(pgx.Rows) error) error {
	if err := ctx.Err(); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "postgres: %w", err)
	}
	var b pgx.Batch
	b.Queue(setup, org)
	b.Queue(d.sql(query), args...)
	br := d.pool.SendBatch(ctx, &b)
	err := func() error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return mapErr(ctx, err)
}

// retryable reports whether err is a transient conflict that rerunning the
// transaction resolves: serialization_failure or deadlock_detected.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// mapErr maps a PostgreSQL or pgx error onto the errs vocabulary, once,
// here. Errors that already carry a kind pass through unchanged.
func mapErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if errs.Kind(err) != nil {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return errs.Errorf(errs.ErrNotFound, "postgres: %w", err)
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return errs.Errorf(errs.ErrUnavailable, "postgres: %w (%w)", cerr, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505" || pe.Code == "23P01": // unique_violation, exclusion_violation
			return errs.Errorf(errs.ErrConflict, "postgres: %w", err)
		case pe.Code == "23503": // foreign_key_violation
			return errs.Errorf(errs.ErrNotFound, "postgres: %w", err)
		case pe.Code == "23502" || pe.Code == "23514" || pe.Code[:2] == "22": // not null, check, data exception
			return errs.Errorf(errs.ErrInvalidArgument, "postgres: %w", err)
		case pe.Code == "42501": // insufficient_privilege (including row-level security WITH CHECK)
			return errs.Errorf(errs.ErrPermissionDenied, "postgres: %w", err)
		case pe.Code == "42P01" || pe.Code == "42883": // undefined table or function: schema not migrated
			return errs.Errorf(errs.ErrFailedPrecondition, "postgres: %w (is the schema migrated? run `human migrate`)", err)
		}
	}
	// Lost connections, shutdowns, timeouts, serialization failures past
	// their retries, cancelled contexts: nothing was committed.
	return errs.Errorf(errs.ErrUnavailable, "postgres: %w", err)
}
