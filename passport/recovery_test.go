package passport_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// guarded registers a human with three guardians (threshold 2, delay one
// day) and returns it, its guardians and the org key.
func (w *world) guarded() (h party, gs [3]party) {
	w.t.Helper()
	for i := range gs {
		gs[i] = w.register(passport.KindHuman)
	}
	k := mustKey(w.t)
	env, err := passport.NewGuardedInception(passport.KindHuman, "alice", w.now, passport.Guardianship{
		Guardians: []string{gs[0].p.DID, gs[1].p.DID, gs[2].p.DID}, Threshold: 2, Delay: 24 * time.Hour,
	}, k)
	if err != nil {
		w.t.Fatal(err)
	}
	p, err := w.reg.Register(w.ctx, org, env)
	if err != nil {
		w.t.Fatal(err)
	}
	return party{k, p}, gs
}

// storeSnapshot is the stored log of did, to show a rejected event
// changed nothing.
func (w *world) storeSnapshot(did string) [][]byte {
	w.t.Helper()
	raws, err := w.store.Events(w.ctx, org, did)
	if err != nil {
		w.t.Fatal(err)
	}
	return raws
}

func (w *world) unchanged(did string, before [][]byte) {
	w.t.Helper()
	after := w.storeSnapshot(did)
	if len(after) != len(before) {
		w.t.Fatalf("store changed: %d events, was %d", len(after), len(before))
	}
}

func TestGuardianRecovery(t *testing.T) {
	w := newWorld(t)
	h, gs := w.guarded()
	if h.p.Threshold != 2 || len(h.p.Guardians) != 3 || h.p.RecoveryDelay != 24*time.Hour {
		t.Fatalf("guardianship not in state: %+v", h.p)
	}
	// Alice lost her device; her new phone holds next.
	next := mustKey(t)
	w.now = w.now.Add(time.Hour)
	rec, err := passport.StartRecovery(h.p, w.now, "lost phone", next)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs[:2] {
		if err := rec.AddSignature(g.key); err != nil {
			t.Fatal(err)
		}
	}
	p, err := w.reg.AppendEvent(w.ctx, org, rec)
	if err != nil {
		t.Fatalf("recovery with 2 of 3 guardians: %v", err)
	}
	if p.Recovery == nil || !p.HasKey(h.key.PublicKey()) || p.HasKey(next.PublicKey()) {
		t.Fatalf("recovery must be pending, old key still current: %+v", p)
	}
	// Completing before the delay fails and changes nothing.
	early, _ := passport.CompleteRecovery(next, p, w.now.Add(time.Hour))
	w.now = w.now.Add(time.Hour)
	before := w.storeSnapshot(h.p.DID)
	_, err = w.reg.AppendEvent(w.ctx, org, early)
	wantErr(t, err, errs.ErrFailedPrecondition)
	w.unchanged(h.p.DID, before)
	// After the delay the new key completes it; the DID stays.
	w.now = w.now.Add(24 * time.Hour)
	done, _ := passport.CompleteRecovery(next, p, w.now)
	p, err = w.reg.AppendEvent(w.ctx, org, done)
	if err != nil {
		t.Fatalf("complete after the delay: %v", err)
	}
	if p.DID != h.p.DID || p.Recovery != nil || !slices.EqualFunc(p.Keys, []passport.PublicKey{next.PublicKey()}, passport.PublicKey.Equal) {
		t.Fatalf("after recovery: %+v", p)
	}
	// The lost key no longer signs anything.
	rev, _ := passport.RevokePassport(h.key, p, "thief", w.now)
	_, err = w.reg.AppendEvent(w.ctx, org, rev)
	wantErr(t, err, errs.ErrUnauthenticated)
	wantKinds := []string{passport.AnchorRecovery, passport.AnchorRecoveryComplete}
	got := w.anchor.kinds[len(w.anchor.kinds)-2:]
	if !slices.Equal(got, wantKinds) {
		t.Fatalf("anchored %v, want ... %v", w.anchor.kinds, wantKinds)
	}
}

func TestRecoveryCancelledByCurrentKey(t *testing.T) {
	w := newWorld(t)
	h, gs := w.guarded()
	next := mustKey(t)
	rec, _ := passport.StartRecovery(h.p, w.now, "", next)
	_ = rec.AddSignature(gs[0].key)
	_ = rec.AddSignature(gs[2].key)
	p, err := w.reg.AppendEvent(w.ctx, org, rec)
	if err != nil {
		t.Fatal(err)
	}
	// While pending, nothing but cancel, complete or revoke is accepted.
	rot, _ := passport.RotateKeys(h.key, p, w.now, mustKey(t))
	_, err = w.reg.AppendEvent(w.ctx, org, rot)
	wantErr(t, err, errs.ErrFailedPrecondition)
	cancel, _ := passport.CancelRecovery(h.key, p, "it is still me", w.now)
	if p, err = w.reg.AppendEvent(w.ctx, org, cancel); err != nil || p.Recovery != nil {
		t.Fatalf("cancel: %v %+v", err, p)
	}
	w.now = w.now.Add(48 * time.Hour)
	done, _ := passport.CompleteRecovery(next, p, w.now)
	_, err = w.reg.AppendEvent(w.ctx, org, done)
	wantErr(t, err, errs.ErrFailedPrecondition)
}

// Invariant 3: no recovery by infrastructure, and never with fewer than k
// guardians. Every attempt is on the ledger; the passport does not change.
func TestAttackRecovery(t *testing.T) {
	w := newWorld(t)
	h, gs := w.guarded()
	orgP := w.register(passport.KindOrg)
	agent := w.register(passport.KindAgent)
	stranger := w.register(passport.KindHuman)
	attacker := mustKey(t)
	cases := []struct {
		name    string
		signers []passport.Signer
		want    error
	}{
		{"k-1 guardians", []passport.Signer{gs[0].key}, errs.ErrUnauthenticated},
		{"one guardian signing twice", []passport.Signer{gs[0].key, gs[0].key}, errs.ErrUnauthenticated},
		{"org (server) key", []passport.Signer{orgP.key, gs[0].key}, errs.ErrUnauthenticated},
		{"agent key", []passport.Signer{agent.key, gs[0].key}, errs.ErrUnauthenticated},
		{"a human who is not a guardian", []passport.Signer{stranger.key, gs[1].key}, errs.ErrUnauthenticated},
		{"no guardians at all", nil, errs.ErrUnauthenticated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := passport.StartRecovery(h.p, w.now, "", attacker)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.signers {
				_ = rec.AddSignature(s)
			}
			before := w.storeSnapshot(h.p.DID)
			gen, _ := w.store.Generation(w.ctx, org)
			anchored := len(w.anchor.kinds)
			_, err = w.reg.AppendEvent(w.ctx, org, rec)
			wantErr(t, err, tc.want)
			w.unchanged(h.p.DID, before)
			if g2, _ := w.store.Generation(w.ctx, org); g2 != gen {
				t.Fatalf("store generation moved %d -> %d", gen, g2)
			}
			if len(w.anchor.kinds) != anchored+1 || w.anchor.kinds[anchored] != passport.AnchorRecoveryRejected {
				t.Fatalf("the failed attempt is not on the ledger: %v", w.anchor.kinds[anchored:])
			}
		})
	}
	t.Run("guardian key rotated away before the recovery", func(t *testing.T) {
		g := gs[1]
		rot, _ := passport.RotateKeys(g.key, g.p, w.now, mustKey(t))
		if _, err := w.reg.AppendEvent(w.ctx, org, rot); err != nil {
			t.Fatal(err)
		}
		w.now = w.now.Add(time.Minute)
		rec, _ := passport.StartRecovery(h.p, w.now, "", attacker)
		_ = rec.AddSignature(gs[0].key)
		_ = rec.AddSignature(g.key) // the old, possibly stolen, key
		_, err := w.reg.AppendEvent(w.ctx, org, rec)
		wantErr(t, err, errs.ErrUnauthenticated)
	})
	t.Run("recovery not signed by the new key", func(t *testing.T) {
		rec, _ := passport.StartRecovery(h.p, w.now, "", attacker)
		rec.Signatures = nil
		_ = rec.AddSignature(gs[0].key)
		_ = rec.AddSignature(gs[2].key)
		_, err := w.reg.AppendEvent(w.ctx, org, rec)
		wantErr(t, err, errs.ErrUnauthenticated)
	})
	t.Run("back-dated recovery", func(t *testing.T) {
		rec, _ := passport.StartRecovery(h.p, w.now.Add(-time.Hour), "", attacker)
		_ = rec.AddSignature(gs[0].key)
		_ = rec.AddSignature(gs[2].key)
		_, err := w.reg.AppendEvent(w.ctx, org, rec)
		wantErr(t, err, errs.ErrInvalidArgument)
	})
	t.Run("passport without guardians", func(t *testing.T) {
		rec, _ := passport.StartRecovery(stranger.p, w.now, "", attacker)
		_ = rec.AddSignature(gs[0].key)
		_ = rec.AddSignature(gs[2].key)
		_, err := w.reg.AppendEvent(w.ctx, org, rec)
		wantErr(t, err, errs.ErrFailedPrecondition)
	})
	t.Run("completion signed by the old key", func(t *testing.T) {
		rec, _ := passport.StartRecovery(h.p, w.now, "", attacker)
		_ = rec.AddSignature(gs[0].key)
		_ = rec.AddSignature(gs[2].key)
		p, err := w.reg.AppendEvent(w.ctx, org, rec)
		if err != nil {
			t.Fatal(err)
		}
		w.now = w.now.Add(25 * time.Hour)
		done, _ := passport.CompleteRecovery(h.key, p, w.now)
		_, err = w.reg.AppendEvent(w.ctx, org, done)
		wantErr(t, err, errs.ErrUnauthenticated)
	})
}

func TestDeviceAddRemove(t *testing.T) {
	w := newWorld(t)
	h := w.register(passport.KindHuman)
	laptop := mustKey(t)
	add, err := passport.AddDevice(h.key, h.p, w.now, laptop)
	if err != nil {
		t.Fatal(err)
	}
	p, err := w.reg.AppendEvent(w.ctx, org, add)
	if err != nil || !p.HasKey(laptop.PublicKey()) || !p.HasKey(h.key.PublicKey()) {
		t.Fatalf("add device: %v %+v", err, p)
	}
	// The laptop removes the lost phone.
	rm, _ := passport.RemoveDevice(laptop, p, w.now, h.key.PublicKey())
	if p, err = w.reg.AppendEvent(w.ctx, org, rm); err != nil || p.HasKey(h.key.PublicKey()) {
		t.Fatalf("remove device: %v %+v", err, p)
	}
	if got := p.KeysAt(w.now.Add(-time.Second)); len(got) != 1 || !got[0].Equal(h.key.PublicKey()) {
		t.Fatalf("keys before the laptop was added: %v", got)
	}
	if got := p.KeysAt(w.now); len(got) != 1 || !got[0].Equal(laptop.PublicKey()) {
		t.Fatalf("keys after the phone was removed: %v", got)
	}
	// Attack: an event signed by the removed key.
	before := w.storeSnapshot(h.p.DID)
	for name, env := range map[string]*passport.Envelope{
		"revocation": must(passport.RevokePassport(h.key, p, "", w.now)),
		"add device": must(passport.AddDevice(h.key, p, w.now, mustKey(t))),
		"guardians":  must(passport.SetGuardians(h.key, p, w.now, passport.Guardianship{Guardians: []string{w.register(passport.KindHuman).p.DID}, Threshold: 1, Delay: time.Hour})),
	} {
		_, err := w.reg.AppendEvent(w.ctx, org, env)
		if !isErr(err, errs.ErrUnauthenticated) {
			t.Errorf("%s signed by a removed key: %v, want ErrUnauthenticated", name, err)
		}
	}
	w.unchanged(h.p.DID, before)
	// Removing the last key is refused.
	last, _ := passport.RemoveDevice(laptop, p, w.now, laptop.PublicKey())
	_, err = w.reg.AppendEvent(w.ctx, org, last)
	wantErr(t, err, errs.ErrInvalidArgument)
}

// Replay of an old signed event: an event that was valid once cannot be
// appended again (its seq is taken) nor at another position (its seq and
// prev no longer fit).
func TestAttackReplayOldEvent(t *testing.T) {
	w := newWorld(t)
	h := w.register(passport.KindHuman)
	k2 := mustKey(t)
	add, _ := passport.AddDevice(h.key, h.p, w.now, k2)
	p, err := w.reg.AppendEvent(w.ctx, org, add)
	if err != nil {
		t.Fatal(err)
	}
	rm, _ := passport.RemoveDevice(h.key, p, w.now, k2.PublicKey())
	if p, err = w.reg.AppendEvent(w.ctx, org, rm); err != nil {
		t.Fatal(err)
	}
	before := w.storeSnapshot(h.p.DID)
	_, err = w.reg.AppendEvent(w.ctx, org, add) // re-add k2 with the old signed event
	wantErr(t, err, errs.ErrConflict)
	w.unchanged(h.p.DID, before)
}

func must(env *passport.Envelope, err error) *passport.Envelope {
	if err != nil {
		panic(err)
	}
	return env
}

func isErr(err, kind error) bool { return errors.Is(err, kind) }
