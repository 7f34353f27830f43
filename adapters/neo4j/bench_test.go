package neo4j_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/humanos/human/capability"
)

// BenchmarkHolds is the Neo4j graph's hot operation: "does S hold C",
// through capability.Graph over the store (one InMany query per level),
// for a human two teams deep under the holding team.
func BenchmarkHolds(b *testing.B) {
	ctx := context.Background()
	g := capability.NewGraph(newStore(b, testDriver(b)), nil)
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(g.AddNode(ctx, "acme", capability.Node{ID: "pay", Kind: capability.Capability}))
	teams := []string{"finance", "payables", "eu-payables"}
	for _, tm := range teams {
		must(g.AddNode(ctx, "acme", capability.Node{ID: tm, Kind: capability.Team}))
	}
	must(g.Grant(ctx, "acme", "finance", "pay"))
	must(g.AddMember(ctx, "acme", "payables", "finance"))
	must(g.AddMember(ctx, "acme", "eu-payables", "payables"))
	for i := range 50 {
		id := fmt.Sprint("did:key:h", i)
		must(g.AddNode(ctx, "acme", capability.Node{ID: id, Kind: capability.Human}))
		must(g.AddMember(ctx, "acme", id, teams[i%3]))
	}
	for b.Loop() {
		ok, err := g.HasCapability(ctx, "acme", "did:key:h2", "pay")
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}
