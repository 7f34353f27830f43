package adaptertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
)

// runGraphGeneration checks capability.GenerationStore and the Graph answer
// cache it enables: every write moves the org's generation (and only that
// org's), and a cached answer never outlives a write made through another
// Graph (another process) or the expiry of an edge it relied on.
func runGraphGeneration(t *testing.T, newStore func(t *testing.T) capability.Store) {
	ctx := context.Background()
	t.Run("GenerationMovesOnEveryWrite", func(t *testing.T) {
		s := newStore(t)
		gs := s.(capability.GenerationStore)
		gen := func(org string) uint64 {
			t.Helper()
			g, err := gs.Generation(ctx, org)
			if err != nil {
				t.Fatal(err)
			}
			return g
		}
		if g := gen("org1"); g != 0 {
			t.Fatalf("Generation(unwritten org) = %d, want 0", g)
		}
		other := gen("org2")
		last := gen("org1")
		step := func(what string, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if g := gen("org1"); g == last {
				t.Fatalf("%s did not move the generation (still %d)", what, g)
			} else {
				last = g
			}
		}
		step("PutNode", s.PutNode(ctx, "org1", capability.Node{ID: "alice", Kind: capability.Human}))
		step("PutNode rename", s.PutNode(ctx, "org1", capability.Node{ID: "alice", Kind: capability.Human, Name: "A"}))
		step("PutNode cap", s.PutNode(ctx, "org1", capability.Node{ID: "c", Kind: capability.Capability}))
		step("PutEdge", s.PutEdge(ctx, "org1", capability.Edge{From: "alice", To: "c", Kind: capability.Holds}))
		step("PutEdge replace", s.PutEdge(ctx, "org1", capability.Edge{From: "alice", To: "c", Kind: capability.Holds, Level: 3}))
		step("DeleteEdge", s.DeleteEdge(ctx, "org1", "alice", capability.Holds, "c"))
		if g := gen("org2"); g != other {
			t.Fatalf("writes to org1 moved org2's generation: %d -> %d", other, g)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := gs.Generation(cctx, "org1"); !errors.Is(err, errs.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Generation(cancelled) = %v, want ErrUnavailable wrapping context.Canceled", err)
		}
	})
	t.Run("CacheSeesWritesOfAnotherGraph", func(t *testing.T) {
		s := newStore(t)
		graphRandom(t, s, rand.New(rand.NewPCG(3, 5)))
		now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		cached := capability.NewGraph(s, clock)
		writer := capability.NewGraph(s, clock) // another process sharing the store
		truth := func() *capability.Graph { return capability.NewGraph(graphNoBulk{s}, clock) }
		check := func(when string) {
			t.Helper()
			for c := range 8 {
				cp := fmt.Sprintf("cap%d", c)
				for range 2 { // the second call is served from the cache
					a, err1 := cached.Holders(ctx, "org1", cp)
					b, err2 := truth().Holders(ctx, "org1", cp)
					if err1 != nil || err2 != nil || !reflect.DeepEqual(a, b) {
						t.Fatalf("%s: Holders(%s): cached %v (%v), uncached %v (%v)", when, cp, a, err1, b, err2)
					}
					lv, err := cached.HolderLevels(ctx, "org1", cp)
					if err != nil || len(lv) != len(b) {
						t.Fatalf("%s: HolderLevels(%s) = %d, %v; want %d", when, cp, len(lv), err, len(b))
					}
					for i := range lv {
						if lv[i].Subject != b[i].Subject || lv[i].Level != b[i].Level {
							t.Fatalf("%s: HolderLevels(%s)[%d] = %+v, want %s at %d", when, cp, i, lv[i], b[i].Subject, b[i].Level)
						}
					}
				}
			}
			for tm := range 10 {
				team := fmt.Sprintf("team%d", tm)
				a, err1 := cached.Members(ctx, "org1", team)
				b, err2 := truth().Members(ctx, "org1", team)
				if err1 != nil || err2 != nil || !reflect.DeepEqual(a, b) {
					t.Fatalf("%s: Members(%s): cached %v (%v), uncached %v (%v)", when, team, a, err1, b, err2)
				}
			}
		}
		check("initially")
		// A caller modifying its answer does not touch the cache.
		if hs, _ := cached.Holders(ctx, "org1", "cap0"); len(hs) > 0 {
			hs[0].Subject, hs[0].Path[0].From = "mallory", "mallory"
		}
		check("after a caller modified its copy")
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(writer.AddNode(ctx, "org1", capability.Node{ID: "newbie", Kind: capability.Human}))
		must(writer.AddMember(ctx, "org1", "newbie", "team3"))
		check("after a member was added elsewhere")
		must(writer.Grant(ctx, "org1", "newbie", "cap1", capability.WithLevel(9), capability.WithExpiry(now.Add(time.Hour))))
		check("after a grant elsewhere")
		must(writer.RemoveEdge(ctx, "org1", "newbie", capability.MemberOf, "team3"))
		check("after a membership was removed elsewhere")
		now = now.Add(2 * time.Hour) // the expiring grant lapses with no write at all
		check("after a grant expired")
	})
}
