package passport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/humanos/human/errs"
)

// Store persists passport event logs, delegations and revocations as the
// signed bytes they arrived as. It never verifies anything: Registry
// verifies on every read, so a row written straight into a store without
// valid signatures fails verification.
//
// Every method is scoped to org: nothing stored under one org is visible or
// changeable through another. Empty org, did or id, and empty data, are
// errs.ErrInvalidArgument. When ctx is already cancelled or ends during the
// call, a method changes nothing and returns an error wrapping both
// errs.ErrUnavailable and ctx.Err(). Implementations are safe for
// concurrent use. Returned byte slices belong to the caller.
type Store interface {
	// AppendEvent stores event as number seq of passport did; seq 0 creates
	// the passport. It returns errs.ErrConflict, and writes nothing, if seq
	// is not exactly the number of events already stored for did (so two
	// writers never fork a log), or if another DID in org has claimed one of
	// claimKeys. On success every key in claimKeys is claimed by did within
	// org (claiming a key did already holds is fine); claims are permanent.
	// A negative seq is errs.ErrInvalidArgument.
	AppendEvent(ctx context.Context, org, did string, seq int, event []byte, claimKeys []string) error
	// Events returns the events of did in seq order, or errs.ErrNotFound if
	// org has no passport did.
	Events(ctx context.Context, org, did string) ([][]byte, error)
	// PutDelegation stores a delegation under id. Storing the same bytes
	// again is a no-op; different bytes under an existing id are
	// errs.ErrConflict and change nothing.
	PutDelegation(ctx context.Context, org, id string, env []byte) error
	// Delegation returns the bytes stored under id, or errs.ErrNotFound.
	Delegation(ctx context.Context, org, id string) ([]byte, error)
	// PutRevocation stores the revocation of delegation id. The first
	// revocation wins: storing the same bytes again is a no-op, different
	// bytes are errs.ErrConflict and change nothing.
	PutRevocation(ctx context.Context, org, id string, env []byte) error
	// Revocation returns the revocation stored for delegation id, or
	// errs.ErrNotFound when it is not revoked.
	Revocation(ctx context.Context, org, id string) ([]byte, error)
	// Generation returns org's write counter: 0 while org holds nothing,
	// and greater after every write that changed something in org (a no-op
	// or failed write leaves it as it was; other orgs' writes never change
	// it). It is shared by every process using the same backend, so a
	// Registry can tell with one read whether what it verified is still
	// what the store holds.
	Generation(ctx context.Context, org string) (uint64, error)
}

// Anchor puts a verified passport event, delegation or revocation on the
// ledger. Registry calls it before storing, so nothing takes effect without
// being on the ledger; if storing then fails, the ledger shows an attempt
// that did not take effect, never the reverse. An error aborts the write.
type Anchor interface {
	Anchor(ctx context.Context, org string, kind string, env *Envelope) error
}

// AnchorChecker is an optional interface of an Anchor: when the Anchor
// given to NewRegistry implements it, Registry also requires every stored
// passport event to be on the ledger, so a log whose events are not all
// anchored (rows written straight into the store, or a fork of the log)
// does not verify.
type AnchorChecker interface {
	// Anchored returns nil if env was anchored for org, an error wrapping
	// errs.ErrNotFound if it never was, errs.ErrUnavailable when the
	// ledger cannot be read.
	Anchored(ctx context.Context, org string, env *Envelope) error
}

// The kinds Registry passes to Anchor. A passport event's kind is
// "passport." followed by its event type.
const (
	AnchorInception            = "passport." + EventInception
	AnchorRotation             = "passport." + EventRotation
	AnchorDeviceAdded          = "passport." + EventDeviceAdded
	AnchorDeviceRemoved        = "passport." + EventDeviceRemoved
	AnchorGuardians            = "passport." + EventGuardians
	AnchorRecovery             = "passport." + EventRecovery
	AnchorRecoveryCancel       = "passport." + EventRecoveryCancel
	AnchorRecoveryComplete     = "passport." + EventRecoveryComplete
	AnchorPassportRevocation   = "passport." + EventRevocation
	AnchorDelegation           = "delegation"
	AnchorDelegationRevocation = "delegation.revocation"
	// AnchorRecoveryRejected records a recovery attempt that did not
	// verify (too few guardians, bad signatures): every attempt is on the
	// ledger, successful or not, while the passport stays unchanged.
	AnchorRecoveryRejected = "passport.recovery.rejected"
)

// maxGuardianDepth bounds how deep verifying a recovery may recurse into
// guardians' own logs (a guardian whose log holds a recovery, and so on).
const maxGuardianDepth = 3

// MaxChainDepth bounds the number of links in a delegation chain.
const MaxChainDepth = 8

// maxCacheEntries bounds each verification cache; when full it is dropped
// and refilled, which costs only re-verification.
const maxCacheEntries = 1 << 14

// Registry is the verified view of an org's passports and delegations over
// a Store. Every read replays and verifies what the store holds; results are
// cached keyed by the exact stored bytes, so a changed row is verified again
// and revocations (looked up on every call) take effect at once. Registry is
// safe for concurrent use.
type Registry struct {
	store  Store
	anchor Anchor
	now    func() time.Time

	mu        sync.RWMutex
	passports map[cacheKey]*passportEntry
	links     map[cacheKey]*linkEntry
	chains    map[chainKey]*chainEntry
}

type chainKey struct{ org, agent, id string }

// chainEntry is a chain verified when the org's store was at generation gen.
type chainEntry struct {
	gen   uint64
	chain *Chain
}

// cacheKey names a passport (by DID) or a delegation (by ID) within an org.
type cacheKey struct{ org, name string }

type passportEntry struct {
	raw [][]byte
	p   *Passport
}

type linkEntry struct {
	raw []byte
	d   *Delegation
	// signedBy is the issuer state the signature was last verified
	// against; the passport cache hands out one pointer per stored log, so
	// pointer equality means "same keys".
	signedBy atomic.Pointer[Passport]
}

// NewRegistry returns a Registry over store. anchor may be nil (nothing is
// anchored); now nil means time.Now.
func NewRegistry(store Store, anchor Anchor, now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	return &Registry{
		store: store, anchor: anchor, now: now,
		passports: make(map[cacheKey]*passportEntry),
		links:     make(map[cacheKey]*linkEntry),
		chains:    make(map[chainKey]*chainEntry),
	}
}

// Register verifies an inception (self-signed by every key it declares),
// anchors it and stores it as a new passport of org. Registering the same
// inception again returns the passport. Errors: errs.ErrUnauthenticated for
// a missing signature, errs.ErrInvalidArgument for a malformed inception,
// errs.ErrConflict for a human inception naming a key that another human
// passport of org already holds (no shared human keys).
func (r *Registry) Register(ctx context.Context, org string, inception *Envelope) (*Passport, error) {
	if org == "" {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "register: empty org")
	}
	p, err := Replay([]*Envelope{inception}, r.now())
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	raw, err := inception.Marshal()
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "register: %v", err)
	}
	if done, err := r.alreadyRegistered(ctx, org, p, raw); done || err != nil {
		return p.clone(), err
	}
	var claims []string
	if p.Kind == KindHuman {
		for _, k := range p.Keys {
			claims = append(claims, k.String())
		}
	}
	if err := r.anchorEnv(ctx, org, AnchorInception, inception); err != nil {
		return nil, err
	}
	if err := r.store.AppendEvent(ctx, org, p.DID, 0, raw, claims); err != nil {
		if errors.Is(err, errs.ErrConflict) {
			if done, err2 := r.alreadyRegistered(ctx, org, p, raw); done || err2 != nil {
				return p.clone(), err2
			}
			return nil, errs.Errorf(errs.ErrConflict, "register %s: a key it declares is already held by another human passport in org %q (%v)", p.DID, org, err)
		}
		return nil, fmt.Errorf("register %s: %w", p.DID, err)
	}
	return p.clone(), nil
}

// alreadyRegistered reports whether org already holds passport p: true with
// nil when it holds exactly this inception, true with errs.ErrConflict when
// it holds the DID with other bytes.
func (r *Registry) alreadyRegistered(ctx context.Context, org string, p *Passport, raw []byte) (bool, error) {
	have, err := r.store.Events(ctx, org, p.DID)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return false, nil
	case err != nil:
		return true, fmt.Errorf("register %s: %w", p.DID, err)
	case bytes.Equal(have[0], raw):
		return true, nil
	}
	return true, errs.Errorf(errs.ErrConflict, "register %s: already registered in org %q", p.DID, org)
}

// Get returns the verified state of passport did in org: errs.ErrNotFound if
// org has none (or did is not a passport DID), errs.ErrUnauthenticated if the stored log does not verify
// (a forged, unsigned or reordered row).
func (r *Registry) Get(ctx context.Context, org, did string) (*Passport, error) {
	p, err := r.passport(ctx, org, did)
	if err != nil {
		return nil, err
	}
	return p.clone(), nil
}

// guardianResolver resolves guardians' keys for one Replay, within one org.
type guardianResolver struct {
	r     *Registry
	ctx   context.Context
	org   string
	depth int
	b     *sigBatch
}

func (g guardianResolver) GuardianKeysAt(did string, at time.Time) ([]PublicKey, error) {
	if g.depth >= maxGuardianDepth {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "guardian %s: recoveries nested deeper than %d", did, maxGuardianDepth)
	}
	p, err := g.r.passportAt(g.ctx, g.org, did, g.depth+1, g.b)
	if err != nil {
		return nil, err
	}
	if p.Kind != KindHuman {
		return nil, errs.Errorf(errs.ErrPermissionDenied, "guardian %s is a %s passport; guardians are humans", did, p.Kind)
	}
	return p.KeysAt(at), nil
}

// GuardianKeysAt returns the keys of guardian did of org that were current
// at t (see [GuardianKeys]).
func (r *Registry) GuardianKeysAt(ctx context.Context, org, did string, at time.Time) ([]PublicKey, error) {
	return guardianResolver{r: r, ctx: ctx, org: org}.GuardianKeysAt(did, at)
}

// passport loads and verifies a passport; the result is shared, read-only.
func (r *Registry) passport(ctx context.Context, org, did string) (*Passport, error) {
	return r.passportAt(ctx, org, did, 0, nil)
}

// passportIn is passport within a verification that batches its Ed25519
// checks in b (nil: none).
func (r *Registry) passportIn(ctx context.Context, org, did string, b *sigBatch) (*Passport, error) {
	return r.passportAt(ctx, org, did, 0, b)
}

func (r *Registry) passportAt(ctx context.Context, org, did string, depth int, b *sigBatch) (*Passport, error) {
	if !ValidDID(did) {
		// A name that cannot exist is simply not found; the message says why.
		return nil, errs.Errorf(errs.ErrNotFound, "no passport %q in org %q (not a did:human DID)", did, org)
	}
	key := cacheKey{org, did}
	if b != nil {
		// Read and replayed once per verification.
		if e := b.passports[key]; e != nil {
			return e.p, nil
		}
	}
	raws, err := r.store.Events(ctx, org, did)
	if err != nil {
		return nil, fmt.Errorf("passport %s: %w", did, err)
	}
	r.mu.RLock()
	e := r.passports[key]
	r.mu.RUnlock()
	if e != nil && slices.EqualFunc(e.raw, raws, bytes.Equal) {
		if b != nil {
			b.passports[key] = e
		}
		return e.p, nil
	}
	envs := make([]*Envelope, len(raws))
	for i, raw := range raws {
		if envs[i], err = ParseEnvelope(raw); err != nil {
			return nil, errs.Errorf(errs.ErrUnauthenticated, "stored passport %s, event %d, does not verify: %v", did, i, err)
		}
	}
	p, err := replay(envs, ReplayOptions{Now: r.now(), Guardians: guardianResolver{r, ctx, org, depth, b}}, b)
	if err != nil {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "stored passport %s does not verify: %v", did, err)
	}
	if p.DID != did {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "stored passport %s holds the log of %s", did, p.DID)
	}
	if ac, ok := r.anchor.(AnchorChecker); ok {
		for i, env := range envs {
			if err := ac.Anchored(ctx, org, env); err != nil {
				if errors.Is(err, errs.ErrNotFound) {
					return nil, errs.Errorf(errs.ErrUnauthenticated, "stored passport %s, event %d, is not on the ledger: %v", did, i, err)
				}
				return nil, fmt.Errorf("passport %s, event %d: ledger: %w", did, i, err)
			}
		}
	}
	e = &passportEntry{raw: raws, p: p}
	if b != nil {
		// Cached only once the batch holds (Registry.commit).
		b.passports[key] = e
		return p, nil
	}
	r.mu.Lock()
	r.cachePassport(key, e)
	r.mu.Unlock()
	return p, nil
}

// cachePassport stores a verified passport; r.mu must be held.
func (r *Registry) cachePassport(key cacheKey, e *passportEntry) {
	if len(r.passports) >= maxCacheEntries {
		clear(r.passports)
	}
	r.passports[key] = e
}

// commit publishes what a verification verified in collect mode, once its
// batch holds: the passports it replayed and the link signatures it
// checked.
func (r *Registry) commit(b *sigBatch) {
	r.mu.Lock()
	for key, e := range b.passports {
		r.cachePassport(key, e)
	}
	r.mu.Unlock()
	for _, s := range b.signed {
		s.e.signedBy.Store(s.issuer)
	}
}

// AppendEvent verifies a later event (rotation, device added or removed,
// guardians, recovery start, cancel or completion, revocation) against the
// stored log, anchors it and appends it. Its created time must be within
// MaxClockSkew of now: an event signed long ago (back-dated, or held back
// by whoever got hold of it) is rejected, so what the log says happened
// when is what the ledger saw. A recovery that does not verify is anchored
// as AnchorRecoveryRejected (every attempt is on the ledger) and changes
// nothing else.
//
// Errors: errs.ErrNotFound for an unknown passport; errs.ErrConflict when
// another event already took its seq (re-read and sign again) or new keys
// of a human are held by another human; errs.ErrUnauthenticated for a
// missing signature by a current key (or, for a recovery, by every new key
// and by threshold guardians; for a completion, by a recovered key);
// errs.ErrFailedPrecondition after a revocation, for an event the recovery
// state does not allow, or a completion before the delay;
// errs.ErrInvalidArgument for malformed, out-of-order or back-dated events.
func (r *Registry) AppendEvent(ctx context.Context, org string, env *Envelope) (*Passport, error) {
	ev, err := parseEvent(env)
	if err != nil {
		return nil, err
	}
	if ev.Type == EventInception {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "append: an inception starts a new passport; use Register")
	}
	cur, err := r.passport(ctx, org, ev.DID)
	if err != nil {
		return nil, err
	}
	if ev.Seq < len(cur.Events) {
		return nil, errs.Errorf(errs.ErrConflict, "append to %s: seq %d is taken (the log has %d events); re-read and sign again", ev.DID, ev.Seq, len(cur.Events))
	}
	now := r.now()
	kind := "passport." + ev.Type
	if ev.Created.Before(now.Add(-MaxClockSkew)) {
		err = errs.Errorf(errs.ErrInvalidArgument, "append to %s: %s event created %s, more than %s before now (%s): back-dated or stale; sign it again",
			ev.DID, ev.Type, ev.Created.Format(time.RFC3339), MaxClockSkew, now.UTC().Format(time.RFC3339))
		return nil, r.rejectRecovery(ctx, org, kind, env, err)
	}
	p, err := ReplayWith(append(slices.Clone(cur.Events), env), ReplayOptions{Now: now, Guardians: guardianResolver{r: r, ctx: ctx, org: org}})
	if err != nil {
		return nil, r.rejectRecovery(ctx, org, kind, env, fmt.Errorf("append to %s: %w", ev.DID, err))
	}
	raw, err := env.Marshal()
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "append: %v", err)
	}
	var claims []string
	if p.Kind == KindHuman {
		switch ev.Type {
		case EventRotation, EventDeviceAdded, EventRecovery:
			for _, k := range ev.Keys {
				claims = append(claims, k.String())
			}
		}
	}
	if err := r.anchorEnv(ctx, org, kind, env); err != nil {
		return nil, err
	}
	if err := r.store.AppendEvent(ctx, org, ev.DID, ev.Seq, raw, claims); err != nil {
		return nil, fmt.Errorf("append to %s: %w", ev.DID, err)
	}
	return p.clone(), nil
}

// rejectRecovery anchors a failed recovery attempt before returning its
// error; other kinds return err unchanged.
func (r *Registry) rejectRecovery(ctx context.Context, org, kind string, env *Envelope, err error) error {
	if kind != AnchorRecovery || errors.Is(err, errs.ErrConflict) {
		return err
	}
	if aerr := r.anchorEnv(ctx, org, AnchorRecoveryRejected, env); aerr != nil {
		return fmt.Errorf("%w (and recording the attempt failed: %v)", err, aerr)
	}
	return err
}

// AddDelegation verifies a delegation certificate, and the whole chain it
// extends, then anchors and stores it. Adding the same certificate again
// returns it. Errors: errs.ErrNotFound for an unknown issuer, subject or
// parent; errs.ErrUnauthenticated when it is not signed by a current key of
// its issuer; errs.ErrPermissionDenied when it widens its parent, an agent
// issues a root delegation, or its issuer is not its parent's subject;
// errs.ErrFailedPrecondition when it has expired or anyone in the chain is
// revoked; errs.ErrInvalidArgument when malformed or not issued to an agent.
func (r *Registry) AddDelegation(ctx context.Context, org string, env *Envelope) (*Delegation, error) {
	d, err := ParseDelegation(env)
	if err != nil {
		return nil, err
	}
	now := r.now()
	if !now.Before(d.Expires) {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "delegation %s expired at %s", d.ID, d.Expires.Format(time.RFC3339))
	}
	var parent *Delegation
	if d.Parent != "" {
		chain, err := r.VerifyChain(ctx, org, d.Issuer, d.Parent)
		if err != nil {
			return nil, fmt.Errorf("delegation %s: parent: %w", d.ID, err)
		}
		parent = chain.Leaf()
	}
	if _, err := r.checkLink(ctx, org, parent, d, nil); err != nil {
		return nil, err
	}
	raw, err := env.Marshal()
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "delegation: %v", err)
	}
	have, err := r.store.Delegation(ctx, org, d.ID)
	switch {
	case err == nil && bytes.Equal(have, raw):
		return d, nil
	case err != nil && !errors.Is(err, errs.ErrNotFound):
		return nil, fmt.Errorf("delegation %s: %w", d.ID, err)
	}
	if err := r.anchorEnv(ctx, org, AnchorDelegation, env); err != nil {
		return nil, err
	}
	if err := r.store.PutDelegation(ctx, org, d.ID, raw); err != nil {
		return nil, fmt.Errorf("delegation %s: %w", d.ID, err)
	}
	return d, nil
}

// checkLink verifies one link against its parent (nil for a root): issuer
// and subject passports, the issuer's signature, narrowing. It does not
// check time or revocation of the link itself. Ed25519 checks go to b when
// it is not nil.
func (r *Registry) checkLink(ctx context.Context, org string, parent, d *Delegation, b *sigBatch) (*Passport, error) {
	issuer, err := r.passportIn(ctx, org, d.Issuer, b)
	if err != nil {
		return nil, fmt.Errorf("delegation %s: issuer: %w", d.ID, err)
	}
	if issuer.Revoked {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "delegation %s: issuer %s is revoked", d.ID, d.Issuer)
	}
	if parent == nil {
		if issuer.Kind != KindHuman && issuer.Kind != KindOrg {
			return nil, errs.Errorf(errs.ErrPermissionDenied, "delegation %s: a chain is rooted in a human or org passport; issuer %s is %s", d.ID, d.Issuer, issuer.Kind)
		}
	} else if d.Issuer != parent.Subject {
		return nil, errs.Errorf(errs.ErrPermissionDenied, "delegation %s: issuer %s is not the subject %s of parent %s", d.ID, d.Issuer, parent.Subject, parent.ID)
	}
	if err := issuer.verifiedByCurrentKey(d.Envelope, b); err != nil {
		return nil, fmt.Errorf("delegation %s: %w", d.ID, err)
	}
	if err := r.checkSubject(ctx, org, d, b); err != nil {
		return nil, err
	}
	if parent != nil {
		if err := narrows(parent, d); err != nil {
			return nil, err
		}
	}
	return issuer, nil
}

func (r *Registry) checkSubject(ctx context.Context, org string, d *Delegation, b *sigBatch) error {
	subject, err := r.passportIn(ctx, org, d.Subject, b)
	if err != nil {
		return fmt.Errorf("delegation %s: subject: %w", d.ID, err)
	}
	if subject.Kind != KindAgent {
		return errs.Errorf(errs.ErrInvalidArgument, "delegation %s: subject %s is a %s passport; delegations go to agents", d.ID, d.Subject, subject.Kind)
	}
	if subject.Revoked {
		return errs.Errorf(errs.ErrFailedPrecondition, "delegation %s: subject %s is revoked", d.ID, d.Subject)
	}
	return nil
}

func narrows(parent, d *Delegation) error {
	if err := d.Scope.Within(parent.Scope); err != nil {
		return fmt.Errorf("delegation %s under %s: %w", d.ID, parent.ID, err)
	}
	if d.NotBefore.Before(parent.NotBefore) || d.Expires.After(parent.Expires) {
		return errs.Errorf(errs.ErrPermissionDenied, "delegation %s: window %s..%s is outside its parent's %s..%s", d.ID,
			d.NotBefore.Format(time.RFC3339), d.Expires.Format(time.RFC3339),
			parent.NotBefore.Format(time.RFC3339), parent.Expires.Format(time.RFC3339))
	}
	return nil
}

// link loads a stored delegation and checks that it is the one its ID names.
func (r *Registry) link(ctx context.Context, org, id string) (*linkEntry, error) {
	if !validDigestID(id, DelegationPrefix) {
		return nil, errs.Errorf(errs.ErrNotFound, "no delegation %q in org %q (not a dlg: ID)", id, org)
	}
	raw, err := r.store.Delegation(ctx, org, id)
	if err != nil {
		return nil, fmt.Errorf("delegation %s: %w", id, err)
	}
	key := cacheKey{org, id}
	r.mu.RLock()
	e := r.links[key]
	r.mu.RUnlock()
	if e != nil && bytes.Equal(e.raw, raw) {
		return e, nil
	}
	env, err := ParseEnvelope(raw)
	if err != nil {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "stored delegation %s does not verify: %v", id, err)
	}
	d, err := ParseDelegation(env)
	if err != nil {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "stored delegation %s does not verify: %v", id, err)
	}
	if d.ID != id {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "stored delegation %s holds %s", id, d.ID)
	}
	e = &linkEntry{raw: raw, d: d}
	r.mu.Lock()
	if len(r.links) >= maxCacheEntries {
		clear(r.links)
	}
	r.links[key] = e
	r.mu.Unlock()
	return e, nil
}

// VerifyChain verifies the delegation chain that ends in delegationID and
// lets agentDID act: every link signed by a current key of its issuer, the
// root issued by a human or org passport, each later link issued by its
// parent's subject and no wider than it, every link valid now, no passport
// in the chain revoked, no link revoked.
//
// A verified chain is cached together with the org's store generation
// ([Store.Generation]), read on every call: any write to the org's
// passports, delegations or revocations, by any process, makes the next
// call verify again from the stored bytes, so a revocation takes effect at
// once. Time is checked on every call.
//
// Errors: errs.ErrNotFound for an unknown (or ill-formed) delegation ID or
// agent;
// errs.ErrUnauthenticated for a bad signature or a tampered row;
// errs.ErrPermissionDenied when a link widens, an agent roots the chain, a
// link's issuer is not its parent's subject, or the leaf is not for
// agentDID; errs.ErrFailedPrecondition when a link is expired, not yet
// valid or revoked, or a passport in the chain is revoked;
// errs.ErrInvalidArgument for malformed input.
func (r *Registry) VerifyChain(ctx context.Context, org, agentDID, delegationID string) (*Chain, error) {
	now := r.now()
	gen, err := r.store.Generation(ctx, org)
	if err != nil {
		return nil, fmt.Errorf("verify chain %s: %w", delegationID, err)
	}
	key := chainKey{org, agentDID, delegationID}
	r.mu.RLock()
	e := r.chains[key]
	r.mu.RUnlock()
	if e != nil && e.gen == gen {
		// Windows nest (each link within its parent's), so the leaf's
		// window is the chain's.
		c := e.chain
		if now.Before(c.NotBefore) {
			return nil, errs.Errorf(errs.ErrFailedPrecondition, "delegation %s is not valid before %s", delegationID, c.NotBefore.Format(time.RFC3339))
		}
		if !now.Before(c.Expires) {
			return nil, errs.Errorf(errs.ErrFailedPrecondition, "delegation %s expired at %s", delegationID, c.Expires.Format(time.RFC3339))
		}
		out := *c
		out.Scope = c.Scope.clone()
		out.Links = slices.Clone(c.Links)
		return &out, nil
	}
	c, err := r.verifyChain(ctx, org, agentDID, delegationID, now)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if len(r.chains) >= maxCacheEntries {
		clear(r.chains)
	}
	r.chains[key] = &chainEntry{gen: gen, chain: c}
	r.mu.Unlock()
	out := *c
	out.Scope = c.Scope.clone()
	out.Links = slices.Clone(c.Links)
	return &out, nil
}

// verifyChain is VerifyChain from the stored bytes, with only signature
// checks cached. Every Ed25519 signature the chain needs (passport events
// of every passport in it, certificates, revocations) is verified in one
// batch; when the batch fails, the chain is verified again one signature
// at a time, which names the first bad one with the usual error.
func (r *Registry) verifyChain(ctx context.Context, org, agentDID, delegationID string, now time.Time) (*Chain, error) {
	b := newSigBatch()
	c, err := r.verifyChainIn(ctx, org, agentDID, delegationID, now, b)
	if b.verify() {
		// Every answer given in collect mode was the immediate answer, so
		// c and err are what verifying one by one would return.
		r.commit(b)
		return c, err
	}
	return r.verifyChainIn(ctx, org, agentDID, delegationID, now, nil)
}

// verifyChainIn is verifyChain's one pass, Ed25519 checks in b when it is
// not nil.
func (r *Registry) verifyChainIn(ctx context.Context, org, agentDID, delegationID string, now time.Time, b *sigBatch) (*Chain, error) {
	leaf, err := r.link(ctx, org, delegationID)
	if err != nil {
		return nil, err
	}
	if leaf.d.Subject != agentDID {
		if _, err := r.passportIn(ctx, org, agentDID, b); errors.Is(err, errs.ErrNotFound) {
			return nil, fmt.Errorf("agent: %w", err)
		}
		return nil, errs.Errorf(errs.ErrPermissionDenied, "delegation %s is for agent %s, not %s", delegationID, leaf.d.Subject, agentDID)
	}
	entries := []*linkEntry{leaf}
	for cur := leaf; cur.d.Parent != ""; {
		if len(entries) >= MaxChainDepth {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "delegation %s: chain longer than %d links", delegationID, MaxChainDepth)
		}
		if cur, err = r.link(ctx, org, cur.d.Parent); err != nil {
			return nil, err
		}
		entries = append(entries, cur)
	}
	slices.Reverse(entries)
	links := make([]*Delegation, len(entries))
	for i, e := range entries {
		d := e.d
		links[i] = d
		var parent *Delegation
		if i > 0 {
			parent = links[i-1]
		}
		if err := r.verifyLink(ctx, org, parent, e, b); err != nil {
			return nil, err
		}
		if now.Before(d.NotBefore) {
			return nil, errs.Errorf(errs.ErrFailedPrecondition, "delegation %s is not valid before %s", d.ID, d.NotBefore.Format(time.RFC3339))
		}
		if !now.Before(d.Expires) {
			return nil, errs.Errorf(errs.ErrFailedPrecondition, "delegation %s expired at %s", d.ID, d.Expires.Format(time.RFC3339))
		}
		if err := r.notRevoked(ctx, org, d, b); err != nil {
			return nil, err
		}
	}
	return &Chain{
		Agent: agentDID, Root: links[0].Issuer, Links: links,
		Scope: leaf.d.Scope, NotBefore: leaf.d.NotBefore, Expires: leaf.d.Expires,
	}, nil
}

// verifyLink is checkLink with the signature check cached per issuer state.
func (r *Registry) verifyLink(ctx context.Context, org string, parent *Delegation, e *linkEntry, b *sigBatch) error {
	d := e.d
	issuer, err := r.passportIn(ctx, org, d.Issuer, b)
	if err != nil {
		return fmt.Errorf("delegation %s: issuer: %w", d.ID, err)
	}
	if e.signedBy.Load() != issuer {
		if _, err := r.checkLink(ctx, org, parent, d, b); err != nil {
			return err
		}
		if b != nil {
			b.signed = append(b.signed, signedLink{e, issuer})
		} else {
			e.signedBy.Store(issuer)
		}
		return nil
	}
	// Signature already verified against this exact issuer state; the
	// cheap structural checks still run, since parent and passports are
	// re-read on every call.
	if issuer.Revoked {
		return errs.Errorf(errs.ErrFailedPrecondition, "delegation %s: issuer %s is revoked", d.ID, d.Issuer)
	}
	if parent == nil {
		if issuer.Kind != KindHuman && issuer.Kind != KindOrg {
			return errs.Errorf(errs.ErrPermissionDenied, "delegation %s: a chain is rooted in a human or org passport; issuer %s is %s", d.ID, d.Issuer, issuer.Kind)
		}
	} else {
		if d.Issuer != parent.Subject {
			return errs.Errorf(errs.ErrPermissionDenied, "delegation %s: issuer %s is not the subject %s of parent %s", d.ID, d.Issuer, parent.Subject, parent.ID)
		}
		if err := narrows(parent, d); err != nil {
			return err
		}
	}
	return r.checkSubject(ctx, org, d, b)
}

// notRevoked fails if the store holds any revocation of d. A revocation
// that does not verify still stops the chain (fail closed), but is reported
// as a tampered row rather than as a revocation.
func (r *Registry) notRevoked(ctx context.Context, org string, d *Delegation, b *sigBatch) error {
	raw, err := r.store.Revocation(ctx, org, d.ID)
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delegation %s: revocation: %w", d.ID, err)
	}
	env, err := ParseEnvelope(raw)
	if err == nil {
		var rev *Revocation
		if rev, err = ParseRevocation(env); err == nil {
			if rev.Delegation != d.ID {
				err = errs.Errorf(errs.ErrUnauthenticated, "it revokes %s", rev.Delegation)
			} else if err = r.checkRevoker(ctx, org, d, rev, b); err == nil {
				return errs.Errorf(errs.ErrFailedPrecondition, "delegation %s was revoked by %s at %s", d.ID, rev.Revoker, rev.Created.Format(time.RFC3339))
			}
		}
	}
	return errs.Errorf(errs.ErrUnauthenticated, "delegation %s: the stored revocation does not verify (%v); the chain fails closed", d.ID, err)
}

// checkRevoker verifies that rev is signed by a current key of a passport
// allowed to revoke d: d's issuer or an issuer above it in its chain.
func (r *Registry) checkRevoker(ctx context.Context, org string, d *Delegation, rev *Revocation, b *sigBatch) error {
	allowed := false
	for cur, depth := d, 0; ; depth++ {
		if cur.Issuer == rev.Revoker {
			allowed = true
			break
		}
		if cur.Parent == "" || depth >= MaxChainDepth {
			break
		}
		e, err := r.link(ctx, org, cur.Parent)
		if err != nil {
			return err
		}
		cur = e.d
	}
	if !allowed {
		return errs.Errorf(errs.ErrPermissionDenied, "revocation of %s: %s is not an issuer in its chain", d.ID, rev.Revoker)
	}
	revoker, err := r.passportIn(ctx, org, rev.Revoker, b)
	if err != nil {
		return fmt.Errorf("revocation of %s: revoker: %w", d.ID, err)
	}
	if err := revoker.verifiedByCurrentKey(rev.Envelope, b); err != nil {
		return fmt.Errorf("revocation of %s: %w", d.ID, err)
	}
	return nil
}

// RevokeDelegation verifies a revocation (signed by a current key of the
// delegation's issuer or of an issuer above it in the chain), anchors and
// stores it. From then on the delegation, and every delegation below it,
// fails VerifyChain. Revoking an already revoked delegation succeeds and
// changes nothing. Errors: errs.ErrNotFound for an unknown delegation or
// revoker; errs.ErrPermissionDenied when the revoker is not in the chain;
// errs.ErrUnauthenticated for a bad signature; errs.ErrInvalidArgument when
// malformed.
func (r *Registry) RevokeDelegation(ctx context.Context, org string, env *Envelope) error {
	rev, err := ParseRevocation(env)
	if err != nil {
		return err
	}
	e, err := r.link(ctx, org, rev.Delegation)
	if err != nil {
		return err
	}
	if err := r.checkRevoker(ctx, org, e.d, rev, nil); err != nil {
		return err
	}
	if _, err := r.store.Revocation(ctx, org, rev.Delegation); err == nil {
		return nil
	} else if !errors.Is(err, errs.ErrNotFound) {
		return fmt.Errorf("revocation of %s: %w", rev.Delegation, err)
	}
	raw, err := env.Marshal()
	if err != nil {
		return errs.Errorf(errs.ErrInvalidArgument, "revocation: %v", err)
	}
	if err := r.anchorEnv(ctx, org, AnchorDelegationRevocation, env); err != nil {
		return err
	}
	if err := r.store.PutRevocation(ctx, org, rev.Delegation, raw); err != nil {
		if errors.Is(err, errs.ErrConflict) {
			return nil // a concurrent revocation won; the delegation is revoked either way
		}
		return fmt.Errorf("revocation of %s: %w", rev.Delegation, err)
	}
	return nil
}

func (r *Registry) anchorEnv(ctx context.Context, org, kind string, env *Envelope) error {
	if r.anchor == nil {
		return nil
	}
	if err := r.anchor.Anchor(ctx, org, kind, env); err != nil {
		if errs.Kind(err) == nil {
			return errs.Errorf(errs.ErrUnavailable, "anchor %s: %w", kind, err)
		}
		return fmt.Errorf("anchor %s: %w", kind, err)
	}
	return nil
}
