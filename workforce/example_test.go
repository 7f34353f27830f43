package workforce_test

import (
	"context"
	"fmt"
	"time"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/capability"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/workforce"
)

// staticKeys is a one-passport key source for the example.
type staticKeys map[string]passport.PublicKey

func (k staticKeys) VerifyingKeys(_ context.Context, _, did string) ([]passport.PublicKey, error) {
	return []passport.PublicKey{k[did]}, nil
}

func ExampleQueue_Decide() {
	ctx := context.Background()
	graph := capability.NewGraph(memory.NewGraphStore(), nil)
	_ = graph.AddNode(ctx, "acme", capability.Node{ID: "did:human:alice", Kind: capability.Human})
	_ = graph.Grant(ctx, "acme", "did:human:alice", "payments.approve")

	// Alice's key lives on her device; the queue only ever sees the public half.
	device, _ := passport.GenerateEd25519()
	keys := staticKeys{"did:human:alice": device.PublicKey()}

	q := workforce.NewQueue(memory.NewQueueStore(), keys, graph, nil, nil)
	task, err := q.Open(ctx, workforce.Spec{
		Org: "acme", Agent: "did:agent:bot", Requester: "did:human:bob",
		Action: "payments.send", Resource: "invoice/42", Attributes: map[string]any{"amount": 25000},
		Capability: "payments.approve", Quorum: 1, Timeout: time.Hour,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("routed to:", task.Candidates)

	// On her device, Alice signs the task digest.
	vote, _ := workforce.SignVote(device, "did:human:alice", task, workforce.VerdictApprove, time.Now())

	task, err = q.Decide(ctx, "acme", task.ID, vote)
	fmt.Println(task.State, err)
	// Output:
	// routed to: [did:human:alice]
	// approved <nil>
}
