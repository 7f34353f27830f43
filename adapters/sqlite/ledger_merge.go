package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/humanos/human/errs"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

// The ledger's query index is an LSM of three levels, so that an append
// writes a few sequential pages instead of one B-tree row per distinct
// term, and so that the pages of the term B-tree are rewritten rarely:
//
//   - ledger_recent, in the main database: one row per append with all of
//     the batch's postings (ledger_recent.go), written by the append's own
//     transaction.
//   - ledger_runs, in the index database: a second SQLite file next to the
//     main one ("<path>-index", its own WAL and write lock), one row per
//     merge in the same format as a recent row, covering every recent row
//     the merge took; and ledger_merged, each log's watermark: every recent
//     row below it has its postings in the index database.
//   - ledger_postings, in the index database: one row per term per
//     compaction, which folds a log's runs into it once there are
//     ledgerCompactRuns of them.
//
// A merger goroutine per open file database folds recent rows above the
// watermark into one run and advances the watermark in ONE index
// transaction that re-reads it first, so two processes (or two DB handles)
// never merge a row twice; a compaction reads, writes and deletes the runs
// in one index transaction too. Recent rows below the durable watermark
// are deleted from the main database by a later append's transaction.
// Find reads a log's recent rows first, then its runs, then its postings:
// postings only move forward (recent row -> run -> posting rows), a recent
// row is deleted only after its run is durable, and a run only in the
// transaction that writes its postings, so every index is in one of the
// three reads (duplicates are merged away).
//
// Why three: a merge used to write its postings straight into the term
// B-tree, one row per term, and terms that are nearly unique per entry (a
// resource) put each row on a page of its own: every 50 ms merge rewrote
// hundreds of scattered pages, which showed in the appends' receipt p99.
// A run is one sequential row; a compaction writes each term once per
// ledgerCompactRuns merges.
//
// An in-memory database (":memory:") has no second file: its appends
// write ledger_postings rows in the main database directly.

// ledgerIndexSuffix names the index database: the main path plus it.
const ledgerIndexSuffix = "-index"

// ledgerMergeAt is how many unmerged entries of a log (appended by this
// process) wake the merger; ledgerMergeEvery is how often it merges
// whatever is unmerged anyway. Frequent small merges keep each one's
// burst of CPU and fsync short: at 5,000 appends/s, merging every 200 ms
// doubled the receipt p99 (merging never: ~6 ms; every 200 ms: ~12 ms;
// every 50 ms: ~8.5 ms), with no loss of throughput at full load.
const (
	ledgerMergeAt    = 4096
	ledgerMergeEvery = 50 * time.Millisecond
	// ledgerMergeRows bounds the recent rows one merge transaction takes.
	ledgerMergeRows = 128
	// ledgerMergeStmtRows is how many postings one merge statement
	// writes before the merger yields its processor. The merger runs
	// beside the appends it indexes, and Go's scheduler preempts a
	// goroutine only after 10 ms: one statement of 256 scattered rows
	// held a processor for ~1 ms, and the appends' goroutines queued
	// behind it showed in the receipt p99.
	ledgerMergeStmtRows = 32
	// ledgerIndexCheckpointEvery is the least time between checkpoints of
	// the index database. Merges rewrite scattered pages, many of them
	// again in the next merge: checkpointing after every merge copied
	// them each time.
	ledgerIndexCheckpointEvery = time.Second
	// ledgerCompactRuns is how many runs of a log a compaction waits for
	// (about 0.8 s of appends under load): Find decodes the runs it has
	// not compacted, a compaction writes each term of them once.
	ledgerCompactRuns = 16
)

// ledgerIndexBusyTimeout is how long a transaction on the index database
// waits for its write lock (held by another handle's merge or compaction)
// before it fails with SQLITE_BUSY. Tests shorten it before Open.
var ledgerIndexBusyTimeout = 10 * time.Second

// ledgerIndexMigrations is the index database's schema, its own list
// (recorded in its own schema_migrations table).
var ledgerIndexMigrations = []migration{{store: "ledger-index", version: 1, stmts: []string{
	`CREATE TABLE ledger_postings (
		log TEXT NOT NULL,
		term TEXT NOT NULL,
		first INTEGER NOT NULL,
		last INTEGER NOT NULL,
		idxs BLOB NOT NULL,
		PRIMARY KEY (log, term, first)) WITHOUT ROWID`,
	`CREATE TABLE ledger_merged (
		log TEXT NOT NULL PRIMARY KEY,
		upto INTEGER NOT NULL)`,
}}, {store: "ledger-index", version: 2, stmts: []string{
	// Rows of ~10-40 KB: a rowid table (a WITHOUT ROWID one keeps less
	// of a large row in its page).
	`CREATE TABLE ledger_runs (
		log TEXT NOT NULL,
		first INTEGER NOT NULL,
		last INTEGER NOT NULL,
		postings BLOB NOT NULL)`,
	`CREATE UNIQUE INDEX ledger_runs_at ON ledger_runs (log, first)`,
}}}

// ledgerIndexDB is the index level of a DB: the database holding
// ledger_runs, ledger_postings and the merger's state.
type ledgerIndexDB struct {
	db   *DB  // the index database; the main DB itself for ":memory:"
	file bool // db is a second file (recent rows + merger); else postings are written by appends

	mergeAt   int // unmerged entries that wake the merger (tests lower it)
	compactAt int // runs of a log that a compaction waits for (tests lower it)

	mu      sync.Mutex
	pending map[string]int   // entries this process appended since its last merge of the log
	durable map[string]int64 // watermark known durable in the index database
	deleted map[string]int64 // recent rows below this are deleted from the main database
	appends map[string]int64 // appends this process committed to the log
	seen    map[string]int64 // appends as of the merger's last idle check

	wake          chan struct{}
	stop, stopped chan struct{}
	stopOnce      sync.Once

	merges workerHealth // the merger's failed passes (ledger_status.go)

	// testStop, when set, is asked at each step of a merge whether to
	// abandon it there, as a crash would ("read", "written" = before the
	// index commit, "committed" = after it).
	testStop func(step string) bool
}

// ledgerOpenIndex opens the index level of d (called by Open after the
// main schema is applied): for a file database, the index database file,
// its schema, the import of postings a version 3 main database kept, the
// check that the index covers the main database, and the merger.
func (d *DB) ledgerOpenIndex(ctx context.Context) error {
	x := &ledgerIndexDB{mergeAt: ledgerMergeAt, compactAt: ledgerCompactRuns, pending: map[string]int{}, durable: map[string]int64{}, deleted: map[string]int64{},
		appends: map[string]int64{}, seen: map[string]int64{}}
	if d.path == ":memory:" {
		x.db = d
		d.ledger = x
		return nil
	}
	path := d.path + ledgerIndexSuffix
	_, statErr := os.Stat(path)
	existed := statErr == nil
	dsn := "file:" + path + fmt.Sprintf("?_pragma=busy_timeout(%d)", ledgerIndexBusyTimeout.Milliseconds()) +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=wal_autocheckpoint(0)&_txlock=immediate"
	raw, err := sql.Open("sqlite", dsn)
	if err != nil {
		return errs.Errorf(errs.ErrUnavailable, "sqlite: open ledger index %s: %w", path, err)
	}
	raw.SetMaxIdleConns(8)
	raw.SetConnMaxIdleTime(2 * time.Minute)
	x.db, x.file = &DB{db: raw, path: path}, true
	imported := false
	fail := func(err error) error {
		raw.Close()
		// A file this Open created goes again, unless it holds the
		// postings moved out of the main database.
		if !existed && !imported {
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				_ = os.Remove(p)
			}
		}
		return err
	}
	if err := x.migrate(ctx); err != nil {
		return fail(ledgerIndexErr(ctx, path, err))
	}
	if imported, err = d.ledgerImportPostings(ctx, x); err != nil {
		return fail(ledgerIndexErr(ctx, path, err))
	}
	if err := d.ledgerCheckCover(ctx, x, existed); err != nil {
		return fail(ledgerIndexErr(ctx, path, err))
	}
	x.wake = make(chan struct{}, 1)
	x.stop, x.stopped = make(chan struct{}), make(chan struct{})
	d.ledger = x
	// The index database's WAL is checkpointed like the main one's, off
	// the merges (a checkpoint inside a merge's commit made it a burst).
	x.db.startCheckpointer(ledgerIndexCheckpointEvery)
	go d.ledgerMerger(x)
	return nil
}

// ledgerIndexErr maps an error of the index database: a file that is not
// a database or is corrupt is errs.ErrFailedPrecondition naming it.
func ledgerIndexErr(ctx context.Context, path string, err error) error {
	var se *sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3lib.SQLITE_NOTADB, sqlite3lib.SQLITE_CORRUPT:
			return errs.Errorf(errs.ErrFailedPrecondition, "sqlite: ledger index file %s is corrupt (%v): restore it from the backup taken with its database", path, err)
		}
	}
	if errs.Kind(err) != nil {
		return err
	}
	return mapErr(ctx, fmt.Errorf("ledger index %s: %w", path, err))
}

// ledgerCloseIndex stops the merger and closes the index database.
func (d *DB) ledgerCloseIndex() error {
	x := d.ledger
	if x == nil || !x.file {
		return nil
	}
	x.stopOnce.Do(func() { close(x.stop) })
	<-x.stopped
	return x.db.Close()
}

// migrate applies the index database's schema.
func (x *ledgerIndexDB) migrate(ctx context.Context) error {
	return x.db.migrateWith(ctx, ledgerIndexMigrations)
}

// ledgerImportPostings moves the ledger_postings table a version 3 main
// database kept (and a fresh one has, empty, from the version 3
// migration) into the index database: each log's rows, with the
// watermark at its size, for every log the index has no watermark of yet
// (a crash after the index commit re-runs this and skips them); then it
// drops the main table. It holds the main write lock throughout, so no
// append runs in between. It reports whether it moved any table.
func (d *DB) ledgerImportPostings(ctx context.Context, x *ledgerIndexDB) (bool, error) {
	var n int
	if err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'ledger_postings'`).Scan(&n); err != nil {
		return false, mapErr(ctx, err)
	}
	if n == 0 {
		return false, nil
	}
	return true, d.tx(ctx, func(mtx *sql.Tx) error {
		heads := map[string]int64{}
		rows, err := mtx.QueryContext(ctx, `SELECT log, size FROM ledger_heads`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var log string
			var size int64
			if err := rows.Scan(&log, &size); err != nil {
				rows.Close()
				return err
			}
			heads[log] = size
		}
		if err := rows.Close(); err != nil {
			return err
		}
		err = x.db.tx(ctx, func(itx *sql.Tx) error {
			skip := map[string]bool{}
			for log := range heads {
				var upto int64
				err := itx.QueryRowContext(ctx, `SELECT upto FROM ledger_merged WHERE log = ?`, log).Scan(&upto)
				switch {
				case err == nil:
					skip[log] = true
				case !errors.Is(err, sql.ErrNoRows):
					return err
				}
			}
			rows, err := mtx.QueryContext(ctx, `SELECT log, term, first, last, idxs FROM ledger_postings ORDER BY log, term, first`)
			if err != nil {
				return err
			}
			defer rows.Close()
			args := make([]any, 0, 5*ledgerRows)
			for rows.Next() {
				var log, term string
				var first, last int64
				var idxs []byte
				if err := rows.Scan(&log, &term, &first, &last, &idxs); err != nil {
					return err
				}
				if skip[log] {
					continue
				}
				args = append(args, log, term, first, last, ledgerBlob(idxs))
				if len(args) == cap(args) {
					if err := ledgerExecRows(ctx, x.db, itx, "ledger_postings (log, term, first, last, idxs)", 5, args); err != nil {
						return err
					}
					args = args[:0]
				}
			}
			if err := rows.Err(); err != nil {
				return err
			}
			if err := ledgerExecRows(ctx, x.db, itx, "ledger_postings (log, term, first, last, idxs)", 5, args); err != nil {
				return err
			}
			for log, size := range heads {
				if skip[log] {
					continue
				}
				if _, err := itx.ExecContext(ctx, `INSERT INTO ledger_merged (log, upto) VALUES (?, ?)`, log, size); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		_, err = mtx.ExecContext(ctx, `DROP TABLE ledger_postings`)
		return err
	})
}

// ledgerCheckCover checks that the index database belongs to the main
// one: for every log, the watermark is at most the log's size, and every
// index below the first recent row the main database still keeps is
// below the watermark (else postings were deleted from the main database
// that the index does not hold: a lost or older index file). The
// watermark is read before and after the main database's snapshot, so a
// concurrent merge in another process cannot fail the check.
func (d *DB) ledgerCheckCover(ctx context.Context, x *ledgerIndexDB, existed bool) error {
	before, err := x.watermarks(ctx)
	if err != nil {
		return err
	}
	type cover struct{ size, kept int64 }
	logs := map[string]cover{}
	err = func() error {
		conn, err := d.db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		// One read snapshot of the main database (a deferred BEGIN on this
		// connection, not the DSN's immediate one).
		if _, err := conn.ExecContext(ctx, `BEGIN DEFERRED`); err != nil {
			return err
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
		rows, err := conn.QueryContext(ctx, `SELECT h.log, h.size, coalesce((SELECT min(first) FROM ledger_recent r WHERE r.log = h.log), h.size)
			FROM ledger_heads h`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var log string
			var c cover
			if err := rows.Scan(&log, &c.size, &c.kept); err != nil {
				return err
			}
			logs[log] = c
		}
		return rows.Err()
	}()
	if err != nil {
		return mapErr(ctx, err)
	}
	after, err := x.watermarks(ctx)
	if err != nil {
		return err
	}
	missing := ""
	if !existed {
		missing = " (the file was missing)"
	}
	for log, c := range logs {
		if after[log] < c.kept {
			return errs.Errorf(errs.ErrFailedPrecondition,
				"sqlite: ledger index file %s%s does not cover log %q: it holds postings below index %d, the database keeps them from %d on (of %d entries); restore the index file that belongs to this database",
				x.db.path, missing, log, after[log], c.kept, c.size)
		}
	}
	for log, upto := range before {
		if c := logs[log]; upto > c.size {
			return errs.Errorf(errs.ErrFailedPrecondition,
				"sqlite: ledger index file %s holds postings of log %q up to index %d, past the database's %d entries: it belongs to another (or a newer copy of this) database",
				x.db.path, log, upto, c.size)
		}
	}
	return nil
}

// watermarks reads every log's watermark from the index database.
func (x *ledgerIndexDB) watermarks(ctx context.Context) (map[string]int64, error) {
	return ledgerLogInts(ctx, x.db.db, `SELECT log, upto FROM ledger_merged`)
}

// ledgerLogInts runs q, a query of (log, integer) rows, on db and returns
// the integers by log.
func ledgerLogInts(ctx context.Context, db *sql.DB, q string) (map[string]int64, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, mapErr(ctx, err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var log string
		var v int64
		if err := rows.Scan(&log, &v); err != nil {
			return nil, mapErr(ctx, err)
		}
		out[log] = v
	}
	return out, mapErr(ctx, rows.Err())
}

// appended records n entries appended to log by this process and wakes
// the merger when the log has enough unmerged entries.
func (x *ledgerIndexDB) appended(log string, n int) {
	x.mu.Lock()
	x.pending[log] += n
	x.appends[log]++
	full := x.pending[log] >= x.mergeAt
	x.mu.Unlock()
	if full {
		select {
		case x.wake <- struct{}{}:
		default:
		}
	}
}

// deletable returns the watermark below which log's recent rows may be
// deleted by the next append, or 0 when they already are.
func (x *ledgerIndexDB) deletable(log string) int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	if d := x.durable[log]; d > x.deleted[log] {
		return d
	}
	return 0
}

// markDeleted records that log's recent rows below upto are deleted.
func (x *ledgerIndexDB) markDeleted(log string, upto int64) {
	x.mu.Lock()
	x.deleted[log] = max(x.deleted[log], upto)
	x.mu.Unlock()
}

// ledgerMerger merges when woken by appends and every ledgerMergeEvery,
// until Close. A failed merge (busy, I/O) leaves the rows in the main
// database, where queries find them; the next pass retries. Failed passes
// are counted for LedgerIndexStatus (one closing down is not a failure).
func (d *DB) ledgerMerger(x *ledgerIndexDB) {
	defer close(x.stopped)
	t := time.NewTicker(ledgerMergeEvery)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-x.stop
		cancel()
	}()
	for {
		select {
		case <-x.stop:
			return
		case <-x.wake:
		case <-t.C:
		}
		if err := d.ledgerMergeAll(ctx); err != nil && ctx.Err() == nil {
			x.merges.record(err)
		}
	}
}

// ledgerMergeAll merges the unmerged recent rows of every log.
func (d *DB) ledgerMergeAll(ctx context.Context) error {
	x := d.ledger
	rows, err := d.db.QueryContext(ctx, `SELECT log, max(last) FROM ledger_recent GROUP BY log`)
	if err != nil {
		return mapErr(ctx, err)
	}
	tops := map[string]int64{}
	for rows.Next() {
		var log string
		var top int64
		if err := rows.Scan(&log, &top); err != nil {
			rows.Close()
			return mapErr(ctx, err)
		}
		tops[log] = top
	}
	rows.Close()
	var first error
	for log, top := range tops {
		x.mu.Lock()
		done := x.durable[log] > top
		x.mu.Unlock()
		if !done {
			if err := d.ledgerMerge(ctx, log); err != nil && first == nil {
				first = err
			}
		}
		if err := d.ledgerDropIdle(ctx, log); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// ledgerDropIdle deletes log's merged recent rows in a transaction of its
// own when this process appended nothing to the log since its last pass
// (under load, appends delete them in their own transactions instead), so
// that queries of an idle log stop decoding them.
func (d *DB) ledgerDropIdle(ctx context.Context, log string) error {
	x := d.ledger
	x.mu.Lock()
	idle := x.appends[log] == x.seen[log]
	x.seen[log] = x.appends[log]
	x.mu.Unlock()
	if idle {
		// An idle log's queries stop decoding its runs.
		if err := d.ledgerCompact(ctx, log, 1); err != nil {
			return err
		}
	}
	drop := x.deletable(log)
	if !idle || drop == 0 {
		return nil
	}
	err := d.tx(ctx, func(tx *sql.Tx) error {
		_, err := d.txExec(ctx, tx, `DELETE FROM ledger_recent WHERE log = ? AND first < ?`, log, drop)
		return err
	})
	if err == nil {
		x.markDeleted(log, drop)
	}
	return err
}

// ledgerMerge merges log's recent rows above the watermark into the
// index database, in transactions of up to ledgerMergeRows rows, until
// none is left.
func (d *DB) ledgerMerge(ctx context.Context, log string) error {
	x := d.ledger
	x.mu.Lock()
	x.pending[log] = 0
	x.mu.Unlock()
	for {
		more, err := d.ledgerMergeOnce(ctx, log)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		runtime.Gosched()
	}
	return d.ledgerCompact(ctx, log, x.compactAt)
}

// ledgerCompact folds log's runs into ledger_postings, one row per term,
// when there are at least atLeast of them, in one index transaction that
// reads, writes and deletes them.
func (d *DB) ledgerCompact(ctx context.Context, log string, atLeast int) error {
	x := d.ledger
	var n int
	if err := x.db.db.QueryRowContext(ctx, `SELECT count(*) FROM ledger_runs WHERE log = ?`, log).Scan(&n); err != nil {
		return mapErr(ctx, err)
	}
	if n < atLeast || n == 0 {
		return nil
	}
	err := x.db.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT first, last, postings FROM ledger_runs WHERE log = ? ORDER BY first`, log)
		if err != nil {
			return err
		}
		var runs []ledgerRecentRow
		for rows.Next() {
			var r ledgerRecentRow
			if err := rows.Scan(&r.first, &r.last, &r.postings); err != nil {
				rows.Close()
				return err
			}
			runs = append(runs, r)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if len(runs) < atLeast || len(runs) == 0 {
			return nil // another merger compacted them
		}
		// Runs are disjoint and read in index order: each term's list
		// stays increasing.
		postings := map[string][]int64{}
		for _, r := range runs {
			err := recentDecode(r.first, r.last, r.postings, func(term []byte, idx []int64) {
				postings[string(term)] = append(postings[string(term)], idx...)
			})
			if err != nil {
				return err
			}
		}
		terms := make([]string, 0, len(postings))
		for t := range postings {
			terms = append(terms, t)
		}
		slices.Sort(terms)
		args := make([]any, 0, 5*min(len(terms), ledgerMergeStmtRows))
		for _, t := range terms {
			idx := postings[t]
			args = append(args, log, t, idx[0], idx[len(idx)-1], postingEncode(idx))
			if len(args) == cap(args) {
				if err := ledgerExecRows(ctx, x.db, tx, "ledger_postings (log, term, first, last, idxs)", 5, args); err != nil {
					return err
				}
				args = args[:0]
				// Let the appends' goroutines run: a compaction is
				// background work on their processors (ledgerMergeStmtRows).
				runtime.Gosched()
			}
		}
		if err := ledgerExecRows(ctx, x.db, tx, "ledger_postings (log, term, first, last, idxs)", 5, args); err != nil {
			return err
		}
		if _, err := x.db.txExec(ctx, tx, `DELETE FROM ledger_runs WHERE log = ? AND first <= ?`, log, runs[len(runs)-1].first); err != nil {
			return err
		}
		if x.stopAt("compacted") {
			return errLedgerTestStop
		}
		return nil
	})
	if errors.Is(err, errLedgerTestStop) {
		return nil
	}
	return err
}

// ledgerRecentRow is one row of ledger_recent.
type ledgerRecentRow struct {
	first, last int64
	postings    []byte
}

// ledgerMergeOnce runs one merge transaction for log and reports whether
// rows were left for another.
func (d *DB) ledgerMergeOnce(ctx context.Context, log string) (more bool, err error) {
	x := d.ledger
	upto, err := x.watermark(ctx, x.db.db, log)
	if err != nil {
		return false, err
	}
	x.setDurable(log, upto)
	// The rows above the watermark, read outside the index transaction
	// (the main database's readers never block its writers).
	var recent []ledgerRecentRow
	rows, err := d.db.QueryContext(ctx, `SELECT first, last, postings FROM ledger_recent
		WHERE log = ? AND first >= ? ORDER BY first LIMIT ?`, log, upto, ledgerMergeRows)
	if err != nil {
		return false, mapErr(ctx, err)
	}
	for rows.Next() {
		var r ledgerRecentRow
		if err := rows.Scan(&r.first, &r.last, &r.postings); err != nil {
			rows.Close()
			return false, mapErr(ctx, err)
		}
		recent = append(recent, r)
	}
	if err := rows.Close(); err != nil {
		return false, mapErr(ctx, err)
	}
	if len(recent) == 0 || x.stopAt("read") {
		return false, nil
	}
	var merged int64
	err = x.db.tx(ctx, func(tx *sql.Tx) error {
		// The watermark again, under the index write lock: rows another
		// merger took since are skipped, never merged twice.
		at, err := x.watermark(ctx, tx, log)
		if err != nil {
			return err
		}
		i := 0
		for i < len(recent) && recent[i].first < at {
			i++
		}
		recent = recent[i:]
		if len(recent) == 0 {
			merged = at
			return nil
		}
		if recent[0].first != at {
			return errs.Errorf(errs.ErrFailedPrecondition, "sqlite ledger %q: recent postings resume at %d, the index is merged up to %d", log, recent[0].first, at)
		}
		postings := map[string][]int64{}
		for k, r := range recent {
			if k > 0 && r.first != recent[k-1].last+1 {
				recent = recent[:k] // a gap: an append still committing; merge up to it
				break
			}
			err := recentDecode(r.first, r.last, r.postings, func(term []byte, idx []int64) {
				postings[string(term)] = append(postings[string(term)], idx...)
			})
			if err != nil {
				return err
			}
		}
		if _, err := x.db.txExec(ctx, tx, `INSERT INTO ledger_runs (log, first, last, postings) VALUES (?, ?, ?, ?)`,
			log, at, recent[len(recent)-1].last, recentEncode(at, postings)); err != nil {
			return err
		}
		merged = recent[len(recent)-1].last + 1
		if _, err := x.db.txExec(ctx, tx, `INSERT INTO ledger_merged (log, upto) VALUES (?, ?)
			ON CONFLICT (log) DO UPDATE SET upto = excluded.upto`, log, merged); err != nil {
			return err
		}
		if x.stopAt("written") {
			return errLedgerTestStop
		}
		return nil
	})
	if errors.Is(err, errLedgerTestStop) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if x.stopAt("committed") {
		return false, nil
	}
	x.setDurable(log, merged)
	return len(recent) == ledgerMergeRows, nil
}

// stopAt reports whether a test asks the merge to stop at step.
func (x *ledgerIndexDB) stopAt(step string) bool {
	x.mu.Lock()
	stop := x.testStop
	x.mu.Unlock()
	return stop != nil && stop(step)
}

// errLedgerTestStop abandons a merge transaction where a test asks.
var errLedgerTestStop = errors.New("sqlite ledger: merge stopped by test")

// ledgerQueryer is a *sql.DB or *sql.Tx.
type ledgerQueryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// watermark reads log's watermark (0 when it has none).
func (x *ledgerIndexDB) watermark(ctx context.Context, q ledgerQueryer, log string) (int64, error) {
	var upto int64
	err := q.QueryRowContext(ctx, `SELECT upto FROM ledger_merged WHERE log = ?`, log).Scan(&upto)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, mapErr(ctx, err)
	}
	return upto, nil
}

// setDurable records a watermark read from or committed to the index.
func (x *ledgerIndexDB) setDurable(log string, upto int64) {
	x.mu.Lock()
	x.durable[log] = max(x.durable[log], upto)
	x.mu.Unlock()
}
