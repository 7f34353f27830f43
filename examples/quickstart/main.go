// Command quickstart tells HUMAN's story in one run, on the embedded
// default store (./human-data/, or $HUMAN_DATA_DIR):
//
//  1. a human creates a passport with a key generated on their device;
//  2. they delegate a narrow scope to an AI agent;
//  3. Alice, the org's policy admin, signs the policy: small payments are
//     fine, large ones need a finance approver;
//  4. the agent pays a small invoice (allowed), then asks for a large one
//     (pending approval);
//  5. a finance approver signs the approval with their own key; the call
//     completes;
//  6. every receipt is verified offline with only the ledger's public key.
//
// It exits non-zero if any step does not behave as described. A second run
// continues the same ledger.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
	"github.com/humanos/human/workforce"
)

const policyYAML = `policy: payments
rules:
  - id: small-payments
    description: Agents may pay small invoices on their own.
    actions: ["payments.send"]
    resources: ["invoice:*"]
    condition: double(request.attributes.amount) <= 100.0
    effect: allow
  - id: large-payments
    description: Payments over 100 need a finance approver.
    actions: ["payments.send"]
    resources: ["invoice:*"]
    condition: double(request.attributes.amount) > 100.0
    effect: require_approval
    approval:
      capability: finance.approver
      quorum: 1
      timeout: 15m
      on_timeout: deny
`

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart failed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	client, err := human.FromEnv(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	head, _, err := client.Ledger().Checkpoint(ctx)
	if err != nil {
		return err
	}
	say("HUMAN quickstart: org %q, ledger %s", client.Org(), client.Ledger().Origin())
	say("  ledger starts at %d entries", head.Size)

	// 1. Alice's device makes her key and self-signs her passport inception.
	aliceKey, err := passport.GenerateEd25519() // on Alice's device; never sent anywhere
	if err != nil {
		return err
	}
	inception, err := passport.NewInception(passport.KindHuman, "Alice (operations)", time.Now(), aliceKey)
	if err != nil {
		return err
	}
	alice, err := client.RegisterPassport(ctx, inception)
	if err != nil {
		return err
	}
	say("1. Alice created her human passport on her device: %s", alice.DID)

	// Bob, a finance approver, does the same on his device.
	bobKey, err := passport.GenerateEd25519()
	if err != nil {
		return err
	}
	bobInception, err := passport.NewInception(passport.KindHuman, "Bob (finance)", time.Now(), bobKey)
	if err != nil {
		return err
	}
	bob, err := client.RegisterPassport(ctx, bobInception)
	if err != nil {
		return err
	}
	if err := client.Grant(ctx, bob.DID, "finance.approver"); err != nil {
		return err
	}
	say("   Bob (finance) has his own passport %s and holds finance.approver", bob.DID)

	// 2. The agent has its own key; Alice delegates a narrow scope to it.
	agentKey, err := passport.GenerateEd25519()
	if err != nil {
		return err
	}
	agentInception, err := passport.NewInception(passport.KindAgent, "invoice-bot", time.Now(), agentKey)
	if err != nil {
		return err
	}
	agent, err := client.RegisterPassport(ctx, agentInception)
	if err != nil {
		return err
	}
	cert, err := passport.Delegate(aliceKey, passport.Delegation{
		Issuer: alice.DID, Subject: agent.DID,
		Scope: passport.Scope{
			Actions:   []string{"payments.send"},
			Resources: []string{"invoice:*"},
			Limits:    map[string]float64{"amount": 5000},
		},
		NotBefore: time.Now().Add(-time.Minute), Expires: time.Now().Add(24 * time.Hour),
	})
	if err != nil {
		return err
	}
	dlg, err := client.Delegate(ctx, cert)
	if err != nil {
		return err
	}
	say("2. Alice delegated payments.send on invoice:* (up to 5000) to agent %s", agent.DID)

	// 3. The org's policy. Alice is the org's policy admin: she signs the
	// change on her device; the library checks her signature and her
	// policy.admin capability, and attests the change with her DID.
	if err := client.Grant(ctx, alice.DID, policy.AdminCapability); err != nil {
		return err
	}
	base, err := client.LatestPolicyVersion(ctx)
	if err != nil {
		return err
	}
	change, err := policy.SignChange(aliceKey, policy.Change{
		Org: client.Org(), Admin: alice.DID, Filename: "payments.yaml", Document: []byte(policyYAML),
		Base: base, Created: time.Now(),
	})
	if err != nil {
		return err
	}
	pol, err := client.PublishPolicy(ctx, change)
	if err != nil {
		return err
	}
	say("3. Alice (policy admin) signed policy %q version %d, now active (%d rules)", pol.Document.Name, pol.Version, len(pol.Document.Rules))

	// 4a. A small payment: allowed.
	var receipts []*ledger.Receipt
	small, err := client.Call(ctx, human.Request{
		Agent: agent.DID, Delegation: dlg.ID, Action: "payments.send", Resource: "invoice:2026-0042",
		Attributes: map[string]any{"amount": 42.0},
	})
	if err != nil {
		return err
	}
	if small.Status != human.Allowed {
		return fmt.Errorf("a 42.00 payment should be allowed, got %s: %s", small.Status, small.Reason)
	}
	receipts = append(receipts, small.Receipts...)
	say("4. The agent pays invoice 2026-0042 (42.00): %s (%s)", small.Status, small.Reason)

	// 4b. A large payment: pending approval.
	large, err := client.Call(ctx, human.Request{
		Agent: agent.DID, Delegation: dlg.ID, Action: "payments.send", Resource: "invoice:2026-0043",
		Attributes: map[string]any{"amount": 1200.0},
	})
	if err != nil {
		return err
	}
	if large.Status != human.Pending {
		return fmt.Errorf("a 1200.00 payment should need approval, got %s: %s", large.Status, large.Reason)
	}
	receipts = append(receipts, large.Receipts...)
	say("   The agent asks to pay invoice 2026-0043 (1200.00): %s", large.Status)
	say("   %s", large.Reason)
	say("   task %s routed to %v, deadline %s", large.Task.ID, large.Task.Candidates, large.Task.Deadline.UTC().Format(time.RFC3339))

	// Alice cannot approve her own agent's request.
	selfVote, err := workforce.SignVote(aliceKey, alice.DID, large.Task, "approve", time.Now())
	if err != nil {
		return err
	}
	if _, err := client.Decide(ctx, large.Task.ID, selfVote); err == nil {
		return fmt.Errorf("the agent's own delegator must not be able to approve")
	}
	say("   Alice's attempt to approve her own agent's payment is refused")

	// 5. Bob approves on his device, signing the task digest with his key.
	inbox, err := client.Inbox(ctx, bob.DID)
	if err != nil {
		return err
	}
	if len(inbox) == 0 {
		return fmt.Errorf("the task did not reach Bob's inbox")
	}
	vote, err := workforce.SignVote(bobKey, bob.DID, inbox[0], "approve", time.Now())
	if err != nil {
		return err
	}
	decided, err := client.Decide(ctx, inbox[0].ID, vote)
	if err != nil {
		return err
	}
	if decided.Receipt != nil {
		receipts = append(receipts, decided.Receipt)
	}
	final, err := large.Wait(ctx)
	if err != nil {
		return err
	}
	if final.Status != human.Allowed {
		return fmt.Errorf("after Bob's approval the payment should be allowed, got %s: %s", final.Status, final.Reason)
	}
	for _, r := range final.Receipts[len(large.Receipts):] {
		if decided.Receipt == nil || r.Index != decided.Receipt.Index { // the resolving vote's receipt may be Bob's
			receipts = append(receipts, r)
		}
	}
	say("5. Bob signed his approval; the call completes: %s (%s)", final.Status, final.Reason)

	// 6. Anyone holding only the ledger's public key can check every receipt.
	key := client.LedgerKey()
	for _, r := range receipts {
		if err := human.VerifyReceipt(r, key); err != nil {
			return fmt.Errorf("receipt %d does not verify: %w", r.Index, err)
		}
	}
	head, _, err = client.Ledger().Checkpoint(ctx)
	if err != nil {
		return err
	}
	say("6. %d receipts verified offline with the ledger key %s", len(receipts), key)
	say("   the ledger now holds %d signed entries; run again to continue it", head.Size)
	return nil
}
