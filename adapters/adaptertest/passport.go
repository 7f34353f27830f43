package adaptertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// RunPassportStore runs the passport.Store conformance suite. newStore must
// return a fresh, empty store for each call; each subtest calls it once.
func RunPassportStore(t *testing.T, newStore func(t *testing.T) passport.Store) {
	t.Helper()
	ctx := context.Background()
	const org, did, did2 = "org-a", "did:human:one", "did:human:two"

	t.Run("EventsNotFound", func(t *testing.T) {
		s := newStore(t)
		_, err := s.Events(ctx, org, did)
		passportWant(t, err, errs.ErrNotFound)
	})

	t.Run("AppendKeepsOrder", func(t *testing.T) {
		s := newStore(t)
		for i := range 5 {
			passportMust(t, s.AppendEvent(ctx, org, did, i, []byte(fmt.Sprintf("e%d", i)), nil))
		}
		got, err := s.Events(ctx, org, did)
		passportMust(t, err)
		if len(got) != 5 {
			t.Fatalf("got %d events, want 5", len(got))
		}
		for i, e := range got {
			if string(e) != fmt.Sprintf("e%d", i) {
				t.Errorf("event %d = %q", i, e)
			}
		}
	})

	t.Run("AppendSeqConflict", func(t *testing.T) {
		s := newStore(t)
		passportWant(t, s.AppendEvent(ctx, org, did, 1, []byte("gap"), nil), errs.ErrConflict)
		passportMust(t, s.AppendEvent(ctx, org, did, 0, []byte("e0"), nil))
		for _, seq := range []int{0, 2, 5} {
			passportWant(t, s.AppendEvent(ctx, org, did, seq, []byte("x"), nil), errs.ErrConflict)
		}
		passportEvents(t, s, org, did, "e0")
	})

	t.Run("KeyClaims", func(t *testing.T) {
		s := newStore(t)
		passportMust(t, s.AppendEvent(ctx, org, did, 0, []byte("e0"), []string{"k1", "k2"}))
		// Another DID claiming k2 conflicts and writes nothing, not even its k3 claim.
		passportWant(t, s.AppendEvent(ctx, org, did2, 0, []byte("f0"), []string{"k3", "k2"}), errs.ErrConflict)
		_, err := s.Events(ctx, org, did2)
		passportWant(t, err, errs.ErrNotFound)
		passportMust(t, s.AppendEvent(ctx, org, did2, 0, []byte("f0"), []string{"k3"}))
		// The owner may claim its own key again, e.g. in a rotation that keeps it.
		passportMust(t, s.AppendEvent(ctx, org, did, 1, []byte("e1"), []string{"k2", "k4"}))
		passportWant(t, s.AppendEvent(ctx, org, did2, 1, []byte("f1"), []string{"k4"}), errs.ErrConflict)
		// An append without claims is not affected by claims.
		passportMust(t, s.AppendEvent(ctx, org, did2, 1, []byte("f1"), nil))
	})

	for _, kind := range []struct {
		name string
		put  func(passport.Store, context.Context, string, string, []byte) error
		get  func(passport.Store, context.Context, string, string) ([]byte, error)
	}{
		{"Delegation", passport.Store.PutDelegation, passport.Store.Delegation},
		{"Revocation", passport.Store.PutRevocation, passport.Store.Revocation},
	} {
		t.Run(kind.name+"PutOnce", func(t *testing.T) {
			s := newStore(t)
			_, err := kind.get(s, ctx, org, "dlg:1")
			passportWant(t, err, errs.ErrNotFound)
			passportMust(t, kind.put(s, ctx, org, "dlg:1", []byte("first")))
			passportMust(t, kind.put(s, ctx, org, "dlg:1", []byte("first"))) // idempotent
			passportWant(t, kind.put(s, ctx, org, "dlg:1", []byte("second")), errs.ErrConflict)
			got, err := kind.get(s, ctx, org, "dlg:1")
			passportMust(t, err)
			if string(got) != "first" {
				t.Fatalf("got %q, want the first bytes", got)
			}
		})
	}

	t.Run("Generation", func(t *testing.T) {
		s := newStore(t)
		gen := func(org string) uint64 {
			t.Helper()
			g, err := s.Generation(ctx, org)
			passportMust(t, err)
			return g
		}
		if g := gen(org); g != 0 {
			t.Fatalf("empty org at generation %d, want 0", g)
		}
		last := uint64(0)
		grew := func(what string) {
			t.Helper()
			if g := gen(org); g <= last {
				t.Fatalf("%s: generation %d, want more than %d", what, g, last)
			} else {
				last = g
			}
		}
		same := func(what string) {
			t.Helper()
			if g := gen(org); g != last {
				t.Fatalf("%s: generation moved from %d to %d", what, last, g)
			}
		}
		passportMust(t, s.AppendEvent(ctx, org, did, 0, []byte("e0"), []string{"k"}))
		grew("append")
		_ = s.AppendEvent(ctx, org, did, 0, []byte("again"), nil)
		_ = s.AppendEvent(ctx, org, did2, 0, []byte("f0"), []string{"k"})
		same("failed appends")
		passportMust(t, s.PutDelegation(ctx, org, "dlg:1", []byte("d")))
		grew("put delegation")
		passportMust(t, s.PutDelegation(ctx, org, "dlg:1", []byte("d")))
		_ = s.PutDelegation(ctx, org, "dlg:1", []byte("other"))
		same("no-op and conflicting puts")
		passportMust(t, s.PutRevocation(ctx, org, "dlg:1", []byte("r")))
		grew("put revocation")
		passportMust(t, s.AppendEvent(ctx, "org-b", did, 0, []byte("b0"), nil))
		passportMust(t, s.PutRevocation(ctx, "org-b", "dlg:9", []byte("r")))
		same("writes in another org")
		if g := gen("org-b"); g == 0 {
			t.Fatal("org-b's writes did not move its generation")
		}
		_, err := s.Generation(ctx, "")
		passportWant(t, err, errs.ErrInvalidArgument)
	})

	t.Run("OrgIsolation", func(t *testing.T) {
		s := newStore(t)
		passportMust(t, s.AppendEvent(ctx, "org-a", did, 0, []byte("a0"), []string{"k1"}))
		passportMust(t, s.PutDelegation(ctx, "org-a", "dlg:1", []byte("da")))
		passportMust(t, s.PutRevocation(ctx, "org-a", "dlg:1", []byte("ra")))
		_, err := s.Events(ctx, "org-b", did)
		passportWant(t, err, errs.ErrNotFound)
		_, err = s.Delegation(ctx, "org-b", "dlg:1")
		passportWant(t, err, errs.ErrNotFound)
		_, err = s.Revocation(ctx, "org-b", "dlg:1")
		passportWant(t, err, errs.ErrNotFound)
		// The same names in org B are independent, key claims included.
		passportMust(t, s.AppendEvent(ctx, "org-b", did2, 0, []byte("b0"), []string{"k1"}))
		passportMust(t, s.AppendEvent(ctx, "org-b", did, 0, []byte("b1"), nil))
		passportMust(t, s.PutDelegation(ctx, "org-b", "dlg:1", []byte("db")))
		passportEvents(t, s, "org-a", did, "a0")
		passportEvents(t, s, "org-b", did, "b1")
		got, err := s.Delegation(ctx, "org-a", "dlg:1")
		passportMust(t, err)
		if string(got) != "da" {
			t.Fatalf("org-a delegation = %q after org-b wrote its own", got)
		}
	})

	t.Run("InvalidArgument", func(t *testing.T) {
		s := newStore(t)
		passportWant(t, s.AppendEvent(ctx, "", did, 0, []byte("x"), nil), errs.ErrInvalidArgument)
		passportWant(t, s.AppendEvent(ctx, org, "", 0, []byte("x"), nil), errs.ErrInvalidArgument)
		passportWant(t, s.AppendEvent(ctx, org, did, 0, nil, nil), errs.ErrInvalidArgument)
		passportWant(t, s.AppendEvent(ctx, org, did, -1, []byte("x"), nil), errs.ErrInvalidArgument)
		passportWant(t, s.PutDelegation(ctx, org, "", []byte("x")), errs.ErrInvalidArgument)
		passportWant(t, s.PutRevocation(ctx, "", "dlg:1", []byte("x")), errs.ErrInvalidArgument)
		_, err := s.Events(ctx, "", did)
		passportWant(t, err, errs.ErrInvalidArgument)
		_, err = s.Delegation(ctx, org, "")
		passportWant(t, err, errs.ErrInvalidArgument)
	})

	t.Run("CancelledContext", func(t *testing.T) {
		s := newStore(t)
		passportMust(t, s.AppendEvent(ctx, org, did, 0, []byte("e0"), nil))
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		cancelled := func(err error) {
			t.Helper()
			passportWant(t, err, errs.ErrUnavailable)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error %v does not wrap context.Canceled", err)
			}
		}
		cancelled(s.AppendEvent(cctx, org, did, 1, []byte("e1"), []string{"k"}))
		cancelled(s.PutDelegation(cctx, org, "dlg:1", []byte("d")))
		cancelled(s.PutRevocation(cctx, org, "dlg:1", []byte("r")))
		_, err := s.Events(cctx, org, did)
		cancelled(err)
		_, err = s.Delegation(cctx, org, "dlg:1")
		cancelled(err)
		_, err = s.Revocation(cctx, org, "dlg:1")
		cancelled(err)
		_, err = s.Generation(cctx, org)
		cancelled(err)
		// Nothing was written.
		passportEvents(t, s, org, did, "e0")
		_, err = s.Delegation(ctx, org, "dlg:1")
		passportWant(t, err, errs.ErrNotFound)
		_, err = s.Revocation(ctx, org, "dlg:1")
		passportWant(t, err, errs.ErrNotFound)
		passportMust(t, s.AppendEvent(ctx, org, did2, 0, []byte("f0"), []string{"k"})) // "k" was not claimed
	})

	t.Run("ReturnedBytesAreCopies", func(t *testing.T) {
		s := newStore(t)
		in := []byte("e0")
		passportMust(t, s.AppendEvent(ctx, org, did, 0, in, nil))
		in[0] = 'X'
		got, err := s.Events(ctx, org, did)
		passportMust(t, err)
		got[0][0] = 'Y'
		passportEvents(t, s, org, did, "e0")
		d := []byte("d")
		passportMust(t, s.PutDelegation(ctx, org, "dlg:1", d))
		d[0] = 'X'
		b, err := s.Delegation(ctx, org, "dlg:1")
		passportMust(t, err)
		b[0] = 'Y'
		b, _ = s.Delegation(ctx, org, "dlg:1")
		if string(b) != "d" {
			t.Fatalf("stored delegation changed through a caller's slice: %q", b)
		}
	})

	t.Run("ConcurrentAppendsNeverFork", func(t *testing.T) {
		s := newStore(t)
		const writers, perWriter = 4, 5
		var wg sync.WaitGroup
		errc := make(chan error, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; n < perWriter; {
					have, err := s.Events(ctx, org, did)
					if err != nil && !errors.Is(err, errs.ErrNotFound) {
						errc <- err
						return
					}
					err = s.AppendEvent(ctx, org, did, len(have), []byte(fmt.Sprintf("w%d-%d", w, n)), nil)
					switch {
					case err == nil:
						n++
					case !errors.Is(err, errs.ErrConflict) && !errors.Is(err, errs.ErrUnavailable):
						errc <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		got, err := s.Events(ctx, org, did)
		passportMust(t, err)
		if len(got) != writers*perWriter {
			t.Fatalf("got %d events, want %d", len(got), writers*perWriter)
		}
		seen := map[string]bool{}
		for _, e := range got {
			if seen[string(e)] {
				t.Fatalf("event %q stored twice", e)
			}
			seen[string(e)] = true
		}
	})

	t.Run("ConcurrentSameSeqOneWinner", func(t *testing.T) {
		s := newStore(t)
		passportMust(t, s.AppendEvent(ctx, org, did, 0, []byte("e0"), nil))
		const racers = 6
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.AppendEvent(ctx, org, did, 1, []byte(fmt.Sprintf("r%d", i)), nil)
				if err == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				} else if !errors.Is(err, errs.ErrConflict) && !errors.Is(err, errs.ErrUnavailable) {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d writers won seq 1, want exactly 1", wins)
		}
		got, _ := s.Events(ctx, org, did)
		if len(got) != 2 {
			t.Fatalf("log has %d events, want 2", len(got))
		}
	})

	t.Run("RegistryRejectsRowsWrittenStraightIntoStore", func(t *testing.T) {
		passportTamperSuite(t, newStore(t))
	})
}

// passportTamperSuite drives passport.Registry over the store and writes
// rows straight into it, as someone with database access would: nothing
// written that way verifies.
func passportTamperSuite(t *testing.T, s passport.Store) {
	ctx := context.Background()
	const org = "org-a"
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	reg := passport.NewRegistry(s, nil, func() time.Time { return now })
	newKey := func() *passport.Ed25519Signer {
		k, err := passport.GenerateEd25519()
		passportMust(t, err)
		return k
	}
	register := func(kind passport.Kind, k passport.Signer) *passport.Passport {
		env, err := passport.NewInception(kind, string(kind), now.Add(-time.Hour), k)
		passportMust(t, err)
		p, err := reg.Register(ctx, org, env)
		passportMust(t, err)
		return p
	}
	hk, ak := newKey(), newKey()
	human, agent := register(passport.KindHuman, hk), register(passport.KindAgent, ak)
	env, err := passport.Delegate(hk, passport.Delegation{Issuer: human.DID, Subject: agent.DID,
		Scope: passport.Scope{Actions: []string{"invoice.*"}}, Created: now.Add(-time.Minute), Expires: now.Add(time.Hour)})
	passportMust(t, err)
	d, err := reg.AddDelegation(ctx, org, env)
	passportMust(t, err)
	if _, err := reg.VerifyChain(ctx, org, agent.DID, d.ID); err != nil {
		t.Fatalf("valid chain: %v", err)
	}

	// A "human" minted in the store without the device's signature.
	mk := newKey()
	forged, err := passport.NewInception(passport.KindHuman, "minted", now, mk)
	passportMust(t, err)
	forged.Signatures = nil
	raw, _ := forged.Marshal()
	mintedDID := passport.DIDPrefix + passport.Digest(forged.Payload)
	passportMust(t, s.AppendEvent(ctx, org, mintedDID, 0, raw, nil))
	_, err = reg.Get(ctx, org, mintedDID)
	passportWant(t, err, errs.ErrUnauthenticated)

	// A delegation from the minted human, signed by a key it never declared.
	menv, err := passport.Delegate(newKey(), passport.Delegation{Issuer: mintedDID, Subject: agent.DID,
		Scope: passport.Scope{Actions: []string{"*"}}, Created: now.Add(-time.Minute), Expires: now.Add(time.Hour)})
	passportMust(t, err)
	md, err := passport.ParseDelegation(menv)
	passportMust(t, err)
	mraw, _ := menv.Marshal()
	passportMust(t, s.PutDelegation(ctx, org, md.ID, mraw))
	_, err = reg.VerifyChain(ctx, org, agent.DID, md.ID)
	passportWant(t, err, errs.ErrUnauthenticated)

	// The real human's delegation re-signed by an outsider and stored under
	// a fresh ID: the signature check fails.
	wide, err := passport.Delegate(newKey(), passport.Delegation{Issuer: human.DID, Subject: agent.DID,
		Scope: passport.Scope{Actions: []string{"*"}}, Created: now.Add(-time.Minute), Expires: now.Add(time.Hour)})
	passportMust(t, err)
	wd, _ := passport.ParseDelegation(wide)
	wraw, _ := wide.Marshal()
	passportMust(t, s.PutDelegation(ctx, org, wd.ID, wraw))
	_, err = reg.VerifyChain(ctx, org, agent.DID, wd.ID)
	passportWant(t, err, errs.ErrUnauthenticated)

	// A row whose bytes are a different (validly signed) delegation than
	// its ID names.
	other, err := passport.Delegate(hk, passport.Delegation{Issuer: human.DID, Subject: agent.DID,
		Scope: passport.Scope{Actions: []string{"invoice.read"}}, Created: now.Add(-time.Minute), Expires: now.Add(time.Hour)})
	passportMust(t, err)
	oraw, _ := other.Marshal()
	fakeID := "dlg:" + passport.Digest([]byte("not this one"))
	passportMust(t, s.PutDelegation(ctx, org, fakeID, oraw))
	_, err = reg.VerifyChain(ctx, org, agent.DID, fakeID)
	passportWant(t, err, errs.ErrUnauthenticated)

	// An unsigned revocation written straight in still stops the chain (fail closed).
	rev, err := passport.Revoke(hk, human.DID, d.ID, "", now)
	passportMust(t, err)
	rev.Signatures[0].Sig = bytes.Repeat([]byte{1}, len(rev.Signatures[0].Sig))
	rraw, _ := rev.Marshal()
	passportMust(t, s.PutRevocation(ctx, org, d.ID, rraw))
	if _, err := reg.VerifyChain(ctx, org, agent.DID, d.ID); err == nil {
		t.Fatal("chain verified with a revocation row present")
	}
}

func passportMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func passportWant(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("got error %v, want one wrapping %v", err, kind)
	}
}

func passportEvents(t *testing.T, s passport.Store, org, did string, want ...string) {
	t.Helper()
	got, err := s.Events(context.Background(), org, did)
	passportMust(t, err)
	if len(got) != len(want) {
		t.Fatalf("%s has %d events, want %d", did, len(got), len(want))
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Fatalf("%s event %d = %q, want %q", did, i, got[i], want[i])
		}
	}
}
