package passport_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// testStore is a minimal passport.Store so this package's tests do not
// depend on the adapters; the adapters run the conformance suite, which also
// drives a Registry over each of them.
type testStore struct {
	mu     sync.Mutex
	events map[string][][]byte
	claims map[string]string
	dlg    map[string][]byte
	rev    map[string][]byte
	gen    map[string]uint64
}

func newTestStore() *testStore {
	return &testStore{events: map[string][][]byte{}, claims: map[string]string{}, dlg: map[string][]byte{}, rev: map[string][]byte{}, gen: map[string]uint64{}}
}

func (s *testStore) AppendEvent(ctx context.Context, org, did string, seq int, event []byte, claimKeys []string) error {
	if err := ctx.Err(); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "%w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := org + "|" + did
	if len(s.events[k]) != seq {
		return errs.Errorf(errs.ErrConflict, "seq %d", seq)
	}
	for _, c := range claimKeys {
		if o, ok := s.claims[org+"|"+c]; ok && o != did {
			return errs.Errorf(errs.ErrConflict, "key claimed")
		}
	}
	for _, c := range claimKeys {
		s.claims[org+"|"+c] = did
	}
	s.events[k] = append(s.events[k], bytes.Clone(event))
	s.gen[org]++
	return nil
}

func (s *testStore) Events(ctx context.Context, org, did string) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.events[org+"|"+did]
	if !ok {
		return nil, errs.Errorf(errs.ErrNotFound, "passport %s", did)
	}
	out := make([][]byte, len(e))
	for i := range e {
		out[i] = bytes.Clone(e[i])
	}
	return out, nil
}

func (s *testStore) put(m map[string][]byte, org, id string, env []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if have, ok := m[org+"|"+id]; ok {
		if bytes.Equal(have, env) {
			return nil
		}
		return errs.Errorf(errs.ErrConflict, "%s", id)
	}
	m[org+"|"+id] = bytes.Clone(env)
	s.gen[org]++
	return nil
}

func (s *testStore) Generation(_ context.Context, org string) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen[org], nil
}

func (s *testStore) get(m map[string][]byte, org, id string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := m[org+"|"+id]
	if !ok {
		return nil, errs.Errorf(errs.ErrNotFound, "%s", id)
	}
	return bytes.Clone(b), nil
}

func (s *testStore) PutDelegation(_ context.Context, org, id string, env []byte) error {
	return s.put(s.dlg, org, id, env)
}
func (s *testStore) Delegation(_ context.Context, org, id string) ([]byte, error) {
	return s.get(s.dlg, org, id)
}
func (s *testStore) PutRevocation(_ context.Context, org, id string, env []byte) error {
	return s.put(s.rev, org, id, env)
}
func (s *testStore) Revocation(_ context.Context, org, id string) ([]byte, error) {
	return s.get(s.rev, org, id)
}

// recordingAnchor remembers what was anchored.
type recordingAnchor struct {
	mu    sync.Mutex
	kinds []string
	fail  error
}

func (a *recordingAnchor) Anchor(_ context.Context, _ string, kind string, _ *passport.Envelope) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != nil {
		return a.fail
	}
	a.kinds = append(a.kinds, kind)
	return nil
}

const org = "acme"

// world is a registry with a clock the test moves.
type world struct {
	t      testing.TB
	ctx    context.Context
	store  *testStore
	anchor *recordingAnchor
	reg    *passport.Registry
	now    time.Time
}

func newWorld(t testing.TB) *world {
	w := &world{t: t, ctx: context.Background(), store: newTestStore(), anchor: &recordingAnchor{}, now: t0}
	w.reg = passport.NewRegistry(w.store, w.anchor, func() time.Time { return w.now })
	return w
}

// party is a passport and the key its holder keeps.
type party struct {
	key *passport.Ed25519Signer
	p   *passport.Passport
}

func (w *world) register(kind passport.Kind) party {
	w.t.Helper()
	k := mustKey(w.t)
	env, err := passport.NewInception(kind, string(kind), w.now.Add(-time.Hour), k)
	if err != nil {
		w.t.Fatal(err)
	}
	p, err := w.reg.Register(w.ctx, org, env)
	if err != nil {
		w.t.Fatal(err)
	}
	return party{k, p}
}

func (w *world) sign(signer passport.Signer, issuer, subject party, parent string, scope passport.Scope, expires time.Duration) *passport.Envelope {
	w.t.Helper()
	env, err := passport.Delegate(signer, passport.Delegation{Issuer: issuer.p.DID, Subject: subject.p.DID, Parent: parent,
		Scope: scope, Created: w.now.Add(-time.Minute), Expires: w.now.Add(expires)})
	if err != nil {
		w.t.Fatal(err)
	}
	return env
}

func (w *world) delegate(issuer, subject party, parent string, scope passport.Scope, expires time.Duration) *passport.Delegation {
	w.t.Helper()
	d, err := w.reg.AddDelegation(w.ctx, org, w.sign(issuer.key, issuer, subject, parent, scope, expires))
	if err != nil {
		w.t.Fatal(err)
	}
	return d
}

// chain3 builds human -> agent1 -> agent2 -> agent3.
func (w *world) chain3() (h, a1, a2, a3 party, d1, d2, d3 *passport.Delegation) {
	h, a1, a2, a3 = w.register(passport.KindHuman), w.register(passport.KindAgent), w.register(passport.KindAgent), w.register(passport.KindAgent)
	d1 = w.delegate(h, a1, "", passport.Scope{Actions: []string{"invoice.*", "email.*"}, Resources: []string{"invoice:*"}, Limits: map[string]float64{"amount": 1000}}, 24*time.Hour)
	d2 = w.delegate(a1, a2, d1.ID, passport.Scope{Actions: []string{"invoice.*"}, Resources: []string{"invoice:eu:*"}, Limits: map[string]float64{"amount": 500}}, 12*time.Hour)
	d3 = w.delegate(a2, a3, d2.ID, passport.Scope{Actions: []string{"invoice.pay"}, Resources: []string{"invoice:eu:*"}, Limits: map[string]float64{"amount": 100, "count": 1}}, time.Hour)
	return
}

func wantErr(t testing.TB, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("got %v, want an error wrapping %v", err, kind)
	}
}

func TestRegisterGet(t *testing.T) {
	w := newWorld(t)
	h := w.register(passport.KindHuman)
	got, err := w.reg.Get(w.ctx, org, h.p.DID)
	if err != nil {
		t.Fatal(err)
	}
	if got.DID != h.p.DID || got.Kind != passport.KindHuman {
		t.Fatalf("got %+v", got)
	}
	// Registering the same inception again is a no-op.
	again, err := w.reg.Register(w.ctx, org, h.p.Events[0])
	if err != nil || again.DID != h.p.DID {
		t.Fatalf("re-register: %v", err)
	}
	if len(w.anchor.kinds) != 1 || w.anchor.kinds[0] != passport.AnchorInception {
		t.Fatalf("anchored %v", w.anchor.kinds)
	}
	_, err = w.reg.Get(w.ctx, "other-org", h.p.DID)
	wantErr(t, err, errs.ErrNotFound)
	_, err = w.reg.Get(w.ctx, org, passport.DIDPrefix+passport.Digest([]byte("nobody")))
	wantErr(t, err, errs.ErrNotFound)
	_, err = w.reg.Get(w.ctx, org, "did:web:example.com")
	wantErr(t, err, errs.ErrNotFound)
}

func TestAppendEventRotateThenRevoke(t *testing.T) {
	w := newWorld(t)
	h := w.register(passport.KindHuman)
	next := mustKey(t)
	rot, err := passport.RotateKeys(h.key, h.p, w.now, next)
	if err != nil {
		t.Fatal(err)
	}
	p, err := w.reg.AppendEvent(w.ctx, org, rot)
	if err != nil {
		t.Fatal(err)
	}
	if p.DID != h.p.DID || !p.HasKey(next.PublicKey()) {
		t.Fatalf("after rotation %+v", p)
	}
	// The same event again lost its seq: conflict, and nothing changes.
	_, err = w.reg.AppendEvent(w.ctx, org, rot)
	wantErr(t, err, errs.ErrConflict)
	rev, err := passport.RevokePassport(next, p, "done", w.now)
	if err != nil {
		t.Fatal(err)
	}
	if p, err = w.reg.AppendEvent(w.ctx, org, rev); err != nil || !p.Revoked {
		t.Fatalf("revoke: %v %+v", err, p)
	}
	got, err := w.reg.Get(w.ctx, org, h.p.DID)
	if err != nil || !got.Revoked || len(got.Events) != 3 {
		t.Fatalf("get after revoke: %v %+v", err, got)
	}
	want := []string{passport.AnchorInception, passport.AnchorRotation, passport.AnchorPassportRevocation}
	if len(w.anchor.kinds) != 3 || w.anchor.kinds[1] != want[1] || w.anchor.kinds[2] != want[2] {
		t.Fatalf("anchored %v, want %v", w.anchor.kinds, want)
	}
}

func TestAnchorFailureStoresNothing(t *testing.T) {
	w := newWorld(t)
	w.anchor.fail = errors.New("ledger down")
	k := mustKey(t)
	env, _ := passport.NewInception(passport.KindHuman, "", w.now, k)
	_, err := w.reg.Register(w.ctx, org, env)
	wantErr(t, err, errs.ErrUnavailable)
	p, _ := passport.Replay([]*passport.Envelope{env}, w.now)
	_, err = w.reg.Get(w.ctx, org, p.DID)
	wantErr(t, err, errs.ErrNotFound)
}

func TestVerifyChain(t *testing.T) {
	w := newWorld(t)
	h, a1, a2, a3, d1, d2, d3 := w.chain3()
	tests := []struct {
		name  string
		agent party
		leaf  *passport.Delegation
		links int
	}{
		{"one link", a1, d1, 1},
		{"two links", a2, d2, 2},
		{"three links", a3, d3, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 { // cold, then warm
				c, err := w.reg.VerifyChain(w.ctx, org, tc.agent.p.DID, tc.leaf.ID)
				if err != nil {
					t.Fatal(err)
				}
				if len(c.Links) != tc.links || c.Root != h.p.DID || c.Agent != tc.agent.p.DID || c.Leaf().ID != tc.leaf.ID {
					t.Fatalf("chain %+v", c)
				}
				if !c.Expires.Equal(tc.leaf.Expires) {
					t.Fatalf("expires %v, want %v", c.Expires, tc.leaf.Expires)
				}
			}
		})
	}
	c, _ := w.reg.VerifyChain(w.ctx, org, a3.p.DID, d3.ID)
	if err := c.Scope.Permits("invoice.pay", "invoice:eu:7", map[string]any{"amount": 90, "count": 1}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, c.Scope.Permits("invoice.pay", "invoice:eu:7", map[string]any{"amount": 101, "count": 1}), errs.ErrPermissionDenied)
	_, err := w.reg.VerifyChain(w.ctx, org, a1.p.DID, "dlg:"+passport.Digest([]byte("nothing")))
	wantErr(t, err, errs.ErrNotFound)
	_, err = w.reg.VerifyChain(w.ctx, org, a2.p.DID, d3.ID)
	wantErr(t, err, errs.ErrPermissionDenied)
	_, err = w.reg.VerifyChain(w.ctx, org, passport.DIDPrefix+passport.Digest([]byte("nobody")), d3.ID)
	wantErr(t, err, errs.ErrNotFound)
	_, err = w.reg.VerifyChain(w.ctx, org, "did:human:nobody", "dlg:nothing")
	wantErr(t, err, errs.ErrNotFound)
	_, err = w.reg.VerifyChain(w.ctx, "other-org", a3.p.DID, d3.ID)
	wantErr(t, err, errs.ErrNotFound)
}

func TestDelegationWindow(t *testing.T) {
	w := newWorld(t)
	h, a := w.register(passport.KindHuman), w.register(passport.KindAgent)
	env, err := passport.Delegate(h.key, passport.Delegation{Issuer: h.p.DID, Subject: a.p.DID, Scope: passport.Scope{Actions: []string{"x"}},
		NotBefore: w.now.Add(time.Hour), Created: w.now, Expires: w.now.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	d, err := w.reg.AddDelegation(w.ctx, org, env) // adding a future delegation is fine
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.reg.VerifyChain(w.ctx, org, a.p.DID, d.ID)
	wantErr(t, err, errs.ErrFailedPrecondition)
	w.now = w.now.Add(90 * time.Minute)
	if _, err := w.reg.VerifyChain(w.ctx, org, a.p.DID, d.ID); err != nil {
		t.Fatal(err)
	}
	w.now = w.now.Add(time.Hour)
	_, err = w.reg.VerifyChain(w.ctx, org, a.p.DID, d.ID)
	wantErr(t, err, errs.ErrFailedPrecondition)
}

// Invariant 1: no server-side human passport creation.
func TestAttackServerMintedHuman(t *testing.T) {
	w := newWorld(t)
	device, server := mustKey(t), mustKey(t)
	// The server declares the human's device key but can only sign with its own.
	minted := sealEvent(t, map[string]any{"type": "inception", "kind": "human", "keys": []passport.PublicKey{device.PublicKey()}, "created": t0.Format(time.RFC3339)}, server)
	_, err := w.reg.Register(w.ctx, org, minted)
	wantErr(t, err, errs.ErrUnauthenticated)
	// An inception declaring two keys but signed by one.
	env, _ := passport.NewInception(passport.KindHuman, "", t0, device, server)
	env.Signatures = env.Signatures[1:]
	_, err = w.reg.Register(w.ctx, org, env)
	wantErr(t, err, errs.ErrUnauthenticated)
	// A row written straight into the store fails Get and every chain through it.
	raw, _ := minted.Marshal()
	did := passport.DIDPrefix + passport.Digest(minted.Payload)
	if err := w.store.AppendEvent(w.ctx, org, did, 0, raw, nil); err != nil {
		t.Fatal(err)
	}
	_, err = w.reg.Get(w.ctx, org, did)
	wantErr(t, err, errs.ErrUnauthenticated)
	agent := w.register(passport.KindAgent)
	fake := party{server, &passport.Passport{DID: did}}
	denv := w.sign(server, fake, agent, "", passport.Scope{Actions: []string{"*"}}, time.Hour)
	_, err = w.reg.AddDelegation(w.ctx, org, denv)
	wantErr(t, err, errs.ErrUnauthenticated)
	d, _ := passport.ParseDelegation(denv)
	raw, _ = denv.Marshal()
	_ = w.store.PutDelegation(w.ctx, org, d.ID, raw)
	_, err = w.reg.VerifyChain(w.ctx, org, agent.p.DID, d.ID)
	wantErr(t, err, errs.ErrUnauthenticated)
	// A stored human log swapped under another DID does not pass as that DID.
	h := w.register(passport.KindHuman)
	other := passport.DIDPrefix + passport.Digest([]byte("victim"))
	raw, _ = h.p.Events[0].Marshal()
	_ = w.store.AppendEvent(w.ctx, org, other, 0, raw, nil)
	_, err = w.reg.Get(w.ctx, org, other)
	wantErr(t, err, errs.ErrUnauthenticated)
}

// Invariant 2: no shared human keys; agents are never humans.
func TestAttackSharedHumanKey(t *testing.T) {
	w := newWorld(t)
	alice := w.register(passport.KindHuman)
	// A second human passport over Alice's key (different name, so a different DID).
	env, _ := passport.NewInception(passport.KindHuman, "mallory", t0, alice.key)
	_, err := w.reg.Register(w.ctx, org, env)
	wantErr(t, err, errs.ErrConflict)
	// Bob cannot rotate onto Alice's key either.
	bob := w.register(passport.KindHuman)
	rot, _ := passport.RotateKeys(bob.key, bob.p, w.now, alice.key)
	_, err = w.reg.AppendEvent(w.ctx, org, rot)
	wantErr(t, err, errs.ErrConflict)
	if got, _ := w.reg.Get(w.ctx, org, bob.p.DID); len(got.Events) != 1 {
		t.Fatalf("failed rotation changed Bob's log: %d events", len(got.Events))
	}
	// Another org is another namespace.
	if _, err := w.reg.Register(w.ctx, "other-org", env); err != nil {
		t.Fatal(err)
	}
}

// Invariant 5: an agent passport cannot root a chain.
func TestAttackAgentRootsChain(t *testing.T) {
	w := newWorld(t)
	a1, a2 := w.register(passport.KindAgent), w.register(passport.KindAgent)
	env := w.sign(a1.key, a1, a2, "", passport.Scope{Actions: []string{"*"}}, time.Hour)
	_, err := w.reg.AddDelegation(w.ctx, org, env)
	wantErr(t, err, errs.ErrPermissionDenied)
	d, _ := passport.ParseDelegation(env)
	raw, _ := env.Marshal()
	_ = w.store.PutDelegation(w.ctx, org, d.ID, raw)
	_, err = w.reg.VerifyChain(w.ctx, org, a2.p.DID, d.ID)
	wantErr(t, err, errs.ErrPermissionDenied)
	// Delegating to a human is malformed: delegations go to agents.
	h, h2 := w.register(passport.KindHuman), w.register(passport.KindHuman)
	_, err = w.reg.AddDelegation(w.ctx, org, w.sign(h.key, h, h2, "", passport.Scope{Actions: []string{"*"}}, time.Hour))
	wantErr(t, err, errs.ErrInvalidArgument)
}

// Invariant 4: no silent identity change through the registry.
func TestAttackSilentIdentityChange(t *testing.T) {
	w := newWorld(t)
	h := w.register(passport.KindHuman)
	attacker := mustKey(t)
	prev := passport.Digest(h.p.Events[0].Payload)
	ev := func(created time.Time, seq int, signers ...passport.Signer) *passport.Envelope {
		return sealEvent(t, map[string]any{"type": "rotation", "did": h.p.DID, "seq": seq, "prev": prev,
			"keys": []passport.PublicKey{attacker.PublicKey()}, "created": created.Format(time.RFC3339Nano)}, signers...)
	}
	cases := []struct {
		name string
		env  *passport.Envelope
		want error
	}{
		{"unsigned", ev(w.now, 1), errs.ErrUnauthenticated},
		{"signed only by the attacker", ev(w.now, 1, attacker), errs.ErrUnauthenticated},
		{"out of order", ev(w.now, 2, h.key, attacker), errs.ErrInvalidArgument},
		{"back-dated before the inception", ev(w.now.Add(-2*time.Hour), 1, h.key, attacker), errs.ErrInvalidArgument},
		{"future-dated", ev(w.now.Add(time.Hour), 1, h.key, attacker), errs.ErrInvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.reg.AppendEvent(w.ctx, org, tc.env)
			wantErr(t, err, tc.want)
			got, err := w.reg.Get(w.ctx, org, h.p.DID)
			if err != nil || len(got.Events) != 1 || !got.HasKey(h.key.PublicKey()) {
				t.Fatalf("rejected event changed the passport: %v %+v", err, got)
			}
		})
	}
	// An event appended straight into the store is caught on read.
	raw, _ := ev(w.now, 1, attacker).Marshal()
	_ = w.store.AppendEvent(w.ctx, org, h.p.DID, 1, raw, nil)
	_, err := w.reg.Get(w.ctx, org, h.p.DID)
	wantErr(t, err, errs.ErrUnauthenticated)
}

// Invariant 5: a link may only narrow its parent, at every depth.
func TestAttackWideningLink(t *testing.T) {
	w := newWorld(t)
	h, a1, a2, a3, d1, d2, _ := w.chain3()
	_ = h
	cases := []struct {
		name    string
		issuer  party
		subject party
		parent  string
		scope   passport.Scope
		expires time.Duration
	}{
		{"wider actions", a1, a2, d1.ID, passport.Scope{Actions: []string{"*"}, Resources: []string{"invoice:*"}, Limits: map[string]float64{"amount": 10}}, time.Hour},
		{"wider resources", a1, a2, d1.ID, passport.Scope{Actions: []string{"invoice.pay"}, Resources: []string{"*"}, Limits: map[string]float64{"amount": 10}}, time.Hour},
		{"higher limit", a2, a3, d2.ID, passport.Scope{Actions: []string{"invoice.pay"}, Resources: []string{"invoice:eu:1"}, Limits: map[string]float64{"amount": 501}}, time.Hour},
		{"dropped limit", a2, a3, d2.ID, passport.Scope{Actions: []string{"invoice.pay"}, Resources: []string{"invoice:eu:1"}}, time.Hour},
		{"outlives the parent", a2, a3, d2.ID, passport.Scope{Actions: []string{"invoice.pay"}, Resources: []string{"invoice:eu:1"}, Limits: map[string]float64{"amount": 1}}, 13 * time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := w.sign(tc.issuer.key, tc.issuer, tc.subject, tc.parent, tc.scope, tc.expires)
			_, err := w.reg.AddDelegation(w.ctx, org, env)
			wantErr(t, err, errs.ErrPermissionDenied)
			// Written straight into the store, it still fails verification.
			d, _ := passport.ParseDelegation(env)
			raw, _ := env.Marshal()
			_ = w.store.PutDelegation(w.ctx, org, d.ID, raw)
			_, err = w.reg.VerifyChain(w.ctx, org, tc.subject.p.DID, d.ID)
			wantErr(t, err, errs.ErrPermissionDenied)
		})
	}
}

// Invariant 5: a link signed by someone other than its issuer.
func TestAttackForeignSigner(t *testing.T) {
	w := newWorld(t)
	h, a := w.register(passport.KindHuman), w.register(passport.KindAgent)
	env := w.sign(a.key, h, a, "", passport.Scope{Actions: []string{"*"}}, time.Hour) // the agent signs "as" the human
	_, err := w.reg.AddDelegation(w.ctx, org, env)
	wantErr(t, err, errs.ErrUnauthenticated)
	// A valid link whose payload is edited after signing.
	good := w.sign(h.key, h, a, "", passport.Scope{Actions: []string{"invoice.read"}}, time.Hour)
	good.Payload = bytes.Replace(good.Payload, []byte("invoice.read"), []byte("invoice.*"), 1)
	_, err = w.reg.AddDelegation(w.ctx, org, good)
	wantErr(t, err, errs.ErrUnauthenticated)
}

// Invariant 5: a sub-delegation whose issuer is not the parent's subject.
func TestAttackIssuerNotParentSubject(t *testing.T) {
	w := newWorld(t)
	h, a1, a2, a3, d1, _, _ := w.chain3()
	_ = h
	// a2 holds no delegation d1 (a1 does) but tries to sub-delegate under it.
	env := w.sign(a2.key, a2, a3, d1.ID, passport.Scope{Actions: []string{"invoice.pay"}, Resources: []string{"invoice:1"}, Limits: map[string]float64{"amount": 1}}, time.Hour)
	_, err := w.reg.AddDelegation(w.ctx, org, env)
	wantErr(t, err, errs.ErrPermissionDenied)
	d, _ := passport.ParseDelegation(env)
	raw, _ := env.Marshal()
	_ = w.store.PutDelegation(w.ctx, org, d.ID, raw)
	_, err = w.reg.VerifyChain(w.ctx, org, a3.p.DID, d.ID)
	wantErr(t, err, errs.ErrPermissionDenied)
	_ = a1
}

// Invariant 5: expired links fail, at any depth.
func TestAttackExpiredLink(t *testing.T) {
	w := newWorld(t)
	_, _, _, a3, _, _, d3 := w.chain3()
	w.now = w.now.Add(2 * time.Hour) // d3 (1h) expired; d1, d2 still valid
	_, err := w.reg.VerifyChain(w.ctx, org, a3.p.DID, d3.ID)
	wantErr(t, err, errs.ErrFailedPrecondition)
	// An expired delegation cannot be added.
	w2 := newWorld(t)
	h, a := w2.register(passport.KindHuman), w2.register(passport.KindAgent)
	_, err = w2.reg.AddDelegation(w2.ctx, org, w2.sign(h.key, h, a, "", passport.Scope{Actions: []string{"x"}}, -time.Second))
	wantErr(t, err, errs.ErrFailedPrecondition)
	// A link stored while valid fails from the instant it expires.
	d := w2.delegate(h, a, "", passport.Scope{Actions: []string{"x"}}, time.Minute)
	w2.now = w2.now.Add(time.Minute)
	_, err = w2.reg.VerifyChain(w2.ctx, org, a.p.DID, d.ID)
	wantErr(t, err, errs.ErrFailedPrecondition)
}

// Invariant 5: revoking a link stops everything below it; only issuers in
// the chain may revoke.
func TestAttackRevokedLink(t *testing.T) {
	w := newWorld(t)
	h, a1, a2, a3, d1, d2, d3 := w.chain3()
	// An outsider, and the agent below, cannot revoke d2.
	outsider := w.register(passport.KindHuman)
	for _, p := range []party{outsider, a2, a3} {
		rev, _ := passport.Revoke(p.key, p.p.DID, d2.ID, "", w.now)
		wantErr(t, w.reg.RevokeDelegation(w.ctx, org, rev), errs.ErrPermissionDenied)
	}
	// Naming the right revoker but signing with another key.
	rev, _ := passport.Revoke(outsider.key, h.p.DID, d2.ID, "", w.now)
	wantErr(t, w.reg.RevokeDelegation(w.ctx, org, rev), errs.ErrUnauthenticated)
	if _, err := w.reg.VerifyChain(w.ctx, org, a3.p.DID, d3.ID); err != nil {
		t.Fatalf("chain broken by rejected revocations: %v", err)
	}
	// The human, two levels up, revokes d2: d2 and d3 stop, d1 stands.
	rev, _ = passport.Revoke(h.key, h.p.DID, d2.ID, "compromised", w.now)
	if err := w.reg.RevokeDelegation(w.ctx, org, rev); err != nil {
		t.Fatal(err)
	}
	if err := w.reg.RevokeDelegation(w.ctx, org, rev); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
	_, err := w.reg.VerifyChain(w.ctx, org, a3.p.DID, d3.ID)
	wantErr(t, err, errs.ErrFailedPrecondition)
	_, err = w.reg.VerifyChain(w.ctx, org, a2.p.DID, d2.ID)
	wantErr(t, err, errs.ErrFailedPrecondition)
	if _, err := w.reg.VerifyChain(w.ctx, org, a1.p.DID, d1.ID); err != nil {
		t.Fatal(err)
	}
	// Nothing new can hang below a revoked link.
	_, err = w.reg.AddDelegation(w.ctx, org, w.sign(a2.key, a2, a3, d2.ID, passport.Scope{Actions: []string{"invoice.pay"}, Resources: []string{"invoice:eu:2"}, Limits: map[string]float64{"amount": 1}}, time.Minute))
	wantErr(t, err, errs.ErrFailedPrecondition)
	// The direct issuer may revoke its own link.
	rev, _ = passport.Revoke(h.key, h.p.DID, d1.ID, "", w.now)
	if err := w.reg.RevokeDelegation(w.ctx, org, rev); err != nil {
		t.Fatal(err)
	}
	_, err = w.reg.VerifyChain(w.ctx, org, a1.p.DID, d1.ID)
	wantErr(t, err, errs.ErrFailedPrecondition)
	want := 0
	for _, k := range w.anchor.kinds {
		if k == passport.AnchorDelegationRevocation {
			want++
		}
	}
	if want != 2 {
		t.Fatalf("anchored %d revocations, want 2", want)
	}
}

// Revoking a passport in the chain stops it, and a rotated issuer key
// invalidates what the old key signed.
func TestAttackRevokedOrRotatedPassportInChain(t *testing.T) {
	w := newWorld(t)
	h, _, a2, a3, _, d2, d3 := w.chain3()
	rev, _ := passport.RevokePassport(a2.key, a2.p, "agent retired", w.now)
	if _, err := w.reg.AppendEvent(w.ctx, org, rev); err != nil {
		t.Fatal(err)
	}
	_, err := w.reg.VerifyChain(w.ctx, org, a3.p.DID, d3.ID)
	wantErr(t, err, errs.ErrFailedPrecondition)
	_, err = w.reg.VerifyChain(w.ctx, org, a2.p.DID, d2.ID)
	wantErr(t, err, errs.ErrFailedPrecondition)

	w2 := newWorld(t)
	h, a1, _, _, d1, _, _ := w2.chain3()
	if _, err := w2.reg.VerifyChain(w2.ctx, org, a1.p.DID, d1.ID); err != nil { // warm the cache
		t.Fatal(err)
	}
	rot, _ := passport.RotateKeys(h.key, h.p, w2.now, mustKey(t))
	if _, err := w2.reg.AppendEvent(w2.ctx, org, rot); err != nil {
		t.Fatal(err)
	}
	_, err = w2.reg.VerifyChain(w2.ctx, org, a1.p.DID, d1.ID)
	wantErr(t, err, errs.ErrUnauthenticated)
}

// A revocation recorded through another Registry (another process on the
// same store) stops a chain this Registry has cached.
func TestRevocationSeenAcrossRegistries(t *testing.T) {
	w := newWorld(t)
	h, _, _, a3, _, d2, d3 := w.chain3()
	if _, err := w.reg.VerifyChain(w.ctx, org, a3.p.DID, d3.ID); err != nil {
		t.Fatal(err)
	}
	other := passport.NewRegistry(w.store, nil, func() time.Time { return w.now })
	rev, _ := passport.Revoke(h.key, h.p.DID, d2.ID, "", w.now)
	if err := other.RevokeDelegation(w.ctx, org, rev); err != nil {
		t.Fatal(err)
	}
	_, err := w.reg.VerifyChain(w.ctx, org, a3.p.DID, d3.ID)
	wantErr(t, err, errs.ErrFailedPrecondition)
}

// The cached chain is a copy: changing it does not widen later answers.
func TestChainIsACopy(t *testing.T) {
	w := newWorld(t)
	_, _, _, a3, _, _, d3 := w.chain3()
	c, err := w.reg.VerifyChain(w.ctx, org, a3.p.DID, d3.ID)
	if err != nil {
		t.Fatal(err)
	}
	c.Scope.Actions[0] = "*"
	c.Scope.Limits["amount"] = 1e9
	c2, _ := w.reg.VerifyChain(w.ctx, org, a3.p.DID, d3.ID)
	wantErr(t, c2.Scope.Permits("email.send", "invoice:eu:1", map[string]any{"amount": 1, "count": 1}), errs.ErrPermissionDenied)
	wantErr(t, c2.Scope.Permits("invoice.pay", "invoice:eu:1", map[string]any{"amount": 1e6, "count": 1}), errs.ErrPermissionDenied)
}

func TestConcurrentVerifyChain(t *testing.T) {
	w := newWorld(t)
	_, _, _, a3, _, _, d3 := w.chain3()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if _, err := w.reg.VerifyChain(w.ctx, org, a3.p.DID, d3.ID); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkVerifyChain measures the warm hot path: a two-link chain whose
// signatures are cached, with revocations and passports re-read each call.
func BenchmarkVerifyChain(b *testing.B) {
	w := newWorld(b)
	h, a1, a2 := w.register(passport.KindHuman), w.register(passport.KindAgent), w.register(passport.KindAgent)
	d1 := w.delegate(h, a1, "", passport.Scope{Actions: []string{"invoice.*"}, Limits: map[string]float64{"amount": 1000}}, time.Hour)
	d2 := w.delegate(a1, a2, d1.ID, passport.Scope{Actions: []string{"invoice.pay"}, Limits: map[string]float64{"amount": 100}}, time.Hour)
	if _, err := w.reg.VerifyChain(w.ctx, org, a2.p.DID, d2.ID); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.reg.VerifyChain(w.ctx, org, a2.p.DID, d2.ID); err != nil {
			b.Fatal(err)
		}
	}
}
