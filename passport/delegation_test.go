package passport_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

func TestDelegateParseRoundTrip(t *testing.T) {
	k := mustKey(t)
	issuer := passport.DIDPrefix + passport.Digest([]byte("issuer"))
	subject := passport.DIDPrefix + passport.Digest([]byte("subject"))
	in := passport.Delegation{Issuer: issuer, Subject: subject,
		Scope:   passport.Scope{Actions: []string{"invoice.*"}, Resources: []string{"invoice:*"}, Limits: map[string]float64{"amount": 5}},
		Created: t0, Expires: t0.Add(time.Hour)}
	env, err := passport.Delegate(k, in)
	if err != nil {
		t.Fatal(err)
	}
	d, err := passport.ParseDelegation(env)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != "dlg:"+passport.Digest(env.Payload) || d.Issuer != issuer || d.Subject != subject || d.Parent != "" ||
		!d.NotBefore.Equal(t0) || !d.Expires.Equal(t0.Add(time.Hour)) || d.Scope.Limits["amount"] != 5 || d.Envelope != env {
		t.Fatalf("round trip: %+v", d)
	}
	if err := env.VerifiedBy(k.PublicKey()); err != nil {
		t.Fatal(err)
	}
}

func TestDelegateRejects(t *testing.T) {
	k := mustKey(t)
	a := passport.DIDPrefix + passport.Digest([]byte("a"))
	b := passport.DIDPrefix + passport.Digest([]byte("b"))
	ok := passport.Scope{Actions: []string{"x"}}
	for name, d := range map[string]passport.Delegation{
		"no expiry":       {Issuer: a, Subject: b, Scope: ok, Created: t0},
		"expires before":  {Issuer: a, Subject: b, Scope: ok, Created: t0, Expires: t0.Add(-time.Second)},
		"self delegation": {Issuer: a, Subject: a, Scope: ok, Created: t0, Expires: t0.Add(time.Hour)},
		"bad issuer":      {Issuer: "alice", Subject: b, Scope: ok, Created: t0, Expires: t0.Add(time.Hour)},
		"bad parent":      {Issuer: a, Subject: b, Parent: "p1", Scope: ok, Created: t0, Expires: t0.Add(time.Hour)},
		"empty scope":     {Issuer: a, Subject: b, Created: t0, Expires: t0.Add(time.Hour)},
		"uppercase DID":   {Issuer: "did:human:" + "A" + passport.Digest(nil)[1:], Subject: b, Scope: ok, Created: t0, Expires: t0.Add(time.Hour)},
	} {
		if _, err := passport.Delegate(k, d); !errors.Is(err, errs.ErrInvalidArgument) {
			t.Errorf("%s: got %v, want ErrInvalidArgument", name, err)
		}
	}
}

func TestRevokeParseRoundTrip(t *testing.T) {
	k := mustKey(t)
	did := passport.DIDPrefix + passport.Digest([]byte("r"))
	id := "dlg:" + passport.Digest([]byte("d"))
	env, err := passport.Revoke(k, did, id, "lost laptop", t0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := passport.ParseRevocation(env)
	if err != nil || r.Delegation != id || r.Revoker != did || r.Reason != "lost laptop" || !r.Created.Equal(t0) {
		t.Fatalf("%v %+v", err, r)
	}
	if _, err := passport.Revoke(k, did, "dlg:nope", "", t0); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Fatalf("bad ID accepted: %v", err)
	}
}

func FuzzParseDelegation(f *testing.F) {
	k, _ := passport.GenerateEd25519()
	env, _ := passport.Delegate(k, passport.Delegation{
		Issuer: passport.DIDPrefix + passport.Digest([]byte("i")), Subject: passport.DIDPrefix + passport.Digest([]byte("s")),
		Scope:   passport.Scope{Actions: []string{"a.*"}, Resources: []string{"r:*"}, Limits: map[string]float64{"n": 1}},
		Created: t0, Expires: t0.Add(time.Hour)})
	f.Add(env.Payload)
	f.Add([]byte(`{"issuer":"","subject":"","scope":{"actions":null},"not_before":"x"}`))
	f.Add([]byte(`{"scope":{"limits":{"n":1e999}}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		e := &passport.Envelope{PayloadType: passport.DelegationPayloadType, Payload: payload, Signatures: env.Signatures}
		d, err := passport.ParseDelegation(e)
		if err != nil {
			if !errors.Is(err, errs.ErrInvalidArgument) {
				t.Fatalf("error outside ErrInvalidArgument: %v", err)
			}
			return
		}
		if d.ID != "dlg:"+passport.Digest(payload) || d.Scope.Validate() != nil || !d.Expires.After(d.NotBefore) {
			t.Fatalf("accepted an invalid delegation: %+v", d)
		}
		if _, err := json.Marshal(d.Scope); err != nil {
			t.Fatal(err)
		}
		// Whatever parses must check without panicking.
		_ = d.Scope.Permits("a.b", "r:1", map[string]any{"n": 1})
		_ = d.Scope.Within(d.Scope)
	})
}
