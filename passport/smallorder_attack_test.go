package passport_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"testing"
	"time"

	"github.com/hdevalence/ed25519consensus"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// smallOrderSigner "signs" anything with a small-order key: R = identity
// and S = 0 satisfy the cofactored ZIP-215 equation [8]([S]B - R - [k]A) = 0
// for every message, since [8]A = 0. Nobody holds a private key for it.
type smallOrderSigner struct{ key []byte }

func (s smallOrderSigner) PublicKey() passport.PublicKey {
	return passport.PublicKey{Suite: passport.SuiteEd25519, Key: s.key}
}

func (s smallOrderSigner) Sign([]byte) ([]byte, error) {
	sig := make([]byte, 64)
	sig[0] = 1 // R = identity, S = 0
	return sig, nil
}

// Invariant: a small-order Ed25519 key, in any of its 14 encodings, is never
// accepted: not when parsed, not declared by an inception (built by the
// library or by hand, registered or slipped into the store), not added to
// a passport, and nothing it "signs" verifies (an envelope, a delegation
// certificate in a chain). Every refusal leaves the stores unchanged.
func TestAttackSmallOrderKey(t *testing.T) {
	for _, enc := range passport.SmallOrderEd25519ForTest {
		forged := smallOrderSigner{key: enc[:]}
		key := forged.PublicKey()
		t.Run(key.String(), func(t *testing.T) {
			w := newWorld(t)
			h := w.register(passport.KindHuman)
			agent := w.register(passport.KindAgent)
			msg := []byte("pay invoice 42")
			sig, _ := forged.Sign(msg)
			// The reason for the rule: bare ZIP-215 accepts the forgery.
			if !ed25519consensus.Verify(ed25519.PublicKey(enc[:]), msg, sig) {
				t.Fatal("ZIP-215 rejects the small-order forgery; the attack premise is wrong")
			}

			// Parsed, validated or used directly.
			_, err := passport.ParsePublicKey(key.String())
			wantErr(t, err, errs.ErrInvalidArgument)
			wantErr(t, key.Validate(), errs.ErrInvalidArgument)
			wantErr(t, key.Verify(msg, sig), errs.ErrInvalidArgument)
			env, err := passport.Seal("application/vnd.example+json", []byte(`{}`), forged)
			if err != nil {
				t.Fatal(err)
			}
			wantErr(t, env.VerifiedBy(key), errs.ErrUnauthenticated)

			// Declared by an inception.
			_, err = passport.NewInception(passport.KindHuman, "mallory", w.now, forged)
			wantErr(t, err, errs.ErrInvalidArgument)
			inception := handBuiltInception(t, w, forged)
			gen := w.store.gen[org]
			_, err = w.reg.Register(w.ctx, org, inception)
			wantErr(t, err, errs.ErrInvalidArgument)
			if w.store.gen[org] != gen {
				t.Fatal("a refused inception changed the store")
			}

			// Slipped into the store: the passport does not verify, and
			// nor does a delegation it "signs".
			did := passport.DIDPrefix + passport.Digest(inception.Payload)
			raw, _ := inception.Marshal()
			if err := w.store.AppendEvent(w.ctx, org, did, 0, raw, nil); err != nil {
				t.Fatal(err)
			}
			for _, reg := range []*passport.Registry{w.reg, passport.NewRegistry(w.store, nil, func() time.Time { return w.now })} {
				_, err = reg.Get(w.ctx, org, did)
				wantErr(t, err, errs.ErrUnauthenticated)
			}
			dlg, err := passport.Delegate(forged, passport.Delegation{Issuer: did, Subject: agent.p.DID,
				Scope: passport.Scope{Actions: []string{"invoice.pay"}}, Created: w.now.Add(-time.Minute), Expires: w.now.Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			gen = w.store.gen[org]
			_, err = w.reg.AddDelegation(w.ctx, org, dlg)
			wantErr(t, err, errs.ErrUnauthenticated)
			if w.store.gen[org] != gen {
				t.Fatal("a refused delegation changed the store")
			}
			d, err := passport.ParseDelegation(dlg)
			if err != nil {
				t.Fatal(err)
			}
			rawDlg, _ := dlg.Marshal()
			w.store.dlg[org+"|"+d.ID] = rawDlg
			w.store.gen[org]++
			for _, reg := range []*passport.Registry{w.reg, passport.NewRegistry(w.store, nil, func() time.Time { return w.now })} {
				_, err = reg.VerifyChain(w.ctx, org, agent.p.DID, d.ID)
				wantErr(t, err, errs.ErrUnauthenticated)
			}

			// Added to a real passport, by the library or by hand.
			_, err = passport.AddDevice(h.key, h.p, w.now, forged)
			wantErr(t, err, errs.ErrInvalidArgument)
			real := mustKey(t)
			add, err := passport.AddDevice(h.key, h.p, w.now, real)
			if err != nil {
				t.Fatal(err)
			}
			add = resealWithKey(t, add, real, forged, h.key)
			gen = w.store.gen[org]
			_, err = w.reg.AppendEvent(w.ctx, org, add)
			wantErr(t, err, errs.ErrInvalidArgument)
			if w.store.gen[org] != gen {
				t.Fatal("a refused event changed the store")
			}
			p, err := w.reg.Get(w.ctx, org, h.p.DID)
			if err != nil || len(p.Keys) != 1 || !p.Keys[0].Equal(h.key.PublicKey()) {
				t.Fatalf("passport after the refused event: %v, %v", p, err)
			}
		})
	}
}

// handBuiltInception is a well-formed inception declaring forged's key,
// signed by it, built without the library's checks: a valid inception
// with its key swapped in the payload.
func handBuiltInception(t *testing.T, w *world, forged passport.Signer) *passport.Envelope {
	t.Helper()
	real := mustKey(t)
	env, err := passport.NewInception(passport.KindHuman, "mallory", w.now.Add(-time.Hour), real)
	if err != nil {
		t.Fatal(err)
	}
	return resealWithKey(t, env, real, forged)
}

// resealWithKey replaces key from's bytes with to's in env's payload and
// signs the result with signers (to among them).
func resealWithKey(t *testing.T, env *passport.Envelope, from, to passport.Signer, signers ...passport.Signer) *passport.Envelope {
	t.Helper()
	old := base64.StdEncoding.EncodeToString(from.PublicKey().Key)
	payload := bytes.Replace(env.Payload, []byte(old), []byte(base64.StdEncoding.EncodeToString(to.PublicKey().Key)), 1)
	if bytes.Equal(payload, env.Payload) {
		t.Fatalf("key %s not found in payload %s", old, env.Payload)
	}
	out, err := passport.Seal(env.PayloadType, payload, append(signers, to)...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
