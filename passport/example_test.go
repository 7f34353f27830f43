package passport_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/passport"
)

// deviceKey stands for a key generated on a device; examples use fixed
// seeds so their output is stable. Real code calls passport.GenerateEd25519
// on the device.
func deviceKey(seed byte) *passport.Ed25519Signer {
	return passport.NewEd25519Signer(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)))
}

func ExampleNewInception() {
	device := deviceKey(1) // on the human's device
	created := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

	// The device self-signs the inception; only the envelope leaves it.
	inception, err := passport.NewInception(passport.KindHuman, "Ada", created, device)
	if err != nil {
		panic(err)
	}
	p, err := passport.Replay([]*passport.Envelope{inception}, created)
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Kind, p.Name, len(p.Keys), passport.ValidDID(p.DID))
	fmt.Println(p.DID == passport.DIDPrefix+passport.Digest(inception.Payload))
	// Output:
	// human Ada 1 true
	// true
}

func ExampleDelegate() {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	reg := passport.NewRegistry(memory.NewPassportStore(), nil, func() time.Time { return now })

	human, agent := deviceKey(1), deviceKey(2)
	hInc, _ := passport.NewInception(passport.KindHuman, "Ada", now, human)
	aInc, _ := passport.NewInception(passport.KindAgent, "invoice bot", now, agent)
	ada, _ := reg.Register(ctx, "acme", hInc)
	bot, _ := reg.Register(ctx, "acme", aInc)

	// Ada lets the bot pay invoices up to 500, for one day.
	env, err := passport.Delegate(human, passport.Delegation{
		Issuer: ada.DID, Subject: bot.DID,
		Scope:   passport.Scope{Actions: []string{"invoice.*"}, Resources: []string{"invoice:*"}, Limits: map[string]float64{"amount": 500}},
		Created: now, Expires: now.Add(24 * time.Hour),
	})
	if err != nil {
		panic(err)
	}
	d, err := reg.AddDelegation(ctx, "acme", env)
	if err != nil {
		panic(err)
	}

	chain, err := reg.VerifyChain(ctx, "acme", bot.DID, d.ID)
	if err != nil {
		panic(err)
	}
	fmt.Println("root is Ada:", chain.Root == ada.DID)
	fmt.Println("pay 120:", chain.Scope.Permits("invoice.pay", "invoice:42", map[string]any{"amount": 120}))
	fmt.Println("pay 900:", chain.Scope.Permits("invoice.pay", "invoice:42", map[string]any{"amount": 900}))
	// Output:
	// root is Ada: true
	// pay 120: <nil>
	// pay 900: permission denied: limit "amount": 900 exceeds the delegated maximum 500
}
