package ledger_test

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

func TestAppendReceipts(t *testing.T) {
	ctx := context.Background()
	l, _ := newMemLog(t)
	const n = 50
	pending := make([]*ledger.Pending, n)
	for i := range pending {
		p, err := l.Submit(ctx, fmt.Appendf(nil, "entry-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		pending[i] = p
	}
	seen := map[uint64]bool{}
	for i, p := range pending {
		r, err := p.Wait(ctx)
		if err != nil {
			t.Fatalf("Wait %d: %v", i, err)
		}
		if r.Index != uint64(i) || seen[r.Index] {
			t.Errorf("entry %d got index %d (submission order is log order)", i, r.Index)
		}
		seen[r.Index] = true
		if string(r.Entry) != fmt.Sprintf("entry-%d", i) || !bytes.Equal(r.LeafHash, ledger.LeafHash(r.Entry)) {
			t.Errorf("receipt %d carries the wrong entry or leaf hash", i)
		}
		if err := ledger.VerifyReceipt(r, l.Verifier()); err != nil {
			t.Errorf("receipt %d: %v", i, err)
		}
	}
	cp, _, err := l.Checkpoint(ctx)
	if err != nil || cp.Size != n {
		t.Fatalf("Checkpoint = %+v, %v; want size %d", cp, err, n)
	}
	for i := range uint64(n) {
		r, err := l.Receipt(ctx, i)
		if err != nil {
			t.Fatalf("Receipt(%d): %v", i, err)
		}
		if err := ledger.VerifyReceipt(r, l.Verifier()); err != nil {
			t.Errorf("Receipt(%d) against latest: %v", i, err)
		}
		e, err := l.Entry(ctx, i)
		if err != nil || string(e) != fmt.Sprintf("entry-%d", i) {
			t.Errorf("Entry(%d) = %q, %v", i, e, err)
		}
	}
	if err := l.Verify(ctx); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// TestGroupCommit shows concurrent submissions share store appends: while
// the store is busy with one batch, everything queued behind it goes in the
// next one.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	gate := make(chan struct{})
	var once sync.Once
	h := &hookStore{Store: memory.NewLedgerStore()}
	h.onAppend = func() error {
		once.Do(func() { <-gate })
		return nil
	}
	l := openLog(t, h, "acme", newSigner(t), nil)
	var pending []*ledger.Pending
	for i := range 200 {
		p, err := l.Submit(ctx, fmt.Appendf(nil, "e%d", i))
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, p)
	}
	close(gate)
	for _, p := range pending {
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := h.appends.Load(); got > 3 {
		t.Errorf("200 queued entries took %d store appends, want at most 3", got)
	}
	cp, _, _ := l.Checkpoint(ctx)
	if cp.Size != 200 {
		t.Errorf("size = %d, want 200", cp.Size)
	}
}

func TestMaxBatch(t *testing.T) {
	ctx := context.Background()
	gate := make(chan struct{})
	var once sync.Once
	h := &hookStore{Store: memory.NewLedgerStore()}
	h.onAppend = func() error {
		once.Do(func() { <-gate })
		return nil
	}
	l := openLog(t, h, "acme", newSigner(t), &ledger.Options{MaxBatch: 4})
	var pending []*ledger.Pending
	for i := range 13 {
		p, err := l.Submit(ctx, fmt.Appendf(nil, "e%d", i))
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, p)
	}
	close(gate)
	for _, p := range pending {
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The first batch may hold 1..4 entries; the other 9+ go 4 at a time.
	if got := h.appends.Load(); got < 4 || got > 5 {
		t.Errorf("13 entries with MaxBatch 4 took %d appends, want 4 or 5", got)
	}
}

func TestFailedBatchChangesNothing(t *testing.T) {
	ctx := context.Background()
	h := &hookStore{Store: memory.NewLedgerStore()}
	l := openLog(t, h, "acme", newSigner(t), nil)
	mustAppend(t, l, "first")
	h.mu.Lock()
	h.onAppend = func() error { return errInjected }
	h.mu.Unlock()
	_, err := l.Append(ctx, []byte("lost"))
	wantKind(t, "Append with a failing store", err, errs.ErrUnavailable)
	if cp, _, _ := l.Checkpoint(ctx); cp.Size != 1 {
		t.Errorf("size after failed batch = %d, want 1", cp.Size)
	}
	h.mu.Lock()
	h.onAppend = nil
	h.mu.Unlock()
	r := mustAppend(t, l, "second")[0]
	if r.Index != 1 {
		t.Errorf("next entry index = %d, want 1", r.Index)
	}
	if err := l.Verify(ctx); err != nil {
		t.Error(err)
	}
}

func TestResumeFromStore(t *testing.T) {
	ctx := context.Background()
	store := memory.NewLedgerStore()
	signer := newSigner(t)
	l1, err := ledger.Open(ctx, store, "acme", signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	old := mustAppend(t, l1, "a", "b", "c")
	l1.Close()

	l2 := openLog(t, store, "acme", signer, nil)
	r := mustAppend(t, l2, "d")[0]
	if r.Index != 3 {
		t.Fatalf("resumed log appended at %d, want 3", r.Index)
	}
	pr, err := l2.ConsistencyProof(ctx, 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger.VerifyConsistency(old[2].Checkpoint, r.Checkpoint, pr, l2.Verifier()); err != nil {
		t.Errorf("resumed log is not an extension of the first: %v", err)
	}
	if err := l2.Verify(ctx); err != nil {
		t.Errorf("Verify after resume: %v", err)
	}
}

type fakeSuiteSigner struct{ passport.Signer }

func (f fakeSuiteSigner) PublicKey() passport.PublicKey {
	return passport.PublicKey{Suite: "es256", Key: make([]byte, 65)}
}

func TestOpenInvalid(t *testing.T) {
	ctx := context.Background()
	s := newSigner(t)
	store := memory.NewLedgerStore()
	for _, tc := range []struct {
		name   string
		store  ledger.Store
		org    string
		signer passport.Signer
		opts   *ledger.Options
	}{
		{"nil store", nil, "acme", s, nil},
		{"empty org", store, "", s, nil},
		{"nil signer", store, "acme", nil, nil},
		{"non-Ed25519 signer", store, "acme", fakeSuiteSigner{s}, nil},
		{"org with space", store, "ac me", s, nil},
		{"origin with plus", store, "acme", s, &ledger.Options{Origin: "a+b"}},
		{"negative batch", store, "acme", s, &ledger.Options{MaxBatch: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := ledger.Open(ctx, tc.store, tc.org, tc.signer, tc.opts)
			if err == nil {
				l.Close()
			}
			wantKind(t, "Open", err, errs.ErrInvalidArgument)
		})
	}
}

func TestOptions(t *testing.T) {
	l := openLog(t, memory.NewLedgerStore(), "acme", newSigner(t), &ledger.Options{Origin: "example.com/custom"})
	if l.Origin() != "example.com/custom" || l.Verifier().Name() != "example.com/custom" {
		t.Errorf("origin = %q, verifier name %q", l.Origin(), l.Verifier().Name())
	}
	if !strings.HasPrefix(l.VerifierKey(), "example.com/custom+") {
		t.Errorf("verifier key %q does not name the origin", l.VerifierKey())
	}
	d, _ := newMemLog(t)
	if d.Origin() != ledger.DefaultOriginPrefix+"acme" || d.Org() != "acme" {
		t.Errorf("default origin = %q", d.Origin())
	}
}

func TestCloseFlushesAndRefuses(t *testing.T) {
	ctx := context.Background()
	l, err := ledger.Open(ctx, memory.NewLedgerStore(), "acme", newSigner(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	var pending []*ledger.Pending
	for i := range 30 {
		p, err := l.Submit(ctx, fmt.Appendf(nil, "%d", i))
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, p)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for i, p := range pending {
		if _, err := p.Wait(ctx); err != nil {
			t.Errorf("entry %d queued before Close: %v", i, err)
		}
	}
	_, err = l.Submit(ctx, []byte("late"))
	wantKind(t, "Submit after Close", err, errs.ErrFailedPrecondition)
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if cp, _, err := l.Checkpoint(ctx); err != nil || cp.Size != 30 {
		t.Errorf("after Close, Checkpoint = %+v, %v", cp, err)
	}
}

func TestCancelledContext(t *testing.T) {
	l, _ := newMemLog(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := l.Submit(ctx, []byte("x"))
	wantKind(t, "Submit", err, errs.ErrUnavailable)
	wantKind(t, "Submit", err, context.Canceled)
	_, err = l.Append(ctx, []byte("x"))
	wantKind(t, "Append", err, errs.ErrUnavailable)
	_, _, err = l.Checkpoint(ctx)
	wantKind(t, "Checkpoint", err, errs.ErrUnavailable)
	_, err = l.Receipt(ctx, 0)
	wantKind(t, "Receipt", err, errs.ErrUnavailable)
	if cp, _, _ := l.Checkpoint(context.Background()); cp.Size != 0 {
		t.Errorf("cancelled calls appended: size %d", cp.Size)
	}
	gate := make(chan struct{})
	h := &hookStore{Store: memory.NewLedgerStore()}
	h.onAppend = func() error { <-gate; return nil }
	l2 := openLog(t, h, "acme", newSigner(t), nil)
	p, err := l2.Submit(context.Background(), []byte("slow"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Wait(ctx)
	wantKind(t, "Wait with cancelled context", err, errs.ErrUnavailable)
	close(gate)
	if _, err := p.Wait(context.Background()); err != nil {
		t.Errorf("Wait after the cancelled one: %v", err)
	}
}

func TestEntryTooLarge(t *testing.T) {
	l, _ := newMemLog(t)
	_, err := l.Submit(context.Background(), make([]byte, 1<<20+1))
	wantKind(t, "Submit of 1 MiB + 1", err, errs.ErrInvalidArgument)
}

func TestProofArgumentErrors(t *testing.T) {
	ctx := context.Background()
	l, _ := newMemLog(t)
	mustAppend(t, l, "a", "b", "c")
	_, err := l.InclusionProof(ctx, 3, 3)
	wantKind(t, "InclusionProof index == size", err, errs.ErrInvalidArgument)
	_, err = l.InclusionProof(ctx, 0, 4)
	wantKind(t, "InclusionProof beyond the log", err, errs.ErrNotFound)
	_, err = l.ConsistencyProof(ctx, 3, 2)
	wantKind(t, "ConsistencyProof old > new", err, errs.ErrInvalidArgument)
	_, err = l.ConsistencyProof(ctx, 1, 9)
	wantKind(t, "ConsistencyProof beyond the log", err, errs.ErrNotFound)
	_, err = l.Receipt(ctx, 3)
	wantKind(t, "Receipt beyond the log", err, errs.ErrNotFound)
	_, err = l.Entry(ctx, 99)
	wantKind(t, "Entry beyond the log", err, errs.ErrNotFound)
}

func TestEmptyLogCheckpoint(t *testing.T) {
	ctx := context.Background()
	l, _ := newMemLog(t)
	cp, empty, err := l.Checkpoint(ctx)
	if err != nil || cp.Size != 0 || len(cp.Hash) != 32 {
		t.Fatalf("empty Checkpoint = %+v, %v", cp, err)
	}
	if err := l.Verify(ctx); err != nil {
		t.Errorf("Verify of empty log: %v", err)
	}
	rs := mustAppend(t, l, "a", "b")
	pr, err := l.ConsistencyProof(ctx, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger.VerifyConsistency(empty, rs[1].Checkpoint, pr, l.Verifier()); err != nil {
		t.Errorf("consistency from the empty checkpoint: %v", err)
	}
	if err := ledger.VerifyEntries(nil, empty, l.Verifier()); err != nil {
		t.Errorf("VerifyEntries of the empty log: %v", err)
	}
	if err := ledger.VerifyEntries([][]byte{[]byte("a"), []byte("b")}, rs[1].Checkpoint, l.Verifier()); err != nil {
		t.Errorf("VerifyEntries: %v", err)
	}
}

func TestLogsAreIsolatedByOrg(t *testing.T) {
	ctx := context.Background()
	store := memory.NewLedgerStore()
	signer := newSigner(t)
	a := openLog(t, store, "org-a", signer, nil)
	b := openLog(t, store, "org-b", signer, nil)
	mustAppend(t, a, "a0", "a1", "a2")
	rb := mustAppend(t, b, "b0")[0]
	if rb.Index != 0 {
		t.Errorf("org-b's first entry has index %d, want 0", rb.Index)
	}
	if e, err := b.Entry(ctx, 0); err != nil || string(e) != "b0" {
		t.Errorf("org-b entry 0 = %q, %v", e, err)
	}
	_, err := b.Entry(ctx, 1)
	wantKind(t, "org-b reading index 1 (exists only in org-a)", err, errs.ErrNotFound)
	ra, _ := a.Receipt(ctx, 0)
	wantKind(t, "org-a receipt verified as org-b's", ledger.VerifyReceipt(ra, b.Verifier()), errs.ErrUnauthenticated)
}

func TestNewVerifier(t *testing.T) {
	l, _ := newMemLog(t)
	r := mustAppend(t, l, "x")[0]
	v, err := ledger.NewVerifier(l.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger.VerifyReceipt(r, v); err != nil {
		t.Errorf("receipt with parsed verifier: %v", err)
	}
	for _, bad := range []string{"", "acme", "a+b+c", l.VerifierKey() + "x"} {
		_, err := ledger.NewVerifier(bad)
		wantKind(t, fmt.Sprintf("NewVerifier(%q)", bad), err, errs.ErrInvalidArgument)
	}
}

func TestConcurrentSubmitters(t *testing.T) {
	ctx := context.Background()
	l, _ := newMemLog(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var idx []uint64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				r, err := l.Append(ctx, fmt.Appendf(nil, "g%d-%d", g, i))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				idx = append(idx, r.Index)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Slice(idx, func(i, j int) bool { return idx[i] < idx[j] })
	for i, v := range idx {
		if v != uint64(i) {
			t.Fatalf("indices have a gap or duplicate at %d: %d", i, v)
		}
	}
	if err := l.Verify(ctx); err != nil {
		t.Error(err)
	}
}
