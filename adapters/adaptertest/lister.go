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
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
)

// listerOrgs are two orgs: listing one must never show the other's rows.
const listerOrg, listerOther = "org-list", "org-other"

// pageAll lists every ID through pages of size 2, checking page order.
func pageAll(t *testing.T, list func(after string, limit int) ([]string, error)) []string {
	t.Helper()
	var all []string
	after := ""
	for {
		page, err := list(after, 2)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < 2 {
			return all
		}
		after = page[len(page)-1]
	}
}

func listerWant(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("got %v, want %v", err, kind)
	}
}

// RunPassportLister runs the passport.Lister conformance suite; newStore's
// stores must implement passport.Lister.
func RunPassportLister(t *testing.T, newStore func(t *testing.T) passport.Store) {
	t.Helper()
	ctx := context.Background()
	t.Run("ListsEveryIDInOrder", func(t *testing.T) {
		s := newStore(t)
		l := s.(passport.Lister)
		var dids, ids []string
		for i := range 5 {
			did := fmt.Sprintf("did:human:%c", 'e'-i)
			dids = append(dids, did)
			passportMust(t, s.AppendEvent(ctx, listerOrg, did, 0, []byte("inception"), nil))
			passportMust(t, s.AppendEvent(ctx, listerOrg, did, 1, []byte("rotation"), nil))
			id := fmt.Sprintf("dlg:%d", 4-i)
			ids = append(ids, id)
			passportMust(t, s.PutDelegation(ctx, listerOrg, id, []byte("d")))
		}
		passportMust(t, s.PutRevocation(ctx, listerOrg, "dlg:3", []byte("r")))
		passportMust(t, s.AppendEvent(ctx, listerOther, "did:human:zzz", 0, []byte("x"), nil))
		passportMust(t, s.PutDelegation(ctx, listerOther, "dlg:zzz", []byte("x")))
		slices.Sort(dids)
		slices.Sort(ids)
		if got := pageAll(t, func(a string, n int) ([]string, error) { return l.ListPassports(ctx, listerOrg, a, n) }); !slices.Equal(got, dids) {
			t.Fatalf("passports %v, want %v", got, dids)
		}
		if got := pageAll(t, func(a string, n int) ([]string, error) { return l.ListDelegations(ctx, listerOrg, a, n) }); !slices.Equal(got, ids) {
			t.Fatalf("delegations %v, want %v", got, ids)
		}
		if got := pageAll(t, func(a string, n int) ([]string, error) { return l.ListRevocations(ctx, listerOrg, a, n) }); !slices.Equal(got, []string{"dlg:3"}) {
			t.Fatalf("revocations %v, want [dlg:3]", got)
		}
	})
	t.Run("BadArgumentsAndCancel", func(t *testing.T) {
		l := newStore(t).(passport.Lister)
		_, err := l.ListPassports(ctx, "", "", 10)
		listerWant(t, err, errs.ErrInvalidArgument)
		_, err = l.ListDelegations(ctx, listerOrg, "", 0)
		listerWant(t, err, errs.ErrInvalidArgument)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err = l.ListRevocations(cctx, listerOrg, "", 10)
		listerWant(t, err, errs.ErrUnavailable)
		listerWant(t, err, context.Canceled)
	})
}

// RunGraphLister runs the capability.Lister conformance suite; newStore's
// stores must implement capability.Lister.
func RunGraphLister(t *testing.T, newStore func(t *testing.T) capability.Store) {
	t.Helper()
	ctx := context.Background()
	t.Run("ListsEveryNodeAndEdgeInOrder", func(t *testing.T) {
		s := newStore(t)
		l := s.(capability.Lister)
		var ids []string
		for _, n := range []capability.Node{{ID: "team.b", Kind: capability.Team}, {ID: "alice", Kind: capability.Human, Name: "Alice"},
			{ID: "bob", Kind: capability.Human}, {ID: "cap.x", Kind: capability.Capability}, {ID: "team.a", Kind: capability.Team}} {
			if err := s.PutNode(ctx, listerOrg, n); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, n.ID)
		}
		if err := s.PutNode(ctx, listerOther, capability.Node{ID: "zed", Kind: capability.Human}); err != nil {
			t.Fatal(err)
		}
		exp := time.Date(2031, 1, 2, 3, 4, 5, 6, time.UTC)
		edges := []capability.Edge{
			{From: "alice", Kind: capability.MemberOf, To: "team.a"},
			{From: "alice", Kind: capability.Holds, To: "cap.x", Level: 2, Expires: exp, Issuer: "bob"},
			{From: "bob", Kind: capability.MemberOf, To: "team.b"},
			{From: "team.b", Kind: capability.MemberOf, To: "team.a"},
			{From: "team.a", Kind: capability.Holds, To: "cap.x"},
		}
		for _, e := range edges {
			if err := s.PutEdge(ctx, listerOrg, e); err != nil {
				t.Fatal(err)
			}
		}
		slices.Sort(ids)
		got := pageAll(t, func(a string, n int) ([]string, error) {
			nodes, err := l.ListNodes(ctx, listerOrg, a, n)
			var out []string
			for _, x := range nodes {
				out = append(out, x.ID)
			}
			return out, err
		})
		if !slices.Equal(got, ids) {
			t.Fatalf("nodes %v, want %v", got, ids)
		}
		slices.SortFunc(edges, func(a, b capability.Edge) int {
			if capability.EdgeLess(a, b) {
				return -1
			}
			return 1
		})
		var all []capability.Edge
		var after capability.Edge
		for {
			page, err := l.ListEdges(ctx, listerOrg, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page...)
			if len(page) < 2 {
				break
			}
			after = page[len(page)-1]
		}
		if len(all) != len(edges) {
			t.Fatalf("got %d edges, want %d: %v", len(all), len(edges), all)
		}
		for i := range all {
			if all[i].From != edges[i].From || all[i].Kind != edges[i].Kind || all[i].To != edges[i].To ||
				all[i].Level != edges[i].Level || !all[i].Expires.Equal(edges[i].Expires) || all[i].Issuer != edges[i].Issuer {
				t.Fatalf("edge %d = %+v, want %+v", i, all[i], edges[i])
			}
		}
	})
	t.Run("BadArgumentsAndCancel", func(t *testing.T) {
		l := newStore(t).(capability.Lister)
		_, err := l.ListNodes(ctx, "", "", 10)
		listerWant(t, err, errs.ErrInvalidArgument)
		_, err = l.ListEdges(ctx, listerOrg, capability.Edge{}, 0)
		listerWant(t, err, errs.ErrInvalidArgument)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err = l.ListEdges(cctx, listerOrg, capability.Edge{}, 10)
		listerWant(t, err, errs.ErrUnavailable)
	})
}

// RunBudgetLister runs the policy.BudgetLister conformance suite; newStore's
// stores must implement policy.BudgetLister.
func RunBudgetLister(t *testing.T, newStore func(t *testing.T) policy.BudgetStore) {
	t.Helper()
	ctx := context.Background()
	t.Run("ListsChargedCounters", func(t *testing.T) {
		s := newStore(t)
		l := s.(policy.BudgetLister)
		w := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		charge := func(org, key string, start time.Time, amount int64) {
			t.Helper()
			sp, err := s.Spend(ctx, org, []policy.Charge{{Key: key, Start: start, End: start.Add(24 * time.Hour), Amount: amount, Max: 1000}})
			if err != nil || !sp.Charged {
				t.Fatalf("spend: %v %+v", err, sp)
			}
		}
		charge(listerOrg, "b", w, 5)
		charge(listerOrg, "a", w.Add(time.Hour), 7)
		charge(listerOrg, "a", w, 3)
		charge(listerOrg, "a", w, 4)
		charge(listerOther, "a", w, 9)
		got, err := l.Counters(ctx, listerOrg)
		if err != nil {
			t.Fatal(err)
		}
		want := []policy.Counter{
			{Key: "a", Start: w, End: w.Add(24 * time.Hour), Total: 7},
			{Key: "a", Start: w.Add(time.Hour), End: w.Add(25 * time.Hour), Total: 7},
			{Key: "b", Start: w, End: w.Add(24 * time.Hour), Total: 5},
		}
		if len(got) != len(want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		for i := range got {
			if got[i].Key != want[i].Key || !got[i].Start.Equal(want[i].Start) || !got[i].End.Equal(want[i].End) || got[i].Total != want[i].Total {
				t.Fatalf("counter %d = %+v, want %+v", i, got[i], want[i])
			}
		}
		// Re-importing a counter: Spend(Amount = Max = Total) must not charge again.
		sp, err := s.Spend(ctx, listerOrg, []policy.Charge{{Key: "b", Start: w, End: w.Add(24 * time.Hour), Amount: 5, Max: 5}})
		if err != nil || sp.Charged {
			t.Fatalf("re-import charged: %v %+v", err, sp)
		}
	})
	t.Run("BadArgumentsAndCancel", func(t *testing.T) {
		l := newStore(t).(policy.BudgetLister)
		_, err := l.Counters(ctx, "")
		listerWant(t, err, errs.ErrInvalidArgument)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err = l.Counters(cctx, listerOrg)
		listerWant(t, err, errs.ErrUnavailable)
	})
}
