package human_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

// clock is a test clock the scenario moves forward.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// TestScenarioPassportRecovery is "a passport recovery", in every profile:
// Alice names Bob, Carol and Dave as guardians (2 of 3, one hour to
// cancel), loses her phone, and gets her identity back on a new device
// without any operator: a single guardian is not enough, two are, and only
// after the delay; her old key is dead afterwards and her new key
// delegates under the same DID.
func TestScenarioPassportRecovery(t *testing.T) {
	for name, profile := range profiles {
		t.Run(name, func(t *testing.T) {
			clk := &clock{}
			cfg := profile(t)
			cfg.Now = clk.now
			w := setup(t, cfg)
			ctx := context.Background()
			c := w.c

			phone, _ := passport.GenerateEd25519()
			inc, err := passport.NewGuardedInception(passport.KindHuman, "alice2", clk.now(), passport.Guardianship{
				Guardians: []string{w.bob.DID, w.carol.DID, w.dave.DID}, Threshold: 2, Delay: time.Hour,
			}, phone)
			if err != nil {
				t.Fatal(err)
			}
			alice, err := c.RegisterPassport(ctx, inc)
			if err != nil {
				t.Fatal(err)
			}

			// The phone is lost. The new laptop's key asks for recovery.
			laptop, _ := passport.GenerateEd25519()
			lone, _ := passport.StartRecovery(alice, clk.now(), "lost phone", laptop)
			_ = lone.AddSignature(w.bobKey)
			if _, err := c.UpdatePassport(ctx, lone); !errors.Is(err, errs.ErrUnauthenticated) {
				t.Fatalf("recovery with one guardian: %v, want ErrUnauthenticated", err)
			}
			// The org's own key is no guardian either.
			orgKey := orgSigner(t, c)
			forged, _ := passport.StartRecovery(alice, clk.now(), "operator", laptop)
			_ = forged.AddSignature(w.bobKey)
			_ = forged.AddSignature(orgKey)
			if _, err := c.UpdatePassport(ctx, forged); !errors.Is(err, errs.ErrUnauthenticated) {
				t.Fatalf("recovery co-signed by an org key: %v, want ErrUnauthenticated", err)
			}

			rec, _ := passport.StartRecovery(alice, clk.now(), "lost phone", laptop)
			_ = rec.AddSignature(w.bobKey)
			_ = rec.AddSignature(w.carolKey)
			pending, err := c.UpdatePassport(ctx, rec)
			if err != nil {
				t.Fatalf("recovery with two guardians: %v", err)
			}
			if pending.Recovery == nil || !pending.HasKey(phone.PublicKey()) {
				t.Fatalf("recovery should be pending: %+v", pending.Recovery)
			}
			early, _ := passport.CompleteRecovery(laptop, pending, clk.now())
			if _, err := c.UpdatePassport(ctx, early); !errors.Is(err, errs.ErrFailedPrecondition) {
				t.Fatalf("completion before the delay: %v, want ErrFailedPrecondition", err)
			}
			advanceClock(t, cfg, clk, time.Hour+time.Minute) // remote_test.go: the server's clock too
			done, _ := passport.CompleteRecovery(laptop, pending, clk.now())
			recovered, err := c.UpdatePassport(ctx, done)
			if err != nil {
				t.Fatalf("completion after the delay: %v", err)
			}
			if recovered.DID != alice.DID || recovered.HasKey(phone.PublicKey()) || !recovered.HasKey(laptop.PublicKey()) {
				t.Fatalf("after recovery: %+v", recovered)
			}
			got, err := c.Passport(ctx, alice.DID)
			if err != nil || !got.HasKey(laptop.PublicKey()) {
				t.Fatalf("stored passport after recovery: %v", err)
			}
			// The lost phone can no longer delegate; the laptop can.
			cert := func(k passport.Signer) *passport.Envelope {
				env, err := passport.Delegate(k, passport.Delegation{Issuer: alice.DID, Subject: w.agent.DID,
					Scope: passport.Scope{Actions: []string{"payments.send"}}, Created: clk.now(), Expires: clk.now().Add(time.Hour)})
				if err != nil {
					t.Fatal(err)
				}
				return env
			}
			if _, err := c.Delegate(ctx, cert(phone)); !errors.Is(err, errs.ErrUnauthenticated) {
				t.Fatalf("delegation by the lost key: %v, want ErrUnauthenticated", err)
			}
			if _, err := c.Delegate(ctx, cert(laptop)); err != nil {
				t.Fatalf("delegation by the recovered key: %v", err)
			}
			verifyLedger(t, c)
		})
	}
}

// orgSigner is a key standing in for the deployment's own (server) key:
// an org passport registered in the same org.
func orgSigner(t *testing.T, c *human.Client) passport.Signer {
	t.Helper()
	k, _ := passport.GenerateEd25519()
	inc, err := passport.NewInception(passport.KindOrg, "acme", time.Now(), k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RegisterPassport(context.Background(), inc); err != nil {
		t.Fatal(err)
	}
	return k
}

// verifyLedger checks the whole org ledger: in the embedded profiles by
// Log.Verify, in the server profiles by reading every attestation with
// its receipt, each checked against the org's ledger key (Attestations
// refuses any that does not verify).
func verifyLedger(t *testing.T, c *human.Client) {
	t.Helper()
	ctx := context.Background()
	if lg := c.Ledger(); lg != nil {
		if err := lg.Verify(ctx); err != nil {
			t.Fatalf("ledger: %v", err)
		}
		return
	}
	q := &ledger.Query{Proofs: true, Limit: 100}
	n := 0
	for {
		page, err := c.Attestations(ctx, q)
		if err != nil {
			t.Fatalf("ledger: %v", err)
		}
		n += len(page.Attestations)
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	if n == 0 {
		t.Fatal("ledger: no attestations")
	}
}
