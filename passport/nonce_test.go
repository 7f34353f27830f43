package passport_test

import (
	"errors"
	"testing"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// TestDelegationNonce: two certificates with the same fields are distinct
// (so revoking one never revokes a re-issued one), and a caller-chosen
// nonce must be long enough to be unique.
func TestDelegationNonce(t *testing.T) {
	k := mustKey(t)
	in := passport.Delegation{
		Issuer:  passport.DIDPrefix + passport.Digest([]byte("issuer")),
		Subject: passport.DIDPrefix + passport.Digest([]byte("subject")),
		Scope:   passport.Scope{Actions: []string{"invoice.*"}},
		Created: t0, Expires: t0.Add(time.Hour),
	}
	ids := map[string]bool{}
	for range 2 {
		env, err := passport.Delegate(k, in)
		if err != nil {
			t.Fatal(err)
		}
		d, err := passport.ParseDelegation(env)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Nonce) < 16 {
			t.Fatalf("nonce %q too short", d.Nonce)
		}
		ids[d.ID] = true
	}
	if len(ids) != 2 {
		t.Fatal("two delegations with the same fields got the same ID")
	}
	in.Nonce = "short"
	if _, err := passport.Delegate(k, in); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Fatalf("short nonce: %v, want ErrInvalidArgument", err)
	}
}
