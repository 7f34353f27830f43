package capability_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
)

var t0 = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// fixture builds org1:
//
//	alice -holds-> pay.approve (direct)
//	bob -member_of-> treasury -holds-> pay.approve
//	carol -member_of-> auditors -member_of-> finance -member_of-> treasury (nested)
//	finance -member_of-> auditors (cycle auditors <-> finance)
//	dave -holds-> pay.approve, expired; dave -member_of-> treasury, expired
//	erin -member_of-> loop1 <-> loop2 (cycle, no grant)
//	bot (agent) -member_of-> treasury
//	org2: zed -holds-> pay.approve
func fixture(t testing.TB) *capability.Graph {
	t.Helper()
	ctx := context.Background()
	g := capability.NewGraph(memory.NewGraphStore(), func() time.Time { return t0 })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []capability.Node{
		{ID: "alice", Kind: capability.Human}, {ID: "bob", Kind: capability.Human}, {ID: "carol", Kind: capability.Human},
		{ID: "dave", Kind: capability.Human}, {ID: "erin", Kind: capability.Human}, {ID: "bot", Kind: capability.Agent},
		{ID: "treasury", Kind: capability.Team}, {ID: "auditors", Kind: capability.Team}, {ID: "finance", Kind: capability.Team},
		{ID: "loop1", Kind: capability.Team}, {ID: "loop2", Kind: capability.Team},
	} {
		must(g.AddNode(ctx, "org1", n))
	}
	must(g.Grant(ctx, "org1", "alice", "pay.approve", capability.WithLevel(3), capability.WithIssuer("root")))
	must(g.Grant(ctx, "org1", "treasury", "pay.approve", capability.WithLevel(1)))
	must(g.Grant(ctx, "org1", "dave", "pay.approve", capability.WithExpiry(t0)))
	must(g.AddMember(ctx, "org1", "bob", "treasury"))
	must(g.AddMember(ctx, "org1", "carol", "auditors"))
	must(g.AddMember(ctx, "org1", "auditors", "finance"))
	must(g.AddMember(ctx, "org1", "finance", "auditors"))
	must(g.AddMember(ctx, "org1", "finance", "treasury"))
	must(g.AddEdge(ctx, "org1", capability.Edge{From: "dave", To: "treasury", Kind: capability.MemberOf, Expires: t0.Add(-time.Second)}))
	must(g.AddMember(ctx, "org1", "erin", "loop1"))
	must(g.AddMember(ctx, "org1", "loop1", "loop2"))
	must(g.AddMember(ctx, "org1", "loop2", "loop1"))
	must(g.AddMember(ctx, "org1", "bot", "treasury"))
	must(g.AddNode(ctx, "org2", capability.Node{ID: "zed", Kind: capability.Human}))
	must(g.Grant(ctx, "org2", "zed", "pay.approve"))
	return g
}

func TestHolds(t *testing.T) {
	g := fixture(t)
	for _, tc := range []struct {
		name, org, subject, capability string
		want                           bool
		path                           string
	}{
		{"direct", "org1", "alice", "pay.approve", true, "alice -holds-> pay.approve"},
		{"via team", "org1", "bob", "pay.approve", true, "bob -member_of-> treasury -holds-> pay.approve"},
		{"nested teams with a cycle", "org1", "carol", "pay.approve", true,
			"carol -member_of-> auditors -member_of-> finance -member_of-> treasury -holds-> pay.approve"},
		{"team itself", "org1", "finance", "pay.approve", true, "finance -member_of-> treasury -holds-> pay.approve"},
		{"agent via team", "org1", "bot", "pay.approve", true, "bot -member_of-> treasury -holds-> pay.approve"},
		{"expired grant and expired membership", "org1", "dave", "pay.approve", false, ""},
		{"cycle without grant terminates", "org1", "erin", "pay.approve", false, ""},
		{"unknown subject", "org1", "nobody", "pay.approve", false, ""},
		{"unknown capability", "org1", "alice", "pay.other", false, ""},
		{"other org's holder", "org1", "zed", "pay.approve", false, ""},
		{"org2 holder in org2", "org2", "zed", "pay.approve", true, "zed -holds-> pay.approve"},
		{"org1 holder in org2", "org2", "alice", "pay.approve", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, ok, err := g.Holds(context.Background(), tc.org, tc.subject, tc.capability)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.want || p.String() != tc.path {
				t.Fatalf("Holds = %q, %v; want %q, %v", p, ok, tc.path, tc.want)
			}
			has, err := g.HasCapability(context.Background(), tc.org, tc.subject, tc.capability)
			if err != nil || has != tc.want {
				t.Fatalf("HasCapability = %v, %v; want %v", has, err, tc.want)
			}
			has, err = g.Checker().Holds(context.Background(), tc.org, tc.subject, tc.capability)
			if err != nil || has != tc.want {
				t.Fatalf("Checker().Holds = %v, %v; want %v", has, err, tc.want)
			}
		})
	}
}

func TestHolders(t *testing.T) {
	g := fixture(t)
	for _, tc := range []struct {
		name, org, capability string
		want                  []string // "subject level path"
	}{
		{"org1", "org1", "pay.approve", []string{
			"alice 3 alice -holds-> pay.approve",
			"bob 1 bob -member_of-> treasury -holds-> pay.approve",
			"carol 1 carol -member_of-> auditors -member_of-> finance -member_of-> treasury -holds-> pay.approve",
		}},
		{"org2", "org2", "pay.approve", []string{"zed 0 zed -holds-> pay.approve"}},
		{"unknown capability", "org1", "nothing", nil},
		{"unknown org", "org3", "pay.approve", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs, err := g.Holders(context.Background(), tc.org, tc.capability)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range hs {
				got = append(got, fmt.Sprintf("%s %d %s", h.Subject, h.Level, h.Path))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("Holders =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestExpiryFollowsTheClock(t *testing.T) {
	now := t0.Add(-time.Hour)
	g := capability.NewGraph(memory.NewGraphStore(), func() time.Time { return now })
	ctx := context.Background()
	if err := g.AddNode(ctx, "o", capability.Node{ID: "h", Kind: capability.Human}); err != nil {
		t.Fatal(err)
	}
	if err := g.Grant(ctx, "o", "h", "c", capability.WithExpiry(t0)); err != nil {
		t.Fatal(err)
	}
	if ok, _ := g.HasCapability(ctx, "o", "h", "c"); !ok {
		t.Fatal("grant not yet expired should hold")
	}
	now = t0
	if ok, _ := g.HasCapability(ctx, "o", "h", "c"); ok {
		t.Fatal("grant at its expiry instant should not hold")
	}
	if hs, _ := g.Holders(ctx, "o", "c"); len(hs) != 0 {
		t.Fatalf("expired grant listed holders %+v", hs)
	}
}

func TestRemoveEdge(t *testing.T) {
	g := fixture(t)
	ctx := context.Background()
	if err := g.RemoveEdge(ctx, "org1", "bob", capability.MemberOf, "treasury"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := g.HasCapability(ctx, "org1", "bob", "pay.approve"); ok {
		t.Fatal("bob still holds after leaving the team")
	}
	if err := g.RemoveEdge(ctx, "org1", "bob", capability.MemberOf, "treasury"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("second RemoveEdge = %v, want ErrNotFound", err)
	}
}

func TestValidation(t *testing.T) {
	g := fixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		err  error
		kind error
	}{
		{"empty org", g.AddNode(ctx, "", capability.Node{ID: "x", Kind: capability.Human}), errs.ErrInvalidArgument},
		{"empty node id", g.AddNode(ctx, "org1", capability.Node{Kind: capability.Human}), errs.ErrInvalidArgument},
		{"whitespace id", g.AddNode(ctx, "org1", capability.Node{ID: "a b", Kind: capability.Human}), errs.ErrInvalidArgument},
		{"unknown node kind", g.AddNode(ctx, "org1", capability.Node{ID: "x", Kind: "robot"}), errs.ErrInvalidArgument},
		{"kind change", g.AddNode(ctx, "org1", capability.Node{ID: "alice", Kind: capability.Team}), errs.ErrConflict},
		{"unknown edge kind", g.AddEdge(ctx, "org1", capability.Edge{From: "alice", To: "treasury", Kind: "likes"}), errs.ErrInvalidArgument},
		{"holds to a team", g.AddEdge(ctx, "org1", capability.Edge{From: "alice", To: "treasury", Kind: capability.Holds}), errs.ErrInvalidArgument},
		{"member_of a human", g.AddEdge(ctx, "org1", capability.Edge{From: "alice", To: "bob", Kind: capability.MemberOf}), errs.ErrInvalidArgument},
		{"capability member_of", g.AddEdge(ctx, "org1", capability.Edge{From: "pay.approve", To: "treasury", Kind: capability.MemberOf}), errs.ErrInvalidArgument},
		{"agent delegates", g.AddEdge(ctx, "org1", capability.Edge{From: "bot", To: "alice", Kind: capability.Delegates}), errs.ErrInvalidArgument},
		{"self loop", g.AddMember(ctx, "org1", "treasury", "treasury"), errs.ErrInvalidArgument},
		{"negative level", g.Grant(ctx, "org1", "alice", "pay.approve", capability.WithLevel(-1)), errs.ErrInvalidArgument},
		{"grant a team as capability", g.Grant(ctx, "org1", "alice", "treasury"), errs.ErrInvalidArgument},
		{"grant to unknown subject", g.Grant(ctx, "org1", "nobody", "pay.approve"), errs.ErrNotFound},
		{"member of unknown team", g.AddMember(ctx, "org1", "alice", "ghosts"), errs.ErrNotFound},
		{"empty subject", func() error { _, _, err := g.Holds(ctx, "org1", "", "pay.approve"); return err }(), errs.ErrInvalidArgument},
		{"empty capability", func() error { _, err := g.Holders(ctx, "org1", ""); return err }(), errs.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.kind) {
				t.Fatalf("err = %v, want %v", tc.err, tc.kind)
			}
		})
	}
	if err := g.AddEdge(ctx, "org1", capability.Edge{From: "alice", To: "bot", Kind: capability.Delegates}); err != nil {
		t.Fatalf("human delegates to agent: %v", err)
	}
	if ok, _ := g.HasCapability(ctx, "org1", "alice", "pay.approve"); !ok {
		t.Fatal("rejected edges changed the graph")
	}
}

// TestAttackCrossOrgGrant: an org cannot make its subjects hold another
// org's capability or join another org's team (invariant 7).
func TestAttackCrossOrgGrant(t *testing.T) {
	g := fixture(t)
	ctx := context.Background()
	if err := g.AddNode(ctx, "org2", capability.Node{ID: "mallory", Kind: capability.Human}); err != nil {
		t.Fatal(err)
	}
	if err := g.AddMember(ctx, "org2", "mallory", "treasury"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("joining org1's team from org2 = %v, want ErrNotFound", err)
	}
	if hs, _ := g.Holders(ctx, "org1", "pay.approve"); len(hs) != 3 {
		t.Fatalf("org1 holders changed: %+v", hs)
	}
	if ok, _ := g.HasCapability(ctx, "org1", "mallory", "pay.approve"); ok {
		t.Fatal("org2 subject holds org1 capability")
	}
}

// TestAttackDelegationDoesNotPassCapabilities: an agent delegated by a
// holder does not itself hold the capability.
func TestAttackDelegationDoesNotPassCapabilities(t *testing.T) {
	g := fixture(t)
	ctx := context.Background()
	if err := g.AddNode(ctx, "org1", capability.Node{ID: "bot2", Kind: capability.Agent}); err != nil {
		t.Fatal(err)
	}
	if err := g.AddEdge(ctx, "org1", capability.Edge{From: "alice", To: "bot2", Kind: capability.Delegates}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := g.HasCapability(ctx, "org1", "bot2", "pay.approve"); ok {
		t.Fatal("delegation passed a capability to the agent")
	}
}

func TestCancelledContext(t *testing.T) {
	g := fixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := g.Holds(ctx, "org1", "bob", "pay.approve"); !errors.Is(err, errs.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Holds = %v", err)
	}
	if _, err := g.Holders(ctx, "org1", "pay.approve"); !errors.Is(err, errs.ErrUnavailable) {
		t.Fatalf("Holders = %v", err)
	}
}

func BenchmarkHolds(b *testing.B) {
	g := fixture(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := g.Holds(ctx, "org1", "carol", "pay.approve"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
