package passport_test

import (
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/hdevalence/ed25519consensus"

	"github.com/humanos/human/passport"
)

// BenchmarkChain3 verifies the 3-link chain human -> agent1 -> agent2 ->
// agent3 (4 passports, 3 certificates, revocation look-ups).
//
// cold: a new Registry per iteration, so every passport log is replayed
// and every signature verified from the stored bytes, as after a restart;
// its 7 Ed25519 signatures are verified in one batch.
// cached: one Registry; the chain cache answers after one generation read.
// baseline-ed25519-verify is one (ZIP-215) verification and
// baseline-ed25519-batch7 one batch of 7 (the package's verifier), the
// crypto floor of cold; baseline-ed25519consensus-batch7 is the same batch
// through ed25519consensus.BatchVerifier.
//
//	go test -run '^$' -bench 'Chain3' -benchmem -cpu 1 -count 5 ./passport/
func BenchmarkChain3(b *testing.B) {
	w := newWorld(b)
	_, _, _, a3, _, _, d3 := w.chain3()
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			reg := passport.NewRegistry(w.store, nil, func() time.Time { return w.now })
			if _, err := reg.VerifyChain(w.ctx, org, a3.p.DID, d3.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The yardstick: one Ed25519 verification. A cold 3-link chain costs
	// 7 of them (4 passport inceptions, 3 certificates) plus bookkeeping.
	b.Run("baseline-ed25519-verify", func(b *testing.B) {
		k := mustKey(b)
		msg := passport.PAE(passport.DelegationPayloadType, []byte(`{"issuer":"did:human:x"}`))
		sig, _ := k.Sign(msg)
		pub := k.PublicKey()
		b.ReportAllocs()
		for b.Loop() {
			if err := pub.Verify(msg, sig); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The crypto floor of cold: 7 signatures over 7 messages of a
	// certificate's size, verified in one batch as VerifyChain does, by 7
	// distinct keys (nothing to merge) and by 4 keys as in the chain (the
	// 4 inceptions and 3 certificates: human, agent1 and agent2 sign twice).
	// The ed25519consensus batch verifier is the yardstick for the ratio.
	type triple struct{ pub, msg, sig []byte }
	batch7 := func(b *testing.B, keys int) []triple {
		ks := make([]*passport.Ed25519Signer, keys)
		for i := range ks {
			ks[i] = mustKey(b)
		}
		var ts []triple
		for i := range 7 {
			k := ks[[]int{0, 1, 2, 3, 0, 1, 2}[i]%keys]
			msg := passport.PAE(passport.DelegationPayloadType, fmt.Appendf(nil, `{"issuer":"did:human:x","n":%d,"pad":"%0300d"}`, i, 0))
			sig, _ := k.Sign(msg)
			ts = append(ts, triple{k.PublicKey().Key, msg, sig})
		}
		return ts
	}
	for _, c := range []struct {
		name string
		keys int
	}{{"baseline-ed25519-batch7", 7}, {"baseline-ed25519-batch7-4keys", 4}} {
		b.Run(c.name, func(b *testing.B) {
			ts := batch7(b, c.keys)
			b.ReportAllocs()
			for b.Loop() {
				var v passport.Ed25519BatchForTest
				for _, t := range ts {
					v.Add(t.pub, t.msg, t.sig)
				}
				if !v.Verify() {
					b.Fatal("batch does not verify")
				}
			}
		})
	}
	b.Run("baseline-ed25519consensus-batch7", func(b *testing.B) {
		ts := batch7(b, 7)
		b.ReportAllocs()
		for b.Loop() {
			v := ed25519consensus.NewPreallocatedBatchVerifier(len(ts))
			for _, t := range ts {
				v.Add(ed25519.PublicKey(t.pub), t.msg, t.sig)
			}
			if !v.Verify() {
				b.Fatal("batch does not verify")
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		if _, err := w.reg.VerifyChain(w.ctx, org, a3.p.DID, d3.ID); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := w.reg.VerifyChain(w.ctx, org, a3.p.DID, d3.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkWebAuthnAssertion verifies one passkey signature over an
// envelope (client data, authenticator data, P-256 signature); Ed25519 and
// ES256 are the baselines in the same run.
func BenchmarkWebAuthnAssertion(b *testing.B) {
	msg := passport.PAE("application/vnd.humanos.vote+json", []byte(`{"task":"t-1","verdict":"approve"}`))
	f := newFakePasskey(b)
	wk := f.key(b, true)
	wsig := f.assert(passport.WebAuthnChallenge(msg)).Marshal()
	ed := mustKey(b)
	edsig, _ := ed.Sign(msg)
	es, _ := passport.GenerateES256()
	essig, _ := es.Sign(msg)
	for _, c := range []struct {
		name string
		key  passport.PublicKey
		sig  []byte
	}{{"webauthn", wk, wsig}, {"ed25519", ed.PublicKey(), edsig}, {"es256", es.PublicKey(), essig}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.key.Verify(msg, c.sig); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
