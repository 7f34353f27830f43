package policy

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/humanos/human/errs"
)

// Store persists the versions of each org's policy document and which one
// is active. It stores bytes only: parsing, compiling and hashing are the
// Library's job, so a document written straight into a store is still
// parsed and type-checked before it is used.
//
// Every method takes the org whose policies it reads or writes; nothing of
// one org is visible through another org's calls. An empty org or a version
// below 1 is errs.ErrInvalidArgument. A cancelled context makes every
// method return an error wrapping errs.ErrUnavailable and ctx.Err(), having
// changed nothing. Implementations are safe for concurrent use.
type Store interface {
	// PutVersion stores doc as version n (>= 1) of org's policy. Versions
	// are immutable: errs.ErrConflict if version n already exists, even with
	// the same bytes. Versions need not be contiguous.
	PutVersion(ctx context.Context, org string, n int, doc []byte) error
	// Version returns the bytes of version n; errs.ErrNotFound if it does
	// not exist.
	Version(ctx context.Context, org string, n int) ([]byte, error)
	// Latest returns the highest stored version number, or 0 (and no error)
	// when org has none.
	Latest(ctx context.Context, org string) (n int, err error)
	// SetActive makes version n active only if the active version is
	// currently expected (0 meaning none is active): a compare-and-swap.
	// errs.ErrNotFound if version n does not exist (checked first),
	// errs.ErrConflict if the active version is not expected.
	SetActive(ctx context.Context, org string, n, expected int) error
	// Active returns the active version and its bytes; errs.ErrNotFound
	// when org has no active version.
	Active(ctx context.Context, org string) (n int, doc []byte, err error)
}

// DefaultRefresh is how long Library.Active trusts its cached active
// version before asking the store again.
const DefaultRefresh = time.Second

// LibraryOption configures a Library.
type LibraryOption func(*Library)

// WithRefresh sets how long Library.Active may serve a cached policy
// without asking the store which version is active (default
// DefaultRefresh). Publish and Activate through the same Library take
// effect at once; a version activated by another process is seen within
// d. Zero asks the store on every call.
func WithRefresh(d time.Duration) LibraryOption { return func(l *Library) { l.refresh = d } }

// Library is the versioned policy set of every org over a Store: it
// publishes documents as new immutable versions, activates them with
// compare-and-swap, and serves the active one compiled and cached. It is
// safe for concurrent use, also by several Libraries (processes) sharing
// one store.
type Library struct {
	store   Store
	engine  *Engine
	refresh time.Duration
	now     func() time.Time

	mu       sync.Mutex
	active   map[string]activeEntry // org -> active policy
	compiled map[versionKey]*Policy // compiled versions, keyed by digest too
}

type activeEntry struct {
	policy  *Policy
	checked time.Time
}

type versionKey struct {
	org    string
	n      int
	digest string
}

// maxCompiledCache bounds the cache of compiled versions.
const maxCompiledCache = 1024

// NewLibrary returns a Library storing in store and compiling with engine.
func NewLibrary(store Store, engine *Engine, opts ...LibraryOption) *Library {
	l := &Library{store: store, engine: engine, refresh: DefaultRefresh, now: time.Now,
		active: map[string]activeEntry{}, compiled: map[versionKey]*Policy{}}
	for _, o := range opts {
		o(l)
	}
	return l
}

// maxPublishAttempts bounds the retries of Publish against concurrent
// publishers.
const maxPublishAttempts = 64

// Publish parses and compiles data (nothing is stored if it is invalid:
// errs.ErrInvalidArgument naming file, rule and position), stores it as
// org's next version and activates it. Concurrent publishers get distinct
// versions. Versions activate in order: if a concurrent Publish stored and
// activated a later version first, that later version stays active and
// this one is stored but not activated.
func (l *Library) Publish(ctx context.Context, org, filename string, data []byte) (*Policy, error) {
	if org == "" {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "policy: publish: empty org")
	}
	doc, err := Parse(filename, data)
	if err != nil {
		return nil, err
	}
	p, err := l.engine.Compile(doc)
	if err != nil {
		return nil, err
	}
	n, err := l.storeNext(ctx, org, doc.Source)
	if err != nil {
		return nil, err
	}
	p.Version = n
	l.remember(org, p)
	if err := l.activate(ctx, org, n, true); err != nil {
		return nil, err
	}
	return p, nil
}

func (l *Library) storeNext(ctx context.Context, org string, src []byte) (int, error) {
	for attempt := 0; attempt < maxPublishAttempts; attempt++ {
		latest, err := l.store.Latest(ctx, org)
		if err != nil {
			return 0, err
		}
		err = l.store.PutVersion(ctx, org, latest+1, src)
		if err == nil {
			return latest + 1, nil
		}
		if !errors.Is(err, errs.ErrConflict) {
			return 0, err
		}
	}
	return 0, errs.Errorf(errs.ErrConflict, "policy: publish for org %s: gave up after %d concurrent publishers won",
		org, maxPublishAttempts)
}

// activate makes n active; onlyForward refuses to replace a later version.
func (l *Library) activate(ctx context.Context, org string, n int, onlyForward bool) error {
	for attempt := 0; attempt < maxPublishAttempts; attempt++ {
		cur, _, err := l.store.Active(ctx, org)
		if errors.Is(err, errs.ErrNotFound) {
			cur, err = 0, nil
		}
		if err != nil {
			return err
		}
		if cur == n || (onlyForward && cur > n) {
			l.forget(org)
			return nil
		}
		err = l.store.SetActive(ctx, org, n, cur)
		if err == nil {
			l.forget(org)
			return nil
		}
		if !errors.Is(err, errs.ErrConflict) {
			return err
		}
	}
	return errs.Errorf(errs.ErrConflict, "policy: activate version %d for org %s: lost to concurrent writers %d times",
		n, org, maxPublishAttempts)
}

// Activate makes the stored version n org's active policy (a roll-back or
// roll-forward) and returns it compiled. errs.ErrNotFound if n does not
// exist; errs.ErrInvalidArgument if it no longer compiles.
func (l *Library) Activate(ctx context.Context, org string, n int) (*Policy, error) {
	p, err := l.Version(ctx, org, n)
	if err != nil {
		return nil, err
	}
	if err := l.activate(ctx, org, n, false); err != nil {
		return nil, err
	}
	return p, nil
}

// Version returns version n of org's policy, compiled. errs.ErrNotFound if
// it does not exist; errs.ErrInvalidArgument if the stored bytes do not
// parse or compile (for instance a row written around the Library).
func (l *Library) Version(ctx context.Context, org string, n int) (*Policy, error) {
	src, err := l.store.Version(ctx, org, n)
	if err != nil {
		return nil, err
	}
	return l.compile(org, n, src)
}

// Active returns org's active policy, compiled; errs.ErrNotFound when org
// has none. The result is cached (see WithRefresh).
func (l *Library) Active(ctx context.Context, org string) (*Policy, error) {
	if err := ctx.Err(); err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "policy: active: %w", err)
	}
	now := l.now()
	l.mu.Lock()
	e, ok := l.active[org]
	l.mu.Unlock()
	if ok && now.Sub(e.checked) < l.refresh {
		return e.policy, nil
	}
	n, src, err := l.store.Active(ctx, org)
	if err != nil {
		return nil, err
	}
	p, err := l.compile(org, n, src)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.active[org] = activeEntry{policy: p, checked: now}
	l.mu.Unlock()
	return p, nil
}

// compile parses and compiles stored bytes, reusing an earlier compile of
// the same org, version and bytes.
func (l *Library) compile(org string, n int, src []byte) (*Policy, error) {
	k := versionKey{org: org, n: n, digest: digestOf(src)}
	l.mu.Lock()
	p := l.compiled[k]
	l.mu.Unlock()
	if p != nil {
		return p, nil
	}
	doc, err := Parse(org+"/v"+strconv.Itoa(n), src)
	if err != nil {
		return nil, err
	}
	p, err = l.engine.Compile(doc)
	if err != nil {
		return nil, err
	}
	p.Version = n
	l.remember(org, p)
	return p, nil
}

func (l *Library) remember(org string, p *Policy) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.compiled) >= maxCompiledCache {
		clear(l.compiled)
	}
	l.compiled[versionKey{org: org, n: p.Version, digest: p.Digest}] = p
}

func (l *Library) forget(org string) {
	l.mu.Lock()
	delete(l.active, org)
	l.mu.Unlock()
}

// CheckStoreArgs validates the arguments every Store method shares, as
// every store must: a cancelled ctx is errs.ErrUnavailable wrapping
// ctx.Err(); an empty org, or (with needN) a version below 1, is
// errs.ErrInvalidArgument.
func CheckStoreArgs(ctx context.Context, org string, n int, needN bool) error {
	if err := ctx.Err(); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "policy store: %w", err)
	}
	if org == "" {
		return errs.Errorf(errs.ErrInvalidArgument, "policy store: empty org")
	}
	if needN && n < 1 {
		return errs.Errorf(errs.ErrInvalidArgument, "policy store: version %d: versions start at 1", n)
	}
	return nil
}
