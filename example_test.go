package human_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
)

// ExampleClient_Call governs one agent action end to end on in-memory
// stores: a human passport and delegation, a policy, an allowed call and
// its receipt verified offline.
func ExampleClient_Call() {
	ctx := context.Background()
	client, err := human.Open(ctx, human.Config{Store: "mem://"})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	// On the human's device: a key, and a self-signed passport inception.
	aliceKey, _ := passport.GenerateEd25519()
	inc, _ := passport.NewInception(passport.KindHuman, "Alice", time.Now(), aliceKey)
	alice, err := client.RegisterPassport(ctx, inc)
	if err != nil {
		log.Fatal(err)
	}
	// The agent's own passport, and Alice's delegation to it.
	botKey, _ := passport.GenerateEd25519()
	botInc, _ := passport.NewInception(passport.KindAgent, "bot", time.Now(), botKey)
	bot, err := client.RegisterPassport(ctx, botInc)
	if err != nil {
		log.Fatal(err)
	}
	cert, _ := passport.Delegate(aliceKey, passport.Delegation{
		Issuer: alice.DID, Subject: bot.DID,
		Scope:     passport.Scope{Actions: []string{"tickets.*"}},
		NotBefore: time.Now().Add(-time.Minute), Expires: time.Now().Add(time.Hour),
	})
	dlg, err := client.Delegate(ctx, cert)
	if err != nil {
		log.Fatal(err)
	}
	// Alice is the org's policy admin: she signs the policy on her device.
	if err := client.Grant(ctx, alice.DID, policy.AdminCapability); err != nil {
		log.Fatal(err)
	}
	change, _ := policy.SignChange(aliceKey, policy.Change{Org: client.Org(), Admin: alice.DID, Filename: "tickets.yaml",
		Created: time.Now(), Document: []byte(`policy: tickets
rules:
  - id: agents-comment
    description: Agents may comment on tickets.
    actions: ["tickets.comment"]
    effect: allow
`)})
	_, err = client.PublishPolicy(ctx, change)
	if err != nil {
		log.Fatal(err)
	}

	out, err := client.Call(ctx, human.Request{Agent: bot.DID, Delegation: dlg.ID, Action: "tickets.comment", Resource: "ticket:7"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out.Status, "by rule", out.Decision.Rule)
	fmt.Println("receipt verifies:", human.VerifyReceipt(out.Receipts[0], client.LedgerKey()) == nil)
	// Output:
	// allowed by rule agents-comment
	// receipt verifies: true
}

// Example_embedding is the README's embedding example, compiled by go vet
// and go test so the README cannot drift from the API.
func Example_embedding() {
	if err := embedding(context.Background(), "did:human:agent", "dlg:cert"); err != nil {
		log.Print(err)
	}
}

func embedding(ctx context.Context, agentDID, delegationID string) error {
	// README:begin
	client, err := human.FromEnv(ctx) // embedded SQLite under ./human-data by default
	if err != nil {
		return err
	}
	defer client.Close()

	out, err := client.Call(ctx, human.Request{
		Agent:      agentDID,     // the agent's passport
		Delegation: delegationID, // the certificate a human signed for it
		Action:     "payments.send",
		Resource:   "invoice:2026-0043",
		Attributes: map[string]any{"amount": 1200.0},
	})
	if err != nil {
		return err // malformed request or store unavailable
	}
	if out.Status == human.Pending {
		out, err = out.Wait(ctx) // until the approvers decide or the deadline passes
		if err != nil {
			return err
		}
	}
	fmt.Println(out.Status, out.Reason, len(out.Receipts), "receipts")
	// README:end
	return nil
}

// TestREADMEEmbeddingExample keeps README.md's code identical to the
// compiled Example_embedding.
func TestREADMEEmbeddingExample(t *testing.T) {
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := strings.Cut(string(src), "// README:begin\n")
	body, _, _ = strings.Cut(body, "\t// README:end")
	var want strings.Builder
	for _, line := range strings.SplitAfter(body, "\n") {
		want.WriteString(strings.TrimPrefix(line, "\t"))
	}
	if !strings.Contains(string(readme), "```go\n"+want.String()+"```") {
		t.Fatalf("README.md's embedding example differs from example_test.go; paste this:\n```go\n%s```", want.String())
	}
}
