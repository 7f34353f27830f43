package neo4j_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	humanneo4j "github.com/humanos/human/adapters/neo4j"
	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
)

// TestRecordClaimConcurrent: two callers recording one claim ID at once
// get exactly one success and one errs.ErrConflict, round after round.
func TestRecordClaimConcurrent(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, testDriver(t))
	for round := range 10 {
		id := fmt.Sprintf("c-%d", round)
		var wg sync.WaitGroup
		results := make([]error, 2)
		for i := range results {
			wg.Go(func() { results[i] = s.RecordClaim(ctx, "acme", id, fmt.Sprintf("%064x", i)) })
		}
		wg.Wait()
		ok, conflict := 0, 0
		for _, err := range results {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, errs.ErrConflict):
				conflict++
			default:
				t.Fatalf("round %d: RecordClaim = %v", round, err)
			}
		}
		if ok != 1 || conflict != 1 {
			t.Fatalf("round %d: %d successes and %d conflicts (%v), want 1 and 1", round, ok, conflict, results)
		}
		recs, err := s.ListClaims(ctx, "acme", id[:len(id)-1], 10)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range recs {
			if r.ID == id {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("round %d: %d records of %s, want 1", round, n, id)
		}
	}
}

// TestAttackClaimKeyCollision: claim IDs crafted so that org and ID, or
// namespace and org, run together must not be taken for another org's or
// namespace's spent claim, and evidence likewise stays with its holding.
func TestAttackClaimKeyCollision(t *testing.T) {
	ctx := context.Background()
	d := testDriver(t)
	ns := freshNamespace()
	a, _ := humanneo4j.Open(ctx, d, &humanneo4j.Options{Namespace: ns})
	b, _ := humanneo4j.Open(ctx, d, &humanneo4j.Options{Namespace: ns + "x"})
	digest := fmt.Sprintf("%064x", 1)
	if err := a.RecordClaim(ctx, "acme", "c", digest); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := a.AddEvidence(ctx, "acme", "alice", "pay", capability.Evidence{Kind: "approval", Ref: "r", At: at}); err != nil {
		t.Fatal(err)
	}
	for _, probe := range []struct {
		s       *humanneo4j.Store
		org, id string
	}{
		{a, "acm", "e4:c"}, {a, "acme4:", "c"}, {b, "acme", "c"}, {a, "4:acme", "c"}, {a, "acme", "c "},
	} {
		if err := probe.s.RecordClaim(ctx, probe.org, probe.id, digest); err != nil {
			t.Errorf("RecordClaim(%q, %q) = %v, want a fresh record", probe.org, probe.id, err)
		}
	}
	for _, probe := range []struct {
		s                   *humanneo4j.Store
		org, subject, capID string
	}{
		{a, "acme", "alic", "e3:pay"}, {a, "acme", "alice3:", "pay"}, {b, "acme", "alice", "pay"}, {a, "acm", "e5:alice", "pay"},
	} {
		if got, err := probe.s.Evidence(ctx, probe.org, probe.subject, probe.capID); err != nil || len(got) != 0 {
			t.Errorf("Evidence(%q, %q, %q) = %+v, %v; want none", probe.org, probe.subject, probe.capID, got, err)
		}
		// Writing the same ref there must not be a no-op against acme's.
		if err := probe.s.AddEvidence(ctx, probe.org, probe.subject, probe.capID, capability.Evidence{Kind: "task", Ref: "r", At: at}); err != nil {
			t.Fatal(err)
		}
		if got, err := probe.s.Evidence(ctx, probe.org, probe.subject, probe.capID); err != nil || len(got) != 1 || got[0].Kind != "task" {
			t.Errorf("Evidence(%q, %q, %q) after adding = %+v, %v; want the new pointer", probe.org, probe.subject, probe.capID, got, err)
		}
	}
	if got, err := a.Evidence(ctx, "acme", "alice", "pay"); err != nil || len(got) != 1 || got[0].Kind != "approval" {
		t.Fatalf("acme's evidence = %+v, %v; want the one approval", got, err)
	}
}

// TestEvidenceOutlivesHolding: evidence attached while a holding existed
// stays, with its time to the nanosecond, after the grant is removed.
func TestEvidenceOutlivesHolding(t *testing.T) {
	ctx := context.Background()
	g := capability.NewGraph(newStore(t, testDriver(t)), nil)
	for _, n := range []capability.Node{{ID: "did:key:alice", Kind: capability.Human}, {ID: "pay", Kind: capability.Capability}} {
		if err := g.AddNode(ctx, "acme", n); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Grant(ctx, "acme", "did:key:alice", "pay"); err != nil {
		t.Fatal(err)
	}
	at := time.Date(1600, 1, 2, 3, 4, 5, 987654321, time.UTC) // outside UnixNano's range
	if err := g.AddEvidence(ctx, "acme", "did:key:alice", "pay", capability.Evidence{Kind: "approval", Ref: "ledger:7", Task: "t7", At: at}); err != nil {
		t.Fatal(err)
	}
	if err := g.RemoveEdge(ctx, "acme", "did:key:alice", capability.Holds, "pay"); err != nil {
		t.Fatal(err)
	}
	got, err := g.Evidence(ctx, "acme", "did:key:alice", "pay")
	if err != nil || len(got) != 1 || got[0].Ref != "ledger:7" || got[0].Task != "t7" || !got[0].At.Equal(at) {
		t.Fatalf("Evidence after the grant is removed = %+v, %v", got, err)
	}
}
