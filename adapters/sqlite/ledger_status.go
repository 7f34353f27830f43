package sqlite

import (
	"context"
	"sync"
	"time"

	"github.com/humanos/human/errs"
)

// The ledger index's background work (the merger, the checkpointers of the
// main and index files) retries a failed pass on the next one, and queries
// stay complete meanwhile (ledger_merge.go). What an operator cannot see
// without LedgerIndexStatus is a merger that keeps failing (a full disk, a
// corrupt index file, another handle holding the index write lock) while
// the unmerged backlog, and the cost of every query, grow.

// LedgerIndexStatus is the health of a DB's ledger query index: the
// failures of its background workers and each log's backlog. An in-memory
// database has no index file, merger or checkpointer: its status is zero.
type LedgerIndexStatus struct {
	// Merger is the merger's record: failed passes of folding recent rows
	// into runs and runs into postings.
	Merger WorkerStatus
	// Checkpointer is the main database file's WAL checkpointer's record.
	Checkpointer WorkerStatus
	// IndexCheckpointer is the index database file's.
	IndexCheckpointer WorkerStatus
	// Logs is the backlog of every log, by name.
	Logs map[string]LedgerIndexBacklog
}

// WorkerStatus is what a background worker of a DB recorded since Open.
type WorkerStatus struct {
	// Failures counts its failed passes (each one retried by the next).
	Failures uint64
	// LastFailure is when the last one failed; zero when none did.
	LastFailure time.Time
	// LastError is the last failure's message; empty when none failed.
	LastError string
}

// LedgerIndexBacklog is the index work waiting in one log: what queries
// of the log decode on every call until the merger catches up.
type LedgerIndexBacklog struct {
	// Unmerged counts the log's entries whose postings are still in recent
	// rows of the main database, above the index's watermark.
	Unmerged int64
	// Runs counts the log's runs that no compaction has folded into
	// postings yet.
	Runs int64
}

// workerHealth counts a background worker's failed passes and keeps the
// last error. The zero value is ready.
type workerHealth struct {
	mu       sync.Mutex
	failures uint64
	at       time.Time
	msg      string
}

// record counts a failed pass that returned err.
func (h *workerHealth) record(err error) {
	h.mu.Lock()
	h.failures++
	h.at = time.Now()
	h.msg = err.Error()
	h.mu.Unlock()
}

// status returns the record so far.
func (h *workerHealth) status() WorkerStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	return WorkerStatus{Failures: h.failures, LastFailure: h.at, LastError: h.msg}
}

// LedgerIndexStatus returns the health of d's ledger query index: cheap
// enough for every metrics scrape (three small reads: the logs' heads,
// their watermarks, and a count of the runs by log over its index).
//
// When the backlog cannot be read (a closed DB, an unreadable index
// file), it returns the workers' records with Logs nil and the error,
// errs.ErrUnavailable, or errs.ErrFailedPrecondition for a corrupt index
// file. A cancelled ctx is errs.ErrUnavailable.
func (d *DB) LedgerIndexStatus(ctx context.Context) (LedgerIndexStatus, error) {
	st := LedgerIndexStatus{Checkpointer: d.checkpoints.status()}
	x := d.ledger
	if x == nil || !x.file {
		return st, nil
	}
	st.Merger = x.merges.status()
	st.IndexCheckpointer = x.db.checkpoints.status()
	if err := ctx.Err(); err != nil {
		return st, errs.Errorf(errs.ErrUnavailable, "sqlite ledger index status: %w", err)
	}
	// Watermarks before sizes: a watermark never passes the size read
	// after it, so no log's count goes negative.
	upto, err := x.watermarks(ctx)
	if err != nil {
		return st, ledgerIndexErr(ctx, x.db.path, err)
	}
	runs, err := x.runsByLog(ctx)
	if err != nil {
		return st, ledgerIndexErr(ctx, x.db.path, err)
	}
	sizes, err := ledgerLogInts(ctx, d.db, `SELECT log, size FROM ledger_heads`)
	if err != nil {
		return st, err
	}
	logs := make(map[string]LedgerIndexBacklog, len(sizes))
	for log, size := range sizes {
		logs[log] = LedgerIndexBacklog{Unmerged: max(0, size-upto[log]), Runs: runs[log]}
	}
	st.Logs = logs
	return st, nil
}

// runsByLog counts each log's runs in the index database.
func (x *ledgerIndexDB) runsByLog(ctx context.Context) (map[string]int64, error) {
	return ledgerLogInts(ctx, x.db.db, `SELECT log, count(*) FROM ledger_runs GROUP BY log`)
}

// LedgerIndexStatus returns the status of the store's DB
// (DB.LedgerIndexStatus), for callers that hold the ledger store only.
func (s *LedgerStore) LedgerIndexStatus(ctx context.Context) (LedgerIndexStatus, error) {
	return s.db.LedgerIndexStatus(ctx)
}
