package human_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/adapters/sqlite"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// TestAttackUnanchoredPassport: a validly self-signed human passport written
// straight into the store, bypassing the ledger, does not verify: every
// passport event must be on the ledger (invariant 4, "anchored on the
// ledger"), and nothing can be built on it.
func TestAttackUnanchoredPassport(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "human.db")
	c, err := human.Open(ctx, human.Config{Store: "sqlite://" + filepath.ToSlash(path), DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	key, _ := passport.GenerateEd25519()
	inc, err := passport.NewInception(passport.KindHuman, "mallory", time.Now(), key)
	if err != nil {
		t.Fatal(err)
	}
	p, err := passport.Replay([]*passport.Envelope{inc}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := inc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// The attacker has write access to the database, not to the ledger key.
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := sqlite.NewPassportStore(db).AppendEvent(ctx, human.DefaultOrg, p.DID, 0, raw, []string{key.PublicKey().String()}); err != nil {
		t.Fatal(err)
	}

	if _, err := c.Passport(ctx, p.DID); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Fatalf("unanchored passport: %v, want ErrUnauthenticated", err)
	}
	// The same passport registered through the client is anchored and fine.
	bobKey, _ := passport.GenerateEd25519()
	bobInc, _ := passport.NewInception(passport.KindHuman, "bob", time.Now(), bobKey)
	bob, err := c.RegisterPassport(ctx, bobInc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Passport(ctx, bob.DID); err != nil {
		t.Fatalf("anchored passport: %v", err)
	}
}
