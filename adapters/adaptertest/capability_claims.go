package adaptertest

import (
	"context"
	"errors"
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
