package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/humanos/human/adapters/adaptertest"
	"github.com/humanos/human/adapters/sqlite"
	"github.com/humanos/human/passport"
)

func TestPassportStore(t *testing.T) {
	adaptertest.RunPassportStore(t, func(t *testing.T) passport.Store { return sqlite.NewPassportStore(newDB(t)) })
}

// BenchmarkPassportVerifyChain measures the warm two-link chain check over
// SQLite: five reads (three passports, two delegations) and two revocation
// look-ups per call; signatures come from the registry's cache.
func BenchmarkPassportVerifyChain(b *testing.B) {
	ctx := context.Background()
	now := time.Now()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "human.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	reg := passport.NewRegistry(sqlite.NewPassportStore(db), nil, nil)
	reg3 := func(kind passport.Kind) (*passport.Ed25519Signer, *passport.Passport) {
		k, _ := passport.GenerateEd25519()
		env, _ := passport.NewInception(kind, "", now, k)
		p, err := reg.Register(ctx, "org", env)
		if err != nil {
			b.Fatal(err)
		}
		return k, p
	}
	hk, h := reg3(passport.KindHuman)
	a1k, a1 := reg3(passport.KindAgent)
	_, a2 := reg3(passport.KindAgent)
	add := func(k passport.Signer, iss, sub *passport.Passport, parent string) *passport.Delegation {
		env, _ := passport.Delegate(k, passport.Delegation{Issuer: iss.DID, Subject: sub.DID, Parent: parent,
			Scope: passport.Scope{Actions: []string{"invoice.*"}}, Created: now, Expires: now.Add(time.Hour)})
		d, err := reg.AddDelegation(ctx, "org", env)
		if err != nil {
			b.Fatal(err)
		}
		return d
	}
	d1 := add(hk, h, a1, "")
	d2 := add(a1k, a1, a2, d1.ID)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.VerifyChain(ctx, "org", a2.DID, d2.ID); err != nil {
			b.Fatal(err)
		}
	}
}
