package passport_test

import (
	"errors"
	"testing"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// Decoders must never panic, and every rejection must be ErrInvalidArgument.
func wantInvalidOrNil(t *testing.T, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, errs.ErrInvalidArgument) {
		t.Fatalf("error %v does not wrap ErrInvalidArgument", err)
	}
}

func FuzzParseEvent(f *testing.F) {
	k := mustKey(f)
	inc, _ := passport.NewInception(passport.KindHuman, "h", t0, k)
	p, _ := passport.Replay([]*passport.Envelope{inc}, t0)
	for _, env := range []*passport.Envelope{
		inc,
		must(passport.RotateKeys(k, p, t0, mustKey(f))),
		must(passport.AddDevice(k, p, t0, mustKey(f))),
		must(passport.RemoveDevice(k, p, t0, k.PublicKey())),
		must(passport.SetGuardians(k, p, t0, passport.Guardianship{Guardians: []string{passport.DIDPrefix + passport.Digest([]byte("g"))}, Threshold: 1, Delay: time.Hour})),
		must(passport.CancelRecovery(k, p, "x", t0)),
	} {
		f.Add(env.Payload)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		env := &passport.Envelope{PayloadType: passport.EventPayloadType, Payload: payload, Signatures: []passport.Signature{{Sig: []byte{1}}}}
		info, err := passport.ParseEvent(env)
		wantInvalidOrNil(t, err)
		if err == nil && info.Type == "" {
			t.Fatal("accepted an event without a type")
		}
		// Replay of anything must not panic either.
		_, _ = passport.Replay([]*passport.Envelope{inc, env}, t0)
	})
}

func FuzzParseCertificates(f *testing.F) {
	k := mustKey(f)
	did := passport.DIDPrefix + passport.Digest([]byte("a"))
	sub := passport.DIDPrefix + passport.Digest([]byte("b"))
	d, _ := passport.Delegate(k, passport.Delegation{Issuer: did, Subject: sub, Scope: passport.Scope{Actions: []string{"invoice.*"}, Limits: map[string]float64{"amount": 5}}, Created: t0, Expires: t0.Add(time.Hour)})
	f.Add(d.Payload)
	r, _ := passport.Revoke(k, did, passport.DelegationPrefix+passport.Digest(d.Payload), "x", t0)
	f.Add(r.Payload)
	f.Fuzz(func(t *testing.T, payload []byte) {
		_, err := passport.ParseDelegation(&passport.Envelope{PayloadType: passport.DelegationPayloadType, Payload: payload})
		wantInvalidOrNil(t, err)
		_, err = passport.ParseRevocation(&passport.Envelope{PayloadType: passport.RevocationPayloadType, Payload: payload})
		wantInvalidOrNil(t, err)
	})
}

func FuzzWebAuthnAssertion(f *testing.F) {
	fk := newFakePasskey(f)
	key := fk.key(f, true)
	msg := []byte("DSSEv1 1 x 1 y")
	f.Add(fk.assert(passport.WebAuthnChallenge(msg)).Marshal())
	f.Add([]byte(`{"authenticatorData":"","clientDataJSON":"","signature":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := passport.ParseWebAuthnAssertion(data)
		wantInvalidOrNil(t, err)
		// Verification of arbitrary bytes fails cleanly, never panics.
		if err := key.Verify(msg, data); err != nil && !errors.Is(err, errs.ErrUnauthenticated) {
			t.Fatalf("verify error %v is not ErrUnauthenticated", err)
		}
	})
}

func FuzzParsePublicKey(f *testing.F) {
	es, _ := passport.GenerateES256()
	f.Add(mustKey(f).PublicKey().String())
	f.Add(es.PublicKey().String())
	f.Add(newFakePasskey(f).key(f, false).String())
	f.Fuzz(func(t *testing.T, s string) {
		k, err := passport.ParsePublicKey(s)
		wantInvalidOrNil(t, err)
		if err == nil {
			_ = k.Verify([]byte("m"), []byte("s"))
		}
	})
}
