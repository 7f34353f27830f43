// Package sqlite is the embedded default store: one SQLite file (pure Go,
// modernc.org/sqlite, WAL mode) holding every HUMAN store, plus the
// ledger's query index in a second file next to it ("<path>-index",
// ledger_merge.go). Copy or back up both files together.
//
// # URLs
//
// "sqlite:///abs/path/human.db" or "sqlite://./rel/path.db" (a relative path
// is relative to the working directory). "sqlite://" with no path means
// $HUMAN_DATA_DIR/human.db, else ./human-data/human.db.
//
// Writes run in BEGIN IMMEDIATE transactions with synchronous=FULL, so an
// acknowledged write survives a crash of the process or the machine.
//
// WAL checkpoints (copying committed pages from the write-ahead log into
// the database file) run on a background goroutine of each open DB, not
// inside the commit that happens to cross SQLite's threshold: a writer's
// commit costs its own pages and one fsync, never a checkpoint's copying
// and fsync (which made the slowest commits several times the median).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/humanos/human/errs"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

// DB is an open SQLite database shared by the stores of this package.
type DB struct {
	db    *sql.DB
	path  string
	stmts stmtCache // prepared statements of the hot paths (stmtcache.go)

	// ledger is the ledger's query index level: the index database file
	// next to this one and its merger (ledger_merge.go).
	ledger *ledgerIndexDB
	// ledgerIDs caches each ledger log's number (ledger_logs), which never
	// changes once committed.
	ledgerIDs sync.Map

	// The background checkpointer (file databases only): wrote holds a
	// signal when write transactions were committed since its last pass,
	// stop ends the goroutine, stopped is closed when it has.
	wrote     chan struct{}
	every     time.Duration // least time between passes
	stop      chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once
	// checkpoints counts the checkpointer's failed passes (ledger_status.go).
	checkpoints workerHealth
}

// checkpointEvery is the least time between two passes of the
// checkpointer, which runs after writes were committed: the WAL then holds
// about this long's worth of writes (plus whatever long readers pin). A
// pass copies the pages written since the last one in one statement that
// holds a processor until done, so short and frequent beats long and rare:
// at 10,000 attested appends a second, passes every 100 ms put the receipt
// p99 at 8-8.5 ms without the query index, every 10 ms at 4.8-5 ms.
const checkpointEvery = 10 * time.Millisecond

// Open opens (creating if needed) the database file at path and applies the
// schema of every store.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "sqlite: empty path")
	}
	if path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, errs.Errorf(errs.ErrUnavailable, "sqlite: %w", err)
		}
	}
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(FULL)&_pragma=foreign_keys(ON)&_txlock=immediate"
	if path != ":memory:" {
		// No automatic checkpoints inside commits: the checkpointer does them.
		dsn += "&_pragma=wal_autocheckpoint(0)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "sqlite: open %s: %w", path, err)
	}
	if path == ":memory:" {
		db.SetMaxOpenConns(1)
	} else {
		// Keep connections for concurrent readers instead of database/sql's
		// default of 2 idle: opening one (and its pragmas) cost more than the
		// queries under a server's load (stmtcache.go keeps their statements).
		db.SetMaxIdleConns(32)
		db.SetConnMaxIdleTime(2 * time.Minute)
	}
	d := &DB{db: db, path: path}
	if err := d.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := d.ledgerOpenIndex(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if path != ":memory:" {
		d.startCheckpointer(checkpointEvery)
	}
	return d, nil
}

// startCheckpointer starts the goroutine that checkpoints d's WAL at most
// once per every (Close stops it); the database must run with
// wal_autocheckpoint(0).
func (d *DB) startCheckpointer(every time.Duration) {
	d.every = every
	d.wrote = make(chan struct{}, 1)
	d.stop, d.stopped = make(chan struct{}), make(chan struct{})
	go d.checkpointer()
}

// checkpointer copies committed WAL frames into the database file
// (PRAGMA wal_checkpoint(PASSIVE), which never blocks readers or writers)
// after writes were committed, at most once per d.every, until
// Close. An idle database costs it nothing.
func (d *DB) checkpointer() {
	defer close(d.stopped)
	t := time.NewTimer(d.every)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-d.wrote:
		}
		// A failure (busy, I/O) leaves the frames in the WAL, where they
		// are as durable as in the database file; the next pass, or the
		// last connection's close, checkpoints them. Failures are counted
		// for LedgerIndexStatus; contention is not one (the PRAGMA reports
		// a checkpoint it could not take as busy, without an error).
		if _, err := d.db.Exec(`PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
			d.checkpoints.record(err)
		}
		t.Reset(d.every)
		select {
		case <-d.stop:
			return
		case <-t.C:
		}
	}
}

// Path is the database file's path.
func (d *DB) Path() string { return d.path }

// Close stops the ledger index merger and the checkpointer and closes
// the database and its ledger index file (the last connection to close
// checkpoints what is left in the WAL).
func (d *DB) Close() error {
	ierr := d.ledgerCloseIndex()
	if d.stop != nil {
		d.closeOnce.Do(func() { close(d.stop) })
		<-d.stopped
	}
	if err := d.db.Close(); err != nil {
		return err
	}
	return ierr
}

// migration is one forward-only schema step of one store.
type migration struct {
	store   string
	version int
	stmts   []string
}

// migrations lists every store's schema steps. Each store file appends its
// own in an init function; versions per store start at 1 and never change
// once released.
var migrations []migration

func (d *DB) migrate(ctx context.Context) error { return d.migrateWith(ctx, migrations) }

// migrateWith applies the steps of list that the database has not
// recorded in schema_migrations, in one transaction.
func (d *DB) migrateWith(ctx context.Context, list []migration) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			store TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (store, version))`); err != nil {
			return err
		}
		for _, m := range list {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE store = ? AND version = ?`,
				m.store, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				continue
			}
			for _, s := range m.stmts {
				if _, err := tx.ExecContext(ctx, s); err != nil {
					return fmt.Errorf("migration %s/%d: %w", m.store, m.version, err)
				}
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (store, version) VALUES (?, ?)`,
				m.store, m.version); err != nil {
				return err
			}
		}
		return nil
	})
}

// tx runs fn in one write transaction, committing if fn returns nil and
// rolling back otherwise. Errors come back mapped to the errs vocabulary.
func (d *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "sqlite: %w", err)
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(ctx, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return mapErr(ctx, err)
	}
	if err := tx.Commit(); err != nil {
		return mapErr(ctx, err)
	}
	if d.wrote != nil {
		select {
		case d.wrote <- struct{}{}:
		default:
		}
	}
	return nil
}

// mapErr maps a database error onto the errs vocabulary, once, here. Errors
// that already carry a kind pass through unchanged.
func mapErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if errs.Kind(err) != nil {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return errs.Errorf(errs.ErrNotFound, "%w", err)
	}
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errs.Errorf(errs.ErrUnavailable, "sqlite: %w", err)
	}
	var se *sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3lib.SQLITE_CONSTRAINT:
			return errs.Errorf(errs.ErrConflict, "sqlite: %w", err)
		case sqlite3lib.SQLITE_BUSY, sqlite3lib.SQLITE_LOCKED, sqlite3lib.SQLITE_IOERR, sqlite3lib.SQLITE_FULL:
			return errs.Errorf(errs.ErrUnavailable, "sqlite: %w", err)
		}
	}
	return errs.Errorf(errs.ErrUnavailable, "sqlite: %w", err)
}
