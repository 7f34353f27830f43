package capability_test

import (
	"context"
	"fmt"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/capability"
)

func ExampleGraph_Holds() {
	ctx := context.Background()
	g := capability.NewGraph(memory.NewGraphStore(), nil)
	_ = g.AddNode(ctx, "acme", capability.Node{ID: "alice", Kind: capability.Human, Name: "Alice"})
	_ = g.AddNode(ctx, "acme", capability.Node{ID: "treasury", Kind: capability.Team})
	_ = g.AddMember(ctx, "acme", "alice", "treasury")
	_ = g.Grant(ctx, "acme", "treasury", "finance.approver")

	path, ok, err := g.Holds(ctx, "acme", "alice", "finance.approver")
	fmt.Println(ok, err)
	fmt.Println(path)

	holders, _ := g.Holders(ctx, "acme", "finance.approver")
	for _, h := range holders {
		fmt.Println("holder:", h.Subject)
	}
	// Output:
	// true <nil>
	// alice -member_of-> treasury -holds-> finance.approver
	// holder: alice
}
