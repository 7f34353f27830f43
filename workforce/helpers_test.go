package workforce_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/workforce"
)

// keyring is the test double of workforce.Keys: the current keys of each
// human passport, by org and DID.
type keyring struct {
	mu   sync.Mutex
	keys map[[2]string][]passport.PublicKey
}

func (k *keyring) VerifyingKeys(_ context.Context, org, did string) ([]passport.PublicKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ks, ok := k.keys[[2]string{org, did}]
	if !ok {
		return nil, errs.Errorf(errs.ErrNotFound, "no human passport %q in org %q", did, org)
	}
	return ks, nil
}

func (k *keyring) set(org, did string, ks ...passport.PublicKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys[[2]string{org, did}] = ks
}

// clock is an injectable clock tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// recorder collects what the queue attests.
type recorder struct {
	mu      sync.Mutex
	votes   []string // "taskstate approver verdict" or "taskstate -"
	failing bool
}

func (r *recorder) Record(_ context.Context, t *workforce.Task, v *workforce.Vote) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failing {
		return errs.Errorf(errs.ErrUnavailable, "ledger down")
	}
	s := string(t.State) + " -"
	if v != nil {
		s = string(t.State) + " " + v.Approver + " " + v.Verdict
	}
	r.votes = append(r.votes, s)
	return nil
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.votes...)
}

const (
	org   = "acme"
	agent = "did:agent:bot"
	cap1  = "payments.approve"
)

// world is an org with a capability graph, human keys and a queue.
//
//	alice holds payments.approve directly; bob and carol through team
//	treasury; dan (the requester who delegated to the agent) holds it too;
//	mallory is a human with keys but without the capability.
type world struct {
	t       testing.TB
	graph   *capability.Graph
	store   workforce.Store
	keys    *keyring
	clock   *clock
	rec     *recorder
	q       *workforce.Queue
	signers map[string]*passport.Ed25519Signer
}

func newWorld(t testing.TB) *world {
	return newWorldOn(t, memory.NewQueueStore(), memory.NewGraphStore())
}

func newWorldOn(t testing.TB, store workforce.Store, gs capability.Store) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{
		t: t, store: store, keys: &keyring{keys: map[[2]string][]passport.PublicKey{}},
		clock: &clock{now: time.Date(2030, 3, 4, 9, 0, 0, 0, time.UTC)}, rec: &recorder{},
		signers: map[string]*passport.Ed25519Signer{},
	}
	w.graph = capability.NewGraph(gs, w.clock.Now)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range []string{"alice", "bob", "carol", "dan", "mallory"} {
		s, err := passport.GenerateEd25519()
		must(err)
		w.signers[h] = s
		w.keys.set(org, h, s.PublicKey())
		must(w.graph.AddNode(ctx, org, capability.Node{ID: h, Kind: capability.Human}))
	}
	as, err := passport.GenerateEd25519()
	must(err)
	w.signers[agent] = as
	must(w.graph.AddNode(ctx, org, capability.Node{ID: agent, Kind: capability.Agent}))
	must(w.graph.AddNode(ctx, org, capability.Node{ID: "treasury", Kind: capability.Team}))
	must(w.graph.Grant(ctx, org, "alice", cap1))
	must(w.graph.Grant(ctx, org, "dan", cap1))
	must(w.graph.Grant(ctx, org, "treasury", cap1))
	must(w.graph.AddMember(ctx, org, "bob", "treasury"))
	must(w.graph.AddMember(ctx, org, "carol", "treasury"))
	must(w.graph.AddMember(ctx, org, agent, "treasury"))
	w.q = workforce.NewQueue(store, w.keys, w.graph, w.rec, w.clock.Now)
	return w
}

func (w *world) spec(quorum int) workforce.Spec {
	return workforce.Spec{
		Org: org, Agent: agent, Requester: "dan", Action: "payments.send", Resource: "invoice/42",
		Attributes: map[string]any{"amount": 25000, "currency": "EUR"},
		Capability: cap1, Quorum: quorum, Timeout: time.Hour, Rule: "big-payments", Reason: "amount over 10000",
		PolicyVersion: 3,
	}
}

func (w *world) open(quorum int) *workforce.Task {
	w.t.Helper()
	tk, err := w.q.Open(context.Background(), w.spec(quorum))
	if err != nil {
		w.t.Fatal(err)
	}
	return tk
}

// vote signs verdict on tk as approver with signer's key.
func (w *world) vote(signer, approver string, tk *workforce.Task, verdict string) *passport.Envelope {
	w.t.Helper()
	env, err := workforce.SignVote(w.signers[signer], approver, tk, verdict, w.clock.Now())
	if err != nil {
		w.t.Fatal(err)
	}
	return env
}
