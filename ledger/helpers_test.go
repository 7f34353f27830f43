package ledger_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/adapters/sqlite"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

func newSigner(t testing.TB) *passport.Ed25519Signer {
	t.Helper()
	s, err := passport.GenerateEd25519()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openLog opens org's log over store and closes it when the test ends.
func openLog(t testing.TB, store ledger.Store, org string, signer passport.Signer, opts *ledger.Options) *ledger.Log {
	t.Helper()
	l, err := ledger.Open(context.Background(), store, org, signer, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", org, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func newMemLog(t testing.TB) (*ledger.Log, *memory.LedgerStore) {
	t.Helper()
	s := memory.NewLedgerStore()
	return openLog(t, s, "acme", newSigner(t), nil), s
}

// openSQLite opens (or reopens) the database file at path, closed at the end.
func openSQLite(t testing.TB, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func tempDBPath(t testing.TB) string { return filepath.Join(t.TempDir(), "human.db") }

func mustAppend(t testing.TB, l *ledger.Log, entries ...string) []*ledger.Receipt {
	t.Helper()
	var out []*ledger.Receipt
	for _, e := range entries {
		r, err := l.Append(context.Background(), []byte(e))
		if err != nil {
			t.Fatalf("Append(%q): %v", e, err)
		}
		out = append(out, r)
	}
	return out
}

func wantKind(t testing.TB, what string, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Errorf("%s: err = %v, want %v", what, err, kind)
	}
}

// hookStore wraps a Store so tests can count, delay, fail or tamper with
// its calls, as a faulty or hostile backend would.
type hookStore struct {
	ledger.Store
	appends   atomic.Int64
	mu        sync.Mutex
	onAppend  func() error
	onEntries func(start uint64, entries [][]byte) ([][]byte, error)
}

func (h *hookStore) Append(ctx context.Context, log string, size uint64, entries [][]byte, nodes []ledger.Node, cp []byte) error {
	h.appends.Add(1)
	h.mu.Lock()
	f := h.onAppend
	h.mu.Unlock()
	if f != nil {
		if err := f(); err != nil {
			return err
		}
	}
	return h.Store.Append(ctx, log, size, entries, nodes, cp)
}

func (h *hookStore) Entries(ctx context.Context, log string, start, end uint64) ([][]byte, error) {
	es, err := h.Store.Entries(ctx, log, start, end)
	h.mu.Lock()
	f := h.onEntries
	h.mu.Unlock()
	if err != nil || f == nil {
		return es, err
	}
	return f(start, es)
}

var errInjected = errs.Errorf(errs.ErrUnavailable, "injected backend failure")
