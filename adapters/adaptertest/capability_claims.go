package adaptertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
)

// runGraphRolesAndClaims checks the role edge kinds on every store, and
// capability.ClaimStore and capability.EvidenceStore on stores that have
// them.
func runGraphRolesAndClaims(t *testing.T, newStore func(t *testing.T) capability.Store) {
	ctx := context.Background()
	t.Run("RoleEdgesResolve", func(t *testing.T) {
		s := newStore(t)
		g := capability.NewGraph(s, nil)
		for _, n := range []capability.Node{
			{ID: "alice", Kind: capability.Human}, {ID: "bob", Kind: capability.Human},
			{ID: "acme", Kind: capability.Org}, {ID: "treasury", Kind: capability.Team},
			{ID: "controller", Kind: capability.Role}, {ID: "finance.approver", Kind: capability.Capability},
		} {
			if err := g.AddNode(ctx, "org1", n); err != nil {
				t.Fatal(err)
			}
		}
		for _, e := range []capability.Edge{
			{From: "alice", To: "treasury", Kind: capability.MemberOf},
			{From: "treasury", To: "acme", Kind: capability.MemberOf},
			{From: "acme", To: "controller", Kind: capability.HasRole},
			{From: "controller", To: "finance.approver", Kind: capability.Grants, Level: 2},
		} {
			if err := g.AddEdge(ctx, "org1", e); err != nil {
				t.Fatalf("AddEdge(%+v) = %v", e, err)
			}
		}
		out, err := s.Out(ctx, "org1", "controller", capability.Grants)
		if err != nil || len(out) != 1 || out[0].Level != 2 || out[0].Kind != capability.Grants {
			t.Fatalf("Out(controller, grants) = %+v, %v", out, err)
		}
		in, err := s.In(ctx, "org1", "controller", capability.HasRole)
		if err != nil || len(in) != 1 || in[0].From != "acme" {
			t.Fatalf("In(controller, has_role) = %+v, %v", in, err)
		}
		const want = "alice -member_of-> treasury -member_of-> acme -has_role-> controller -grants-> finance.approver"
		p, ok, err := g.Holds(ctx, "org1", "alice", "finance.approver")
		if err != nil || !ok || p.String() != want {
			t.Fatalf("Holds = %q, %v, %v; want %q", p, ok, err, want)
		}
		hs, err := g.Holders(ctx, "org1", "finance.approver")
		if err != nil || len(hs) != 1 || hs[0].Subject != "alice" || hs[0].Path.String() != want || hs[0].Level != 2 {
			t.Fatalf("Holders = %+v, %v", hs, err)
		}
		if err := g.RemoveEdge(ctx, "org1", "acme", capability.HasRole, "controller"); err != nil {
			t.Fatal(err)
		}
		if hs, err := g.Holders(ctx, "org1", "finance.approver"); err != nil || len(hs) != 0 {
			t.Fatalf("Holders after removing the role = %+v, %v", hs, err)
		}
	})

	if _, ok := newStore(t).(capability.ClaimStore); ok {
		t.Run("RecordClaimOnce", func(t *testing.T) {
			cs := newStore(t).(capability.ClaimStore)
			if err := cs.RecordClaim(ctx, "org1", "c1", "d1"); err != nil {
				t.Fatal(err)
			}
			if err := cs.RecordClaim(ctx, "org1", "c1", "d2"); !errors.Is(err, errs.ErrConflict) {
				t.Fatalf("second RecordClaim = %v, want ErrConflict", err)
			}
			if err := cs.RecordClaim(ctx, "org2", "c1", "d1"); err != nil {
				t.Fatalf("same ID in another org = %v, want nil", err)
			}
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if err := cs.RecordClaim(cctx, "org1", "c2", "d"); !errors.Is(err, errs.ErrUnavailable) || !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled RecordClaim = %v", err)
			}
			if err := cs.RecordClaim(ctx, "org1", "c2", "d"); err != nil {
				t.Fatalf("c2 after a cancelled attempt = %v (the cancelled one must record nothing)", err)
			}
		})
	}
	if _, ok := newStore(t).(capability.ClaimLister); ok {
		t.Run("ClaimListerPagesInOrder", func(t *testing.T) { runClaimLister(t, newStore(t)) })
	}
	if _, ok := newStore(t).(capability.EvidenceLister); ok {
		t.Run("EvidenceListerPagesInOrder", func(t *testing.T) { runEvidenceLister(t, newStore(t)) })
	}
	if _, ok := newStore(t).(capability.EvidenceStore); ok {
		t.Run("EvidenceIdempotentOrderedIsolated", func(t *testing.T) {
			es := newStore(t).(capability.EvidenceStore)
			t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			add := []capability.Evidence{
				{Kind: "approval", Ref: "ledger:9", Task: "t9", At: t0.Add(time.Second)},
				{Kind: "approval", Ref: "ledger:3", Task: "t3", At: t0.Add(500 * time.Millisecond)},
				{Kind: "approval", Ref: "ledger:3", Task: "other", At: t0}, // same ref: no-op
				{Kind: "task", Ref: "ledger:1", At: t0},
			}
			for _, ev := range add {
				if err := es.AddEvidence(ctx, "org1", "alice", "finance.approver", ev); err != nil {
					t.Fatal(err)
				}
			}
			got, err := es.Evidence(ctx, "org1", "alice", "finance.approver")
			if err != nil || len(got) != 3 {
				t.Fatalf("Evidence = %+v, %v; want 3", got, err)
			}
			for i, want := range []string{"ledger:1", "ledger:3", "ledger:9"} {
				if got[i].Ref != want {
					t.Fatalf("Evidence[%d] = %+v, want ref %s (oldest first)", i, got[i], want)
				}
			}
			if got[1].Task != "t3" || !got[1].At.Equal(t0.Add(500*time.Millisecond)) {
				t.Fatalf("the first write of a ref must stay: %+v", got[1])
			}
			for _, q := range [][3]string{{"org2", "alice", "finance.approver"}, {"org1", "bob", "finance.approver"}, {"org1", "alice", "x"}} {
				if got, err := es.Evidence(ctx, q[0], q[1], q[2]); err != nil || len(got) != 0 {
					t.Fatalf("Evidence%v = %+v, %v; want none", q, got, err)
				}
			}
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if err := es.AddEvidence(cctx, "org1", "alice", "finance.approver", capability.Evidence{Kind: "task", Ref: "ledger:2", At: t0}); !errors.Is(err, errs.ErrUnavailable) {
				t.Fatalf("cancelled AddEvidence = %v", err)
			}
			if _, err := es.Evidence(cctx, "org1", "alice", "finance.approver"); !errors.Is(err, errs.ErrUnavailable) {
				t.Fatalf("cancelled Evidence = %v", err)
			}
		})
	}
}

// runClaimLister checks capability.ClaimLister: every record of one org,
// by ID in byte order, through pages of 2, digests as recorded, no other
// org's records; bad arguments and a cancelled context.
func runClaimLister(t *testing.T, s capability.Store) {
	ctx := context.Background()
	cs, l := s.(capability.ClaimStore), s.(capability.ClaimLister)
	var want []capability.ClaimRecord
	for _, id := range []string{"c-9", "c-10", "B", "a", "c-1"} { // byte order: B a c-1 c-10 c-9
		r := capability.ClaimRecord{ID: id, Digest: fmt.Sprintf("%064x", len(id)*7919+int(id[0]))}
		if err := cs.RecordClaim(ctx, listerOrg, r.ID, r.Digest); err != nil {
			t.Fatal(err)
		}
		want = append(want, r)
	}
	if err := cs.RecordClaim(ctx, listerOther, "c-5", fmt.Sprintf("%064x", 5)); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(want, func(a, b capability.ClaimRecord) int {
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	var got []capability.ClaimRecord
	after := ""
	for {
		page, err := l.ListClaims(ctx, listerOrg, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].ID
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ListClaims pages = %v, want %v", got, want)
	}
	if page, err := l.ListClaims(ctx, "org-none", "", 10); err != nil || len(page) != 0 {
		t.Fatalf("ListClaims of an org with none = %v, %v", page, err)
	}
	_, err := l.ListClaims(ctx, "", "", 10)
	listerWant(t, err, errs.ErrInvalidArgument)
	_, err = l.ListClaims(ctx, listerOrg, "", 0)
	listerWant(t, err, errs.ErrInvalidArgument)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = l.ListClaims(cctx, listerOrg, "", 10)
	listerWant(t, err, errs.ErrUnavailable)
	listerWant(t, err, context.Canceled)
}

// runEvidenceLister checks capability.EvidenceLister: every pointer of one
// org, by (subject, capability, ref) in byte order, through pages of 2,
// with kind, task and time as first written; no other org's pointers; bad
// arguments and a cancelled context.
func runEvidenceLister(t *testing.T, s capability.Store) {
	ctx := context.Background()
	es, l := s.(capability.EvidenceStore), s.(capability.EvidenceLister)
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)
	want := []capability.EvidenceRecord{
		{Subject: "alice", Capability: "cap.b", Evidence: capability.Evidence{Kind: "approval", Ref: "ledger:10", Task: "t1", At: t0}},
		{Subject: "alice", Capability: "cap.a", Evidence: capability.Evidence{Kind: "task", Ref: "ledger:9", At: t0.Add(-time.Hour)}},
		{Subject: "Bob", Capability: "cap.a", Evidence: capability.Evidence{Kind: "approval", Ref: "ledger:2", Task: "t2", At: t0.Add(time.Second)}},
		{Subject: "alice", Capability: "cap.a", Evidence: capability.Evidence{Kind: "approval", Ref: "ledger:1", Task: "t3", At: t0.Add(time.Minute)}},
		{Subject: "alice", Capability: "cap.b", Evidence: capability.Evidence{Kind: "approval", Ref: "ledger:1", At: t0}},
	}
	for _, r := range want {
		if err := es.AddEvidence(ctx, listerOrg, r.Subject, r.Capability, r.Evidence); err != nil {
			t.Fatal(err)
		}
	}
	// The same ref again keeps the first write; another org stays apart.
	if err := es.AddEvidence(ctx, listerOrg, "alice", "cap.a", capability.Evidence{Kind: "other", Ref: "ledger:1", At: t0}); err != nil {
		t.Fatal(err)
	}
	if err := es.AddEvidence(ctx, listerOther, "alice", "cap.a", capability.Evidence{Kind: "approval", Ref: "ledger:5", At: t0}); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(want, func(a, b capability.EvidenceRecord) int {
		if capability.EvidenceLess(a, b) {
			return -1
		}
		return 1
	})
	var got []capability.EvidenceRecord
	var after capability.EvidenceRecord
	for {
		page, err := l.ListEvidence(ctx, listerOrg, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1]
	}
	if len(got) != len(want) {
		t.Fatalf("ListEvidence pages = %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Subject != w.Subject || g.Capability != w.Capability || g.Ref != w.Ref || g.Kind != w.Kind || g.Task != w.Task || !g.At.Equal(w.At) {
			t.Fatalf("ListEvidence[%d] = %+v, want %+v", i, g, w)
		}
	}
	if page, err := l.ListEvidence(ctx, "org-none", capability.EvidenceRecord{}, 10); err != nil || len(page) != 0 {
		t.Fatalf("ListEvidence of an org with none = %v, %v", page, err)
	}
	_, err := l.ListEvidence(ctx, "", capability.EvidenceRecord{}, 10)
	listerWant(t, err, errs.ErrInvalidArgument)
	_, err = l.ListEvidence(ctx, listerOrg, capability.EvidenceRecord{}, 0)
	listerWant(t, err, errs.ErrInvalidArgument)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = l.ListEvidence(cctx, listerOrg, capability.EvidenceRecord{}, 10)
	listerWant(t, err, errs.ErrUnavailable)
	listerWant(t, err, context.Canceled)
}
