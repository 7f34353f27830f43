package ledger_test

import (
	"context"
	"fmt"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

func ExampleLog_Attest() {
	ctx := context.Background()
	orgKey, _ := passport.GenerateEd25519() // in production: the org's KMS-backed signer
	log, err := ledger.Open(ctx, memory.NewLedgerStore(), "acme", orgKey, nil)
	if err != nil {
		panic(err)
	}
	defer log.Close()

	st, err := ledger.NewStatement(ledger.PredicateDecision,
		map[string]string{"agent": "did:human:agent-7", "action": "email.send", "effect": "allow"},
		ledger.SubjectFor("request", []byte(`{"action":"email.send"}`)))
	if err != nil {
		panic(err)
	}
	pending, err := log.Attest(ctx, st) // signs and queues; returns at once
	if err != nil {
		panic(err)
	}
	receipt, err := pending.Wait(ctx) // the batch is durable
	if err != nil {
		panic(err)
	}

	env, got, _ := ledger.ParseAttestation(receipt.Entry)
	fmt.Println("index:", receipt.Index)
	fmt.Println("predicate:", got.PredicateType)
	fmt.Println("signed by the org:", env.VerifiedBy(log.PublicKey()) == nil)
	fmt.Println("receipt verifies:", ledger.VerifyReceipt(receipt, log.Verifier()) == nil)
	// Output:
	// index: 0
	// predicate: https://humanos.dev/attestation/decision/v1
	// signed by the org: true
	// receipt verifies: true
}

func ExampleVerifyReceipt() {
	ctx := context.Background()
	orgKey, _ := passport.GenerateEd25519()
	log, _ := ledger.Open(ctx, memory.NewLedgerStore(), "acme", orgKey, nil)
	defer log.Close()
	receipt, _ := log.Append(ctx, []byte("decision 42: allow"))

	// The org publishes its verifier key; a receipt travels as text.
	publishedKey := log.VerifierKey()
	text, _ := receipt.MarshalText()

	// Offline, with only the published key:
	v, err := ledger.NewVerifier(publishedKey)
	if err != nil {
		panic(err)
	}
	r, err := ledger.ParseReceipt(text)
	if err != nil {
		panic(err)
	}
	fmt.Println("genuine:", ledger.VerifyReceipt(r, v))

	r.Entry = []byte("decision 42: deny")
	r.LeafHash = nil
	fmt.Println("altered:", ledger.VerifyReceipt(r, v) != nil)
	// Output:
	// genuine: <nil>
	// altered: true
}

func ExampleLog_Query() {
	ctx := context.Background()
	orgKey, _ := passport.GenerateEd25519()
	log, err := ledger.Open(ctx, memory.NewLedgerStore(), "acme", orgKey, nil)
	if err != nil {
		panic(err)
	}
	defer log.Close()
	for _, action := range []string{"email.send", "payments.send", "email.send"} {
		st, _ := ledger.NewStatement(ledger.PredicateDecision,
			map[string]string{"org": "acme", "agent": "did:human:agent-7", "action": action, "time": "2026-03-01T09:00:00Z"},
			ledger.SubjectFor("request", []byte(action)))
		p, _ := log.Attest(ctx, st)
		if _, err := p.Wait(ctx); err != nil {
			panic(err)
		}
	}

	q := &ledger.Query{Filter: ledger.Filter{Actor: "did:human:agent-7", Action: "email.send"}, Limit: 1, Proofs: true}
	for {
		page, err := log.Query(ctx, q)
		if err != nil {
			panic(err)
		}
		for _, a := range page.Attestations {
			fmt.Println("index", a.Index, a.Fields.Action, "proved:", ledger.VerifyReceipt(a.Receipt, log.Verifier()) == nil)
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	// Output:
	// index 0 email.send proved: true
	// index 2 email.send proved: true
}
