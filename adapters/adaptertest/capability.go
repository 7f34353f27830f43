package adaptertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
)

// RunGraphStore runs the capability.Store conformance suite. newStore must
// return a fresh, empty store for each call; each subtest gets its own.
func RunGraphStore(t *testing.T, newStore func(t *testing.T) capability.Store) {
	ctx := context.Background()
	mustNode := func(t *testing.T, s capability.Store, org string, nodes ...capability.Node) {
		t.Helper()
		for _, n := range nodes {
			if err := s.PutNode(ctx, org, n); err != nil {
				t.Fatalf("PutNode(%q, %+v) = %v", org, n, err)
			}
		}
	}
	alice := capability.Node{ID: "alice", Kind: capability.Human, Name: "Alice"}
	bob := capability.Node{ID: "bob", Kind: capability.Human, Name: "Bob"}
	carol := capability.Node{ID: "carol", Kind: capability.Human, Name: "Carol"}
	team := capability.Node{ID: "treasury", Kind: capability.Team}
	approve := capability.Node{ID: "finance.approver", Kind: capability.Capability}

	if _, ok := newStore(t).(capability.BulkStore); ok {
		t.Run("Bulk", func(t *testing.T) {
			s := newStore(t)
			bs := s.(capability.BulkStore)
			mustNode(t, s, "org1", alice, bob, carol, team, approve)
			mustNode(t, s, "org2", alice, team)
			for _, e := range []capability.Edge{
				{From: "carol", To: "treasury", Kind: capability.MemberOf},
				{From: "alice", To: "treasury", Kind: capability.MemberOf, Level: 2},
				{From: "bob", To: "finance.approver", Kind: capability.Holds},
				{From: "treasury", To: "finance.approver", Kind: capability.Holds},
			} {
				if err := s.PutEdge(ctx, "org1", e); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.PutEdge(ctx, "org2", capability.Edge{From: "alice", To: "treasury", Kind: capability.MemberOf}); err != nil {
				t.Fatal(err)
			}
			es, err := bs.InMany(ctx, "org1", []string{"treasury", "finance.approver", "nobody"}, capability.MemberOf)
			if err != nil || graphEdgeList(es) != "[alice->treasury carol->treasury]" || es[0].Level != 2 {
				t.Fatalf("InMany(member_of) = %s, %v", graphEdgeList(es), err)
			}
			es, _ = bs.InMany(ctx, "org1", []string{"treasury", "finance.approver"}, capability.Holds)
			if graphEdgeList(es) != "[bob->finance.approver treasury->finance.approver]" {
				t.Fatalf("InMany(holds) = %s, want sorted by to then from", graphEdgeList(es))
			}
			ns, err := bs.Nodes(ctx, "org1", []string{"alice", "nobody", "treasury"})
			if err != nil || len(ns) != 2 {
				t.Fatalf("Nodes = %v, %v; want alice and treasury", ns, err)
			}
			if ns, _ := bs.Nodes(ctx, "org3", []string{"alice"}); len(ns) != 0 {
				t.Fatalf("Nodes leaks across orgs: %v", ns)
			}
		})
		t.Run("BulkMatchesPerNodeTraversal", func(t *testing.T) {
			s := newStore(t)
			graphRandom(t, s, rand.New(rand.NewPCG(7, 9)))
			now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			bulk := capability.NewGraph(s, func() time.Time { return now })
			single := capability.NewGraph(graphNoBulk{s}, func() time.Time { return now })
			for c := range 8 {
				cp := fmt.Sprintf("cap%d", c)
				a, err1 := bulk.Holders(ctx, "org1", cp)
				b, err2 := single.Holders(ctx, "org1", cp)
				if err1 != nil || err2 != nil || !reflect.DeepEqual(a, b) {
					t.Fatalf("Holders(%s) differ: bulk %v (%v), per-node %v (%v)", cp, a, err1, b, err2)
				}
			}
			for tm := range 10 {
				team := fmt.Sprintf("team%d", tm)
				a, err1 := bulk.Members(ctx, "org1", team)
				b, err2 := single.Members(ctx, "org1", team)
				if err1 != nil || err2 != nil || !reflect.DeepEqual(a, b) {
					t.Fatalf("Members(%s) differ: bulk %v (%v), per-node %v (%v)", team, a, err1, b, err2)
				}
			}
		})
	}

	t.Run("NodeNotFound", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Node(ctx, "org1", "nobody"); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("Node(unknown) = %v, want ErrNotFound", err)
		}
	})

	t.Run("PutNodeRoundTripAndIdempotent", func(t *testing.T) {
		s := newStore(t)
		mustNode(t, s, "org1", alice, alice)
		got, err := s.Node(ctx, "org1", "alice")
		if err != nil || got != alice {
			t.Fatalf("Node = %+v, %v; want %+v", got, err, alice)
		}
		renamed := alice
		renamed.Name = "Alice B."
		mustNode(t, s, "org1", renamed)
		if got, _ := s.Node(ctx, "org1", "alice"); got != renamed {
			t.Fatalf("after rename Node = %+v, want %+v", got, renamed)
		}
	})

	t.Run("PutNodeKindConflict", func(t *testing.T) {
		s := newStore(t)
		mustNode(t, s, "org1", alice)
		err := s.PutNode(ctx, "org1", capability.Node{ID: "alice", Kind: capability.Team})
		if !errors.Is(err, errs.ErrConflict) {
			t.Fatalf("PutNode(same ID, other kind) = %v, want ErrConflict", err)
		}
		if got, _ := s.Node(ctx, "org1", "alice"); got != alice {
			t.Fatalf("conflicting PutNode changed the node: %+v", got)
		}
	})

	t.Run("PutEdgeMissingEnd", func(t *testing.T) {
		s := newStore(t)
		mustNode(t, s, "org1", alice)
		for _, e := range []capability.Edge{
			{From: "alice", To: "ghost", Kind: capability.Holds},
			{From: "ghost", To: "alice", Kind: capability.MemberOf},
		} {
			if err := s.PutEdge(ctx, "org1", e); !errors.Is(err, errs.ErrNotFound) {
				t.Fatalf("PutEdge(%+v) = %v, want ErrNotFound", e, err)
			}
		}
		if out, _ := s.Out(ctx, "org1", "alice", capability.Holds); len(out) != 0 {
			t.Fatalf("failed PutEdge left edges: %+v", out)
		}
	})

	t.Run("PutEdgeRoundTripAndUpsert", func(t *testing.T) {
		s := newStore(t)
		mustNode(t, s, "org1", alice, approve)
		exp := time.Date(2031, 2, 3, 4, 5, 6, 789, time.UTC)
		e := capability.Edge{From: "alice", To: "finance.approver", Kind: capability.Holds, Level: 2, Expires: exp, Issuer: "root"}
		if err := s.PutEdge(ctx, "org1", e); err != nil {
			t.Fatal(err)
		}
		e2 := e
		e2.Level, e2.Expires, e2.Issuer = 3, time.Time{}, "root2"
		if err := s.PutEdge(ctx, "org1", e2); err != nil {
			t.Fatal(err)
		}
		out, err := s.Out(ctx, "org1", "alice", capability.Holds)
		if err != nil || len(out) != 1 {
			t.Fatalf("Out = %+v, %v; want one edge", out, err)
		}
		if !graphEdgeEqual(out[0], e2) {
			t.Fatalf("Out[0] = %+v, want %+v", out[0], e2)
		}
		if err := s.PutEdge(ctx, "org1", e); err != nil {
			t.Fatal(err)
		}
		in, err := s.In(ctx, "org1", "finance.approver", capability.Holds)
		if err != nil || len(in) != 1 || !graphEdgeEqual(in[0], e) {
			t.Fatalf("In = %+v, %v; want [%+v]", in, err, e)
		}
	})

	t.Run("DeleteEdge", func(t *testing.T) {
		s := newStore(t)
		mustNode(t, s, "org1", alice, team)
		e := capability.Edge{From: "alice", To: "treasury", Kind: capability.MemberOf}
		if err := s.PutEdge(ctx, "org1", e); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteEdge(ctx, "org1", "alice", capability.Holds, "treasury"); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("DeleteEdge(wrong kind) = %v, want ErrNotFound", err)
		}
		if err := s.DeleteEdge(ctx, "org1", "alice", capability.MemberOf, "treasury"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteEdge(ctx, "org1", "alice", capability.MemberOf, "treasury"); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("second DeleteEdge = %v, want ErrNotFound", err)
		}
		out, _ := s.Out(ctx, "org1", "alice", capability.MemberOf)
		in, _ := s.In(ctx, "org1", "treasury", capability.MemberOf)
		if len(out)+len(in) != 0 {
			t.Fatalf("deleted edge still listed: out %+v in %+v", out, in)
		}
	})

	t.Run("Ordering", func(t *testing.T) {
		s := newStore(t)
		mustNode(t, s, "org1", carol, alice, bob, approve, team,
			capability.Node{ID: "a.cap", Kind: capability.Capability}, capability.Node{ID: "z.cap", Kind: capability.Capability})
		for _, e := range []capability.Edge{
			{From: "carol", To: "finance.approver", Kind: capability.Holds},
			{From: "alice", To: "z.cap", Kind: capability.Holds},
			{From: "bob", To: "finance.approver", Kind: capability.Holds},
			{From: "alice", To: "finance.approver", Kind: capability.Holds},
			{From: "alice", To: "a.cap", Kind: capability.Holds},
			{From: "alice", To: "treasury", Kind: capability.MemberOf},
		} {
			if err := s.PutEdge(ctx, "org1", e); err != nil {
				t.Fatal(err)
			}
		}
		out, err := s.Out(ctx, "org1", "alice", capability.Holds)
		if err != nil {
			t.Fatal(err)
		}
		if got := graphEnds(out, false); got != "[a.cap finance.approver z.cap]" {
			t.Fatalf("Out(alice, holds) to = %s, want sorted and only holds edges", got)
		}
		in, err := s.In(ctx, "org1", "finance.approver", capability.Holds)
		if err != nil {
			t.Fatal(err)
		}
		if got := graphEnds(in, true); got != "[alice bob carol]" {
			t.Fatalf("In(finance.approver) from = %s, want [alice bob carol]", got)
		}
		if out, err := s.Out(ctx, "org1", "nobody", capability.Holds); err != nil || len(out) != 0 {
			t.Fatalf("Out(unknown) = %+v, %v; want empty, nil", out, err)
		}
	})

	t.Run("OrgIsolation", func(t *testing.T) {
		s := newStore(t)
		mustNode(t, s, "orgA", alice, approve)
		if err := s.PutEdge(ctx, "orgA", capability.Edge{From: "alice", To: "finance.approver", Kind: capability.Holds}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Node(ctx, "orgB", "alice"); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("orgB sees orgA's node: %v", err)
		}
		if out, _ := s.Out(ctx, "orgB", "alice", capability.Holds); len(out) != 0 {
			t.Fatalf("orgB sees orgA's edges: %+v", out)
		}
		if in, _ := s.In(ctx, "orgB", "finance.approver", capability.Holds); len(in) != 0 {
			t.Fatalf("orgB sees orgA's edges: %+v", in)
		}
		// orgB cannot attach an edge to orgA's nodes, nor delete orgA's edge.
		mustNode(t, s, "orgB", capability.Node{ID: "mallory", Kind: capability.Human})
		if err := s.PutEdge(ctx, "orgB", capability.Edge{From: "mallory", To: "finance.approver", Kind: capability.Holds}); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("cross-org PutEdge = %v, want ErrNotFound", err)
		}
		if err := s.DeleteEdge(ctx, "orgB", "alice", capability.Holds, "finance.approver"); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("cross-org DeleteEdge = %v, want ErrNotFound", err)
		}
		// The same IDs in another org are independent, even with another kind.
		if err := s.PutNode(ctx, "orgB", capability.Node{ID: "alice", Kind: capability.Team}); err != nil {
			t.Fatalf("same ID in another org: %v", err)
		}
		if n, _ := s.Node(ctx, "orgA", "alice"); n != alice {
			t.Fatalf("orgB write changed orgA's node: %+v", n)
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		s := newStore(t)
		mustNode(t, s, "org1", alice, approve)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		e := capability.Edge{From: "alice", To: "finance.approver", Kind: capability.Holds}
		check := func(name string, err error) {
			t.Helper()
			if !errors.Is(err, errs.ErrUnavailable) || !errors.Is(err, context.Canceled) {
				t.Errorf("%s with cancelled ctx = %v, want ErrUnavailable wrapping context.Canceled", name, err)
			}
		}
		check("PutNode", s.PutNode(cctx, "org1", bob))
		check("PutEdge", s.PutEdge(cctx, "org1", e))
		_, err := s.Node(cctx, "org1", "alice")
		check("Node", err)
		_, err = s.Out(cctx, "org1", "alice", capability.Holds)
		check("Out", err)
		_, err = s.In(cctx, "org1", "finance.approver", capability.Holds)
		check("In", err)
		if _, err := s.Node(ctx, "org1", "bob"); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("cancelled PutNode wrote the node: %v", err)
		}
		if out, _ := s.Out(ctx, "org1", "alice", capability.Holds); len(out) != 0 {
			t.Errorf("cancelled PutEdge wrote the edge: %+v", out)
		}
		if err := s.PutEdge(ctx, "org1", e); err != nil {
			t.Fatal(err)
		}
		check("DeleteEdge", s.DeleteEdge(cctx, "org1", "alice", capability.Holds, "finance.approver"))
		if out, _ := s.Out(ctx, "org1", "alice", capability.Holds); len(out) != 1 {
			t.Errorf("cancelled DeleteEdge deleted the edge")
		}
	})

	t.Run("ConcurrentWriters", func(t *testing.T) {
		s := newStore(t)
		mustNode(t, s, "org1", approve)
		const n = 16
		var wg sync.WaitGroup
		errc := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("human%02d", i)
				if err := s.PutNode(ctx, "org1", capability.Node{ID: id, Kind: capability.Human}); err != nil {
					errc <- err
					return
				}
				// Everyone also races to create the same node.
				if err := s.PutNode(ctx, "org1", capability.Node{ID: "shared", Kind: capability.Team}); err != nil {
					errc <- err
					return
				}
				errc <- s.PutEdge(ctx, "org1", capability.Edge{From: id, To: "finance.approver", Kind: capability.Holds, Level: i})
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				t.Fatalf("concurrent write: %v", err)
			}
		}
		in, err := s.In(ctx, "org1", "finance.approver", capability.Holds)
		if err != nil || len(in) != n {
			t.Fatalf("In = %d edges, %v; want %d", len(in), err, n)
		}
	})

	if _, ok := newStore(t).(capability.GenerationStore); ok {
		runGraphGeneration(t, newStore)
	}
	runGraphRolesAndClaims(t, newStore) // capability_claims.go
}

func graphEdgeEqual(a, b capability.Edge) bool {
	return a.From == b.From && a.To == b.To && a.Kind == b.Kind && a.Level == b.Level &&
		a.Expires.Equal(b.Expires) && a.Issuer == b.Issuer
}

func graphEnds(es []capability.Edge, from bool) string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.To
		if from {
			ids[i] = e.From
		}
	}
	return fmt.Sprint(ids)
}

func graphEdgeList(es []capability.Edge) string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.From + "->" + e.To
	}
	return fmt.Sprint(out)
}

// graphNoBulk hides a store's BulkStore methods, so a Graph over it takes
// the one-call-per-node path.
type graphNoBulk struct{ capability.Store }

// graphRandom fills org1 with a random graph: 60 humans, 3 agents, 10
// teams nested at random (cycles included), 8 capabilities, and some
// expired edges.
func graphRandom(t *testing.T, s capability.Store, r *rand.Rand) {
	ctx := context.Background()
	put := func(n capability.Node) {
		if err := s.PutNode(ctx, "org1", n); err != nil {
			t.Fatal(err)
		}
	}
	edge := func(e capability.Edge) {
		if r.IntN(10) == 0 {
			e.Expires = time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC) // lapsed
		}
		if err := s.PutEdge(ctx, "org1", e); err != nil {
			t.Fatal(err)
		}
	}
	var subjects []string
	for i := range 60 {
		id := fmt.Sprintf("h%02d", i)
		put(capability.Node{ID: id, Kind: capability.Human})
		subjects = append(subjects, id)
	}
	for i := range 3 {
		id := fmt.Sprintf("agent%d", i)
		put(capability.Node{ID: id, Kind: capability.Agent})
		subjects = append(subjects, id)
	}
	for i := range 10 {
		put(capability.Node{ID: fmt.Sprintf("team%d", i), Kind: capability.Team})
	}
	for i := range 8 {
		put(capability.Node{ID: fmt.Sprintf("cap%d", i), Kind: capability.Capability})
	}
	for _, sub := range subjects {
		for range r.IntN(3) {
			edge(capability.Edge{From: sub, To: fmt.Sprintf("team%d", r.IntN(10)), Kind: capability.MemberOf})
		}
		if r.IntN(4) == 0 {
			edge(capability.Edge{From: sub, To: fmt.Sprintf("cap%d", r.IntN(8)), Kind: capability.Holds, Level: r.IntN(4)})
		}
	}
	for i := range 10 {
		for range r.IntN(3) {
			if j := r.IntN(10); j != i {
				edge(capability.Edge{From: fmt.Sprintf("team%d", i), To: fmt.Sprintf("team%d", j), Kind: capability.MemberOf})
			}
		}
		edge(capability.Edge{From: fmt.Sprintf("team%d", i), To: fmt.Sprintf("cap%d", r.IntN(8)), Kind: capability.Holds, Level: r.IntN(4)})
	}
}
