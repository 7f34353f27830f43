package ledger_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/adapters/sqlite"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

var queryT0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// queryStatements are predicates of the shapes package human writes.
func queryStatements(t testing.TB) []*ledger.Statement {
	t.Helper()
	human, err := passport.GenerateEd25519()
	if err != nil {
		t.Fatal(err)
	}
	// A passport event anchored as package human does: the envelope inside.
	ev, err := passport.Seal("application/vnd.humanos.passport-event+json",
		[]byte(`{"type":"inception","did":"did:human:alice","created":"2026-03-01T08:00:00Z"}`), human)
	if err != nil {
		t.Fatal(err)
	}
	evRaw, _ := ev.Marshal()
	mk := func(kind string, pred any, subject string) *ledger.Statement {
		st, err := ledger.NewStatement(kind, pred, ledger.SubjectFor(subject, []byte(subject)))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	return []*ledger.Statement{
		0: mk(ledger.PredicatePassportEvent, map[string]any{"org": "acme", "kind": "inception", "event": json.RawMessage(evRaw)}, "inception"),
		1: mk(ledger.PredicateDecision, map[string]any{"org": "acme", "agent": "did:agent:7", "requester": "did:human:alice",
			"action": "payments.transfer", "resource": "invoice:1", "status": "allowed", "time": queryT0}, "did:agent:7"),
		2: mk(ledger.PredicateDecision, map[string]any{"org": "acme", "agent": "did:agent:8", "requester": "did:human:bob",
			"action": "payments.refund", "resource": "invoice:2", "status": "pending", "task": "task-1", "time": queryT0.Add(time.Hour)}, "did:agent:8"),
		3: mk(ledger.PredicateApproval, map[string]any{"org": "acme", "task": "task-1", "agent": "did:agent:8", "action": "payments.refund",
			"approver": "did:human:alice", "verdict": "approve", "time": queryT0.Add(2 * time.Hour)}, "task-1"),
		4: mk(ledger.PredicateCapabilityChange, map[string]any{"org": "acme", "change": "grant", "from": "did:human:bob", "to": "refunds.approve",
			"time": queryT0.Add(3 * time.Hour)}, "did:human:bob"),
		5: mk(ledger.PredicatePolicyChange, map[string]any{"org": "acme", "change": "publish", "version": 2, "signer": "did:human:carol",
			"time": queryT0.Add(4 * time.Hour)}, "policy/acme/v2"),
		6: mk(ledger.PredicateDecision, map[string]any{"org": "acme", "agent": "did:agent:7", "requester": "did:human:alice",
			"action": "payments.transfer", "resource": "invoice:3", "status": "denied", "time": queryT0.Add(5 * time.Hour)}, "did:agent:7"),
	}
}

func TestIndexFields(t *testing.T) {
	sts := queryStatements(t)
	for _, tc := range []struct {
		i            int
		kind, action string
		actors       []string
		subjects     []string // must all be present
		time         time.Time
	}{
		{0, ledger.PredicatePassportEvent, "inception", []string{"did:human:alice"}, []string{"inception", "did:human:alice"}, queryT0.Add(-time.Hour)},
		{1, ledger.PredicateDecision, "payments.transfer", []string{"did:agent:7", "did:human:alice"}, []string{"did:agent:7", "invoice:1"}, queryT0},
		{2, ledger.PredicateDecision, "payments.refund", []string{"did:agent:8", "did:human:bob"}, []string{"invoice:2", "task-1"}, queryT0.Add(time.Hour)},
		{3, ledger.PredicateApproval, "payments.refund", []string{"did:agent:8", "did:human:alice"}, []string{"task-1"}, queryT0.Add(2 * time.Hour)},
		{4, ledger.PredicateCapabilityChange, "grant", nil, []string{"did:human:bob", "refunds.approve"}, queryT0.Add(3 * time.Hour)},
		{5, ledger.PredicatePolicyChange, "publish", []string{"did:human:carol"}, []string{"policy/acme/v2"}, queryT0.Add(4 * time.Hour)},
	} {
		t.Run(fmt.Sprint(tc.i), func(t *testing.T) {
			f := ledger.IndexFields(sts[tc.i])
			if f.Kind != tc.kind || f.Org != "acme" || f.Action != tc.action || !f.Time.Equal(tc.time) {
				t.Errorf("fields = %+v; want kind %s, org acme, action %s, time %s", f, tc.kind, tc.action, tc.time)
			}
			if !slices.Equal(f.Actors, tc.actors) {
				t.Errorf("actors = %q, want %q", f.Actors, tc.actors)
			}
			for _, s := range tc.subjects {
				if !slices.Contains(f.Subjects, s) {
					t.Errorf("subjects %q lack %q", f.Subjects, s)
				}
			}
			if !slices.Contains(f.Subjects, "sha256:"+sts[tc.i].Subject[0].Digest["sha256"]) {
				t.Errorf("subjects %q lack the statement subject's digest", f.Subjects)
			}
		})
	}
}

// plainStore hides a store's IndexStore methods, so Query scans.
type plainStore struct{ ledger.Store }

func queryStores() []struct {
	name string
	open func(t *testing.T) ledger.Store
} {
	return []struct {
		name string
		open func(t *testing.T) ledger.Store
	}{
		{"memory", func(t *testing.T) ledger.Store { return memory.NewLedgerStore() }},
		{"sqlite", func(t *testing.T) ledger.Store { return sqlite.NewLedgerStore(openSQLite(t, tempDBPath(t))) }},
		{"scan", func(t *testing.T) ledger.Store { return plainStore{memory.NewLedgerStore()} }},
	}
}

// attestAll attests sts in order and returns their receipts.
func attestAll(t testing.TB, l *ledger.Log, sts []*ledger.Statement) {
	t.Helper()
	ctx := context.Background()
	for _, st := range sts {
		p, err := l.Attest(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestQuery(t *testing.T) {
	ctx := context.Background()
	for _, sc := range queryStores() {
		t.Run(sc.name, func(t *testing.T) {
			l := openLog(t, sc.open(t), "acme", newSigner(t), nil)
			sts := queryStatements(t)
			attestAll(t, l, sts[:3])
			mustAppend(t, l, "a raw entry, not an attestation")
			attestAll(t, l, sts[3:])
			// Indices: statement i is at i for i < 3 and at i+1 after.
			for _, tc := range []struct {
				name string
				f    ledger.Filter
				want []uint64
			}{
				{"everything", ledger.Filter{}, []uint64{0, 1, 2, 4, 5, 6, 7}},
				{"kind", ledger.Filter{Kind: ledger.PredicateDecision}, []uint64{1, 2, 7}},
				{"org", ledger.Filter{Org: "acme"}, []uint64{0, 1, 2, 4, 5, 6, 7}},
				{"other org", ledger.Filter{Org: "globex"}, nil},
				{"actor agent", ledger.Filter{Actor: "did:agent:7"}, []uint64{1, 7}},
				{"actor human", ledger.Filter{Actor: "did:human:alice"}, []uint64{0, 1, 4, 7}},
				{"action", ledger.Filter{Action: "payments.refund"}, []uint64{2, 4}},
				{"subject resource", ledger.Filter{Subject: "invoice:2"}, []uint64{2}},
				{"subject task", ledger.Filter{Subject: "task-1"}, []uint64{2, 4}},
				{"time range", ledger.Filter{Since: queryT0.Add(time.Hour), Until: queryT0.Add(4 * time.Hour)}, []uint64{2, 4, 5}},
				{"actor and kind", ledger.Filter{Actor: "did:human:alice", Kind: ledger.PredicateApproval}, []uint64{4}},
				{"no match", ledger.Filter{Actor: "did:human:mallory"}, nil},
			} {
				t.Run(tc.name, func(t *testing.T) {
					page, err := l.Query(ctx, &ledger.Query{Filter: tc.f})
					if err != nil {
						t.Fatal(err)
					}
					var got []uint64
					for _, a := range page.Attestations {
						got = append(got, a.Index)
						if a.Receipt != nil {
							t.Errorf("receipt without Proofs")
						}
					}
					if !slices.Equal(got, tc.want) || page.Next != "" {
						t.Errorf("Query(%+v) = %v (next %q), want %v", tc.f, got, page.Next, tc.want)
					}
				})
			}

			t.Run("Pages", func(t *testing.T) {
				var got []uint64
				q := &ledger.Query{Filter: ledger.Filter{Org: "acme"}, Limit: 2, Proofs: true}
				for pages := 0; ; pages++ {
					if pages > 10 {
						t.Fatal("cursor does not advance")
					}
					page, err := l.Query(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					if len(page.Attestations) > 2 {
						t.Fatalf("page of %d, limit 2", len(page.Attestations))
					}
					for _, a := range page.Attestations {
						got = append(got, a.Index)
						if a.Receipt == nil {
							t.Fatalf("entry %d: no receipt with Proofs", a.Index)
						}
						if err := ledger.VerifyReceipt(a.Receipt, l.Verifier()); err != nil {
							t.Errorf("entry %d: receipt does not verify: %v", a.Index, err)
						}
						if string(a.Receipt.Checkpoint) != string(page.Checkpoint) {
							t.Errorf("entry %d: receipt against another checkpoint than the page's", a.Index)
						}
					}
					if page.Next == "" {
						break
					}
					q.Cursor = page.Next
				}
				if want := []uint64{0, 1, 2, 4, 5, 6, 7}; !slices.Equal(got, want) {
					t.Errorf("paged = %v, want %v", got, want)
				}
			})

			t.Run("BadQueries", func(t *testing.T) {
				page, err := l.Query(ctx, &ledger.Query{Limit: 1})
				if err != nil || page.Next == "" {
					t.Fatalf("first page: %v, next %q", err, page.Next)
				}
				for _, tc := range []struct {
					name string
					q    ledger.Query
				}{
					{"negative limit", ledger.Query{Limit: -1}},
					{"limit too large", ledger.Query{Limit: ledger.MaxQueryLimit + 1}},
					{"malformed cursor", ledger.Query{Cursor: "not a cursor!"}},
					{"truncated cursor", ledger.Query{Cursor: page.Next[:10]}},
					{"cursor of another query", ledger.Query{Filter: ledger.Filter{Kind: ledger.PredicateDecision}, Cursor: page.Next}},
					{"empty time range", ledger.Query{Filter: ledger.Filter{Since: queryT0, Until: queryT0}}},
				} {
					_, err := l.Query(ctx, &tc.q)
					wantKind(t, tc.name, err, errs.ErrInvalidArgument)
				}
				cctx, cancel := context.WithCancel(ctx)
				cancel()
				_, err = l.Query(cctx, nil)
				wantKind(t, "cancelled", err, errs.ErrUnavailable)
			})
		})
	}
}

// lyingIndex is a fake hostile IndexStore: its Find rewrites what the real
// index found, as a compromised database would.
type lyingIndex struct {
	*memory.LedgerStore
	rewrite func([]ledger.Found) []ledger.Found
}

func (s *lyingIndex) Find(ctx context.Context, log string, f *ledger.Filter, from uint64, limit int) ([]ledger.Found, error) {
	found, err := s.LedgerStore.Find(ctx, log, f, from, limit)
	if err != nil {
		return nil, err
	}
	return s.rewrite(found), nil
}

// TestAttackQuery: a store that lies in its query answers is caught; each
// lie is errs.ErrUnauthenticated, never a wrong result.
func TestAttackQuery(t *testing.T) {
	ctx := context.Background()
	sts := queryStatements(t)
	other := newSigner(t)
	forged, err := passport.Seal(ledger.PayloadType, mustJSON(t, sts[1]), other)
	if err != nil {
		t.Fatal(err)
	}
	forgedRaw, _ := forged.Marshal()
	for _, tc := range []struct {
		name    string
		f       ledger.Filter
		proofs  bool
		rewrite func(store *memory.LedgerStore, found []ledger.Found) []ledger.Found
	}{
		{"entry signed by another key", ledger.Filter{Actor: "did:agent:7"}, false, func(_ *memory.LedgerStore, f []ledger.Found) []ledger.Found {
			f[0].Entry = forgedRaw
			return f
		}},
		{"changed byte", ledger.Filter{Actor: "did:agent:7"}, false, func(_ *memory.LedgerStore, f []ledger.Found) []ledger.Found {
			f[0].Entry = slices.Clone(f[0].Entry)
			f[0].Entry[len(f[0].Entry)/2] ^= 1
			return f
		}},
		{"genuine entry that does not match", ledger.Filter{Actor: "did:agent:7"}, false, func(s *memory.LedgerStore, f []ledger.Found) []ledger.Found {
			es, _ := s.Entries(ctx, "acme", 5, 6) // a policy change
			return append(f, ledger.Found{Index: 5, Entry: es[0]})
		}},
		{"genuine matching entry at another index", ledger.Filter{Actor: "did:agent:7"}, true, func(_ *memory.LedgerStore, f []ledger.Found) []ledger.Found {
			f[0].Index, f[1].Index = 3, 9
			return f
		}},
		{"a result twice", ledger.Filter{Actor: "did:agent:7"}, false, func(_ *memory.LedgerStore, f []ledger.Found) []ledger.Found {
			return []ledger.Found{f[0], f[0]}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := memory.NewLedgerStore()
			store := &lyingIndex{LedgerStore: inner}
			store.rewrite = func(f []ledger.Found) []ledger.Found { return f }
			l := openLog(t, store, "acme", newSigner(t), nil)
			attestAll(t, l, sts)
			store.rewrite = func(f []ledger.Found) []ledger.Found { return tc.rewrite(inner, f) }
			_, err := l.Query(ctx, &ledger.Query{Filter: tc.f, Proofs: tc.proofs})
			wantKind(t, tc.name, err, errs.ErrUnauthenticated)
		})
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestQueryReopen: the index persists with the entries; a second Log on
// the same SQLite file (another process) finds the first one's entries.
func TestQueryReopen(t *testing.T) {
	ctx := context.Background()
	path := tempDBPath(t)
	signer := newSigner(t)
	l1 := openLog(t, sqlite.NewLedgerStore(openSQLite(t, path)), "acme", signer, nil)
	attestAll(t, l1, queryStatements(t))
	l1.Close()
	l2 := openLog(t, sqlite.NewLedgerStore(openSQLite(t, path)), "acme", signer, nil)
	page, err := l2.Query(ctx, &ledger.Query{Filter: ledger.Filter{Actor: "did:agent:7"}, Proofs: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Attestations) != 2 || page.Attestations[0].Index != 1 || page.Attestations[1].Index != 6 {
		t.Errorf("after reopening: %d results", len(page.Attestations))
	}
}

func FuzzQueryCursor(f *testing.F) {
	l, _ := newMemLog(f)
	attestAll(f, l, queryStatements(f))
	page, err := l.Query(context.Background(), &ledger.Query{Limit: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(page.Next)
	f.Add("")
	f.Add("AQAAAAAAAAAB")
	f.Fuzz(func(t *testing.T, cursor string) {
		page, err := l.Query(context.Background(), &ledger.Query{Limit: 3, Cursor: cursor})
		if err != nil {
			wantKind(t, "fuzzed cursor", err, errs.ErrInvalidArgument)
			return
		}
		if len(page.Attestations) > 3 {
			t.Errorf("%d results, limit 3", len(page.Attestations))
		}
	})
}

func FuzzIndexFields(f *testing.F) {
	for _, st := range queryStatements(f) {
		f.Add(string(st.Predicate))
	}
	f.Add(`{"agent": 5, "time": "yesterday", "event": {"payload": 1}}`)
	f.Fuzz(func(t *testing.T, pred string) {
		st := &ledger.Statement{Type: ledger.StatementType, PredicateType: "k",
			Subject: []ledger.Subject{{Name: "s", Digest: map[string]string{"sha256": "00"}}}, Predicate: json.RawMessage(pred)}
		fields := ledger.IndexFields(st)
		if fields.Kind != "k" || !slices.IsSorted(fields.Actors) || !slices.IsSorted(fields.Subjects) {
			t.Errorf("fields %+v", fields)
		}
		if !(&ledger.Filter{Subject: "s"}).Match(fields) {
			t.Errorf("subject name not indexed")
		}
	})
}
