package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/humanos/human/errs"
)

// ledgerWaitStatus polls db's index status until ok accepts it, failing
// the test after 10 s.
func ledgerWaitStatus(t *testing.T, db *DB, what string, ok func(LedgerIndexStatus) bool) LedgerIndexStatus {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := db.LedgerIndexStatus(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: status %+v", what, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLedgerIndexStatusMergerFails holds the index database's write lock
// from a second connection (as another handle's stuck merge, or a disk
// that refuses writes, would) beyond the busy timeout: the real merger's
// passes fail, the status counts them with the last error and shows the
// backlog growing, and queries stay complete; once the lock is released,
// the next passes merge everything and the backlog drains.
func TestLedgerIndexStatusMergerFails(t *testing.T) {
	saved := ledgerIndexBusyTimeout
	ledgerIndexBusyTimeout = 50 * time.Millisecond
	t.Cleanup(func() { ledgerIndexBusyTimeout = saved })
	ctx := context.Background()
	db := ledgerTestDB(t)
	s := NewLedgerStore(db)
	if err := ledgerTestAppend(ctx, s, 0, 10); err != nil {
		t.Fatal(err)
	}
	ledgerWaitStatus(t, db, "the first append merged", func(st LedgerIndexStatus) bool { return st.Logs["acme"].Unmerged == 0 })
	if st, _ := db.LedgerIndexStatus(ctx); st.Merger.Failures != 0 || st.Merger.LastError != "" || !st.Merger.LastFailure.IsZero() {
		t.Fatalf("healthy merger: status %+v, want no failure", st.Merger)
	}

	// It waits for a compaction the merger may be running (the DSN's timeout).
	lock, err := sql.Open("sqlite", "file:"+db.Path()+ledgerIndexSuffix+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	conn, err := lock.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	size := uint64(10)
	for _, n := range []int{7, 30, 1} {
		if err := ledgerTestAppend(ctx, s, size, n); err != nil {
			t.Fatal(err)
		}
		size += uint64(n)
	}
	st := ledgerWaitStatus(t, db, "a failed merge", func(st LedgerIndexStatus) bool { return st.Merger.Failures > 0 })
	if st.Merger.LastError == "" || st.Merger.LastFailure.IsZero() {
		t.Errorf("merger failed %d times but its last error is %q at %v", st.Merger.Failures, st.Merger.LastError, st.Merger.LastFailure)
	}
	t.Logf("merger while the index is locked: %d failures, last: %s", st.Merger.Failures, st.Merger.LastError)
	if got := st.Logs["acme"].Unmerged; got != 38 {
		t.Errorf("unmerged entries while the index is locked = %d, want 38", got)
	}
	ledgerCheckFound(t, s, size)

	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	failed := st.Merger.Failures
	st = ledgerWaitStatus(t, db, "the backlog merged and compacted", func(st LedgerIndexStatus) bool {
		b := st.Logs["acme"]
		return b.Unmerged == 0 && b.Runs == 0
	})
	if st.Merger.Failures < failed {
		t.Errorf("failures went from %d to %d: the count must only grow", failed, st.Merger.Failures)
	}
	if upto := ledgerCheckPostingsOnce(t, db); upto != int64(size) {
		t.Errorf("watermark after recovery = %d, want %d", upto, size)
	}
	ledgerCheckFound(t, s, size)
}

// TestLedgerIndexStatusBacklog stops the merger and checks the backlog the
// status reports at each level: appended (unmerged), merged into runs,
// compacted; and that an in-memory database, which has no index file,
// reports a zero status.
func TestLedgerIndexStatusBacklog(t *testing.T) {
	ctx := context.Background()
	db := ledgerTestDB(t)
	x := db.ledger
	x.stopOnce.Do(func() { close(x.stop) })
	<-x.stopped
	x.mu.Lock()
	x.compactAt = 1 << 30
	x.mu.Unlock()
	s := NewLedgerStore(db)
	want := func(step string, unmerged, runs int64) {
		t.Helper()
		st, err := db.LedgerIndexStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Logs["acme"]; got != (LedgerIndexBacklog{Unmerged: unmerged, Runs: runs}) {
			t.Errorf("%s: backlog %+v, want %d unmerged, %d runs", step, got, unmerged, runs)
		}
		if len(st.Logs) != 1 {
			t.Errorf("%s: %d logs in the status, want 1", step, len(st.Logs))
		}
	}
	st, err := db.LedgerIndexStatus(ctx)
	if err != nil || len(st.Logs) != 0 {
		t.Fatalf("empty database: %+v, %v", st, err)
	}
	size := uint64(0)
	for _, n := range []int{5, 3} {
		if err := ledgerTestAppend(ctx, s, size, n); err != nil {
			t.Fatal(err)
		}
		size += uint64(n)
	}
	want("appended", 8, 0)
	if err := db.ledgerMerge(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	want("merged", 0, 1)
	if err := ledgerTestAppend(ctx, s, size, 4); err != nil {
		t.Fatal(err)
	}
	size += 4
	if err := db.ledgerMerge(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	want("merged twice", 0, 2)
	if err := db.ledgerCompact(ctx, "acme", 1); err != nil {
		t.Fatal(err)
	}
	want("compacted", 0, 0)
	ledgerCheckFound(t, s, size)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.LedgerIndexStatus(cctx); !errors.Is(err, errs.ErrUnavailable) {
		t.Errorf("status with a cancelled context: %v, want ErrUnavailable", err)
	}

	mem, err := Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	if err := ledgerTestAppend(ctx, NewLedgerStore(mem), 0, 3); err != nil {
		t.Fatal(err)
	}
	if st, err := mem.LedgerIndexStatus(ctx); err != nil || st.Logs != nil || st.Merger != (WorkerStatus{}) || st.Checkpointer != (WorkerStatus{}) {
		t.Errorf("in-memory database: %+v, %v; want a zero status", st, err)
	}
}

// TestLedgerIndexStatusClosed checks that the status of a closed DB is an
// errs.ErrUnavailable error that still carries the workers' records.
func TestLedgerIndexStatusClosed(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "human.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.ledger.merges.record(errors.New("disk full"))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := db.LedgerIndexStatus(ctx)
	if !errors.Is(err, errs.ErrUnavailable) {
		t.Errorf("status of a closed DB: %v, want ErrUnavailable", err)
	}
	if st.Merger.Failures != 1 || st.Merger.LastError != "disk full" || st.Logs != nil {
		t.Errorf("status of a closed DB: %+v, want the merger's record and no backlog", st)
	}
}
