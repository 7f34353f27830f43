package workforce_test

import (
	"fmt"
	"testing"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/capability"
	"github.com/humanos/human/workforce"
)

// BenchmarkRoute10kHumans100Teams: routing one task (eligible candidates,
// exclusions, availability, least-loaded pick) among 10,000 humans in 100
// teams that each hold the capability, on the memory stores. "all" is the
// baseline without a strategy; Pick alone isolates the strategy's cost.
func BenchmarkRoute10kHumans100Teams(b *testing.B) {
	gs := memory.NewGraphStore()
	g := capability.NewGraph(gs, nil)
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(g.AddNode(ctx, org, capability.Node{ID: agent, Kind: capability.Agent}))
	for t := range 100 {
		team := fmt.Sprintf("team%03d", t)
		must(g.AddNode(ctx, org, capability.Node{ID: team, Kind: capability.Team}))
		must(g.Grant(ctx, org, team, cap1, capability.WithLevel(t%5)))
		for h := range 100 {
			id := fmt.Sprintf("h%03d-%03d", t, h)
			must(g.AddNode(ctx, org, capability.Node{ID: id, Kind: capability.Human}))
			must(g.AddMember(ctx, org, id, team))
		}
	}
	spec := workforce.Spec{Org: org, Agent: agent, Requester: "h000-000", Action: "pay", Capability: cap1, Quorum: 2,
		Exclude: []string{"h050-050"}}
	// "uncached" is the old path, in the same run: the graph walks the
	// store and builds a path per holder on every call (a store without
	// capability.GenerationStore). "cached" answers from the graph's
	// cache, valid until the org's next write.
	for _, graph := range []struct {
		name string
		g    *capability.Graph
	}{{"uncached", capability.NewGraph(graphNoGeneration{gs}, nil)}, {"cached", g}} {
		q := workforce.NewQueue(memory.NewQueueStore(), &keyring{}, graph.g, nil, nil)
		for _, s := range []workforce.Strategy{workforce.RouteAll, workforce.LeastLoaded, workforce.HighestLevel} {
			b.Run(graph.name+"/"+string(s), func(b *testing.B) {
				spec.Routing = s
				for b.Loop() {
					st, err := q.Route(ctx, spec, cap1, "")
					if err != nil || len(st.Candidates) != 9998 {
						b.Fatalf("Route = %d candidates, %v", len(st.Candidates), err)
					}
				}
			})
		}
	}
	b.Run("pick-only", func(b *testing.B) {
		cands := make([]workforce.Candidate, 10000)
		for i := range cands {
			cands[i] = workforce.Candidate{Human: fmt.Sprintf("h%05d", i), Level: i % 5, Load: i % 7}
		}
		for b.Loop() {
			workforce.Pick(workforce.LeastLoaded, cands, 2, 0)
		}
	})
}

// graphNoGeneration hides the store's GenerationStore (keeping only the
// Store methods), so a Graph over it never caches: the old path.
type graphNoGeneration struct{ capability.Store }
