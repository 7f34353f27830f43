package human_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/ledger"
)

// TestAttestationsQuery: on every profile, the org's attestations are found
// by actor, approver, subject, kind and time, a page at a time, and each
// result's receipt verifies offline with the published ledger key.
func TestAttestationsQuery(t *testing.T) {
	ctx := context.Background()
	for name, profile := range profiles {
		t.Run(name, func(t *testing.T) {
			start := time.Now().Add(-time.Second)
			w := setup(t, profile(t))
			out := w.call(t, "payments.send", "invoice:42", 1200) // pending
			if _, err := w.vote(t, w.bobKey, w.bob, out.Task, "approve"); err != nil {
				t.Fatal(err)
			}
			if _, err := out.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			w.call(t, "payments.send", "invoice:43", 10) // allowed

			query := func(q ledger.Query) []*ledger.Attestation {
				t.Helper()
				page, err := w.c.Attestations(ctx, &q)
				if err != nil {
					t.Fatalf("Attestations(%+v): %v", q.Filter, err)
				}
				return page.Attestations
			}
			kinds := func(as []*ledger.Attestation) []string {
				var out []string
				for _, a := range as {
					out = append(out, a.Statement.PredicateType)
				}
				return out
			}

			byAgent := query(ledger.Query{Filter: ledger.Filter{Actor: w.agent.DID, Kind: ledger.PredicateDecision}})
			if len(byAgent) < 2 {
				t.Errorf("decisions by the agent: %d, want at least 2", len(byAgent))
			}
			byBob := query(ledger.Query{Filter: ledger.Filter{Actor: w.bob.DID, Kind: ledger.PredicateApproval}})
			if len(byBob) != 1 || byBob[0].Fields.Action != "payments.send" {
				t.Errorf("approvals by bob = %d (%v), want his one vote on payments.send", len(byBob), kinds(byBob))
			}
			invoice := query(ledger.Query{Filter: ledger.Filter{Subject: "invoice:42"}})
			if len(invoice) < 2 || !slices.Contains(kinds(invoice), ledger.PredicateApproval) || !slices.Contains(kinds(invoice), ledger.PredicateDecision) {
				t.Errorf("attestations about invoice:42 = %v, want its decisions and approval", kinds(invoice))
			}
			if got := query(ledger.Query{Filter: ledger.Filter{Kind: ledger.PredicatePassportEvent, Actor: w.alice.DID}}); len(got) == 0 {
				t.Error("alice's passport events are not found by her DID")
			}
			if got := query(ledger.Query{Filter: ledger.Filter{Action: "grant", Subject: "finance.approver"}}); len(got) != 2 {
				t.Errorf("grants of finance.approver = %d, want 2 (bob, carol)", len(got))
			}
			if got := query(ledger.Query{Filter: ledger.Filter{Until: start}}); len(got) != 0 {
				t.Errorf("%d attestations before the deployment existed", len(got))
			}
			recent := query(ledger.Query{Filter: ledger.Filter{Since: start, Until: time.Now().Add(time.Minute)}})
			all := query(ledger.Query{Limit: ledger.MaxQueryLimit})
			if len(recent) != len(all) {
				t.Errorf("time range covering the test finds %d of %d attestations (every predicate must carry a time)", len(recent), len(all))
			}

			// Page through everything with proofs.
			var seen []uint64
			q := &ledger.Query{Limit: 3, Proofs: true}
			for {
				page, err := w.c.Attestations(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range page.Attestations {
					seen = append(seen, a.Index)
					if err := human.VerifyReceipt(a.Receipt, w.c.LedgerKey()); err != nil {
						t.Fatalf("receipt of %d: %v", a.Index, err)
					}
				}
				if page.Next == "" {
					break
				}
				q.Cursor = page.Next
			}
			if len(seen) != len(all) || !slices.IsSorted(seen) {
				t.Errorf("paging saw %d results, want %d in order", len(seen), len(all))
			}
		})
	}
}
