package postgres_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humanos/human/adapters/postgres"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

// ledgerCountingStore counts the log reads a query makes (Entries), to
// show that Query answers from the index, not by scanning the log.
type ledgerCountingStore struct {
	*postgres.LedgerStore
	entries atomic.Int64
}

func (s *ledgerCountingStore) Entries(ctx context.Context, log string, start, end uint64) ([][]byte, error) {
	s.entries.Add(1)
	return s.LedgerStore.Entries(ctx, log, start, end)
}

// TestLedgerQueryUsesIndex: over PostgreSQL, Log.Query (and so the
// passport anchor check, which is a Query) finds attestations through the
// index without reading the log, pages included, and results re-check.
func TestLedgerQueryUsesIndex(t *testing.T) {
	ctx := context.Background()
	store := &ledgerCountingStore{LedgerStore: postgres.NewLedgerStore(newDB(t))}
	signer, err := passport.GenerateEd25519()
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l, err := ledger.Open(ctx, store, "acme", signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var pending []*ledger.Pending
	for i := range 300 {
		st, err := ledger.NewStatement(ledger.PredicateDecision, map[string]any{
			"org": "acme", "agent": fmt.Sprintf("did:agent:%d", i%3), "action": "payments.send",
			"resource": fmt.Sprintf("invoice:%d", i), "time": t0.Add(time.Duration(i) * time.Minute),
		}, ledger.SubjectFor(fmt.Sprintf("agent-%d", i%3), []byte{byte(i % 3)}))
		if err != nil {
			t.Fatal(err)
		}
		p, err := l.Attest(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, p)
	}
	for _, p := range pending {
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		q    ledger.Query
		want int
	}{
		{"actor", ledger.Query{Filter: ledger.Filter{Actor: "did:agent:1"}, Limit: 40}, 100},
		{"subject", ledger.Query{Filter: ledger.Filter{Subject: "invoice:299"}}, 1},
		{"kind and time", ledger.Query{Filter: ledger.Filter{Kind: ledger.PredicateDecision, Since: t0.Add(10 * time.Minute), Until: t0.Add(20 * time.Minute)}}, 10},
		{"org, with proofs", ledger.Query{Filter: ledger.Filter{Org: "acme"}, Limit: 128, Proofs: true}, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store.entries.Store(0)
			q, got := tc.q, 0
			for {
				page, err := l.Query(ctx, &q)
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range page.Attestations {
					if tc.q.Proofs && a.Receipt == nil {
						t.Fatalf("entry %d: no receipt", a.Index)
					}
				}
				got += len(page.Attestations)
				if page.Next == "" {
					break
				}
				q.Cursor = page.Next
			}
			if got != tc.want {
				t.Errorf("found %d, want %d", got, tc.want)
			}
			if n := store.entries.Load(); n != 0 {
				t.Errorf("query read the log %d times; want answers from the index only", n)
			}
		})
	}
}
