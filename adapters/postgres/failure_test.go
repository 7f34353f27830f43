package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/humanos/human/adapters/postgres"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/internal/testenv"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

// TestLostConnectionMidAppend kills the server process serving an Append
// while the transaction has written its entries but not yet its nodes and
// head: the call fails with errs.ErrUnavailable and the log shows nothing
// of it.
func TestLostConnectionMidAppend(t *testing.T) {
	ctx := context.Background()
	schema := newSchema(t)
	// A pool of its own, so the killed connection harms no other test.
	cfg, err := pgxpool.ParseConfig(testenv.Require(t, appURLEnv))
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	d, err := postgres.Open(ctx, pool, &postgres.Options{Schema: schema, Migrate: postgres.MigrateCheck})
	if err != nil {
		t.Fatal(err)
	}
	s := postgres.NewLedgerStore(d)
	if err := s.Append(ctx, "acme", 0, [][]byte{[]byte("e0")}, nil, []byte("cp1")); err != nil {
		t.Fatal(err)
	}
	// The owner blocks writes to ledger_nodes, so the next Append stops
	// inside its transaction, after inserting its entries.
	owner := sharedPool(t, ownerURLEnv)
	blocker, err := owner.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Rollback(ctx)
	if _, err := blocker.Exec(ctx, `LOCK TABLE `+pgx.Identifier{schema, "ledger_nodes"}.Sanitize()+` IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- s.Append(ctx, "acme", 1, [][]byte{[]byte("e1"), []byte("e2")},
			[]ledger.Node{{ID: ledger.NodeID{Level: 1, Index: 0}, Hash: []byte("n")}}, []byte("cp3"))
	}()
	// Wait until it is blocked on the lock, then kill its backend. Only
	// pg_locks is visible across roles, and a role may terminate its own
	// backends: the application role kills it.
	killer := sharedPool(t, appURLEnv)
	var killed bool
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !killed; time.Sleep(10 * time.Millisecond) {
		err := killer.QueryRow(ctx, `SELECT coalesce(bool_or(pg_terminate_backend(pid)), false) FROM pg_locks
			WHERE NOT granted AND relation = to_regclass($1)`, schema+".ledger_nodes").Scan(&killed)
		if err != nil {
			t.Fatal(err)
		}
	}
	if !killed {
		t.Fatal("the append never blocked on the lock")
	}
	err = <-done
	if !errors.Is(err, errs.ErrUnavailable) {
		t.Fatalf("Append on a killed connection = %v, want ErrUnavailable", err)
	}
	if err := blocker.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	size, cp, err := s.Head(ctx, "acme")
	if err != nil || size != 1 || string(cp) != "cp1" {
		t.Fatalf("Head after the lost append = %d, %q, %v; want 1, cp1", size, cp, err)
	}
	if _, err := s.Entries(ctx, "acme", 1, 2); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("entry 1 after the lost append: %v, want ErrNotFound (nothing half-written)", err)
	}
	// The log goes on from where it was.
	if err := s.Append(ctx, "acme", 1, [][]byte{[]byte("e1")}, nil, []byte("cp2")); err != nil {
		t.Fatalf("append after the lost one: %v", err)
	}
}

// TestCancelledContext: every method with a cancelled context returns
// ErrUnavailable wrapping context.Canceled.
func TestCancelledContext(t *testing.T) {
	d := newDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	st := d.Stores()
	for name, err := range map[string]error{
		"Append": st.Ledger.Append(ctx, "acme", 0, [][]byte{[]byte("x")}, nil, nil),
		"Head":   func() error { _, _, err := st.Ledger.Head(ctx, "acme"); return err }(),
		"Spend":  func() error { _, err := st.Budgets.Spend(ctx, "acme", nil); return err }(),
		"Turn":   func() error { _, err := postgres.NewQueueStore(d).Turn(ctx, "acme", "k"); return err }(),
	} {
		if !errors.Is(err, errs.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v", name, err)
		}
	}
}

// TestTwoReplicasOneLinearLog: two ledger.Logs on two connection pools
// (two servers sharing one database) append concurrently to one org's log;
// the compare-and-swap on the head row gives one log that verifies, with
// every entry once, no fork and no gap.
func TestTwoReplicasOneLinearLog(t *testing.T) {
	ctx := context.Background()
	schema := newSchema(t)
	signer, err := passport.GenerateEd25519()
	if err != nil {
		t.Fatal(err)
	}
	perReplica := 5000
	if testing.Short() {
		perReplica = 500
	}
	open := func() (*ledger.Log, func()) {
		pool, err := pgxpool.New(ctx, testenv.Require(t, appURLEnv))
		if err != nil {
			t.Fatal(err)
		}
		d, err := postgres.Open(ctx, pool, &postgres.Options{Schema: schema, Migrate: postgres.MigrateCheck})
		if err != nil {
			t.Fatal(err)
		}
		l, err := ledger.Open(ctx, postgres.NewLedgerStore(d), "acme", signer, nil)
		if err != nil {
			t.Fatal(err)
		}
		return l, func() { l.Close(); pool.Close() }
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		indexes = map[uint64]string{}
	)
	start := time.Now()
	for r := range 2 {
		l, closeLog := open()
		defer closeLog()
		wg.Add(1)
		go func() {
			defer wg.Done()
			pending := make([]*ledger.Pending, 0, perReplica)
			for i := range perReplica {
				p, err := l.Submit(ctx, fmt.Appendf(nil, "replica %d entry %d", r, i))
				if err != nil {
					t.Error(err)
					return
				}
				pending = append(pending, p)
			}
			for i, p := range pending {
				rc, err := p.Wait(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if prev, dup := indexes[rc.Index]; dup {
					t.Errorf("index %d given to %q and to replica %d entry %d", rc.Index, prev, r, i)
				}
				indexes[rc.Index] = fmt.Sprintf("replica %d entry %d", r, i)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("%d entries appended by 2 replicas in %v", 2*perReplica, time.Since(start))
	if t.Failed() {
		return
	}
	l, closeLog := open()
	defer closeLog()
	if err := l.Verify(ctx); err != nil {
		t.Fatalf("the shared log does not verify: %v", err)
	}
	cp, _, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(2 * perReplica); cp.Size != want || uint64(len(indexes)) != want {
		t.Fatalf("log size %d with %d receipts, want %d", cp.Size, len(indexes), want)
	}
	// Verify checked the tree over every stored entry; each entry must be
	// the one its receipt named.
	entries, err := postgres.NewLedgerStore(openApp(t, schema)).Entries(ctx, "acme", 0, cp.Size)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		if string(e) != indexes[uint64(i)] {
			t.Fatalf("entry %d is %q, its receipt said %q", i, e, indexes[uint64(i)])
		}
	}

}
