package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"hash/maphash"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/internal/wire"
	"github.com/humanos/human/passport"
)

// Roles of an authenticated principal.
const (
	roleAdmin    = "admin"
	rolePassport = "passport"
)

// principal is who signed a request: an org admin key or a passport,
// directly or through a session it opened.
type principal struct {
	keyID   string // the admin or passport key id, also for a session
	org     string
	role    string
	did     string // passport DID; "" for an admin
	kind    passport.Kind
	subject string // the key id's subject: admin public key or DID
	keyFP   string // passport: ID of the key that verified; "" for an admin
	session string // the session key id when signed with a session; "" otherwise
}

// problemErr is an error with a specific wire code.
type problemErr struct {
	code string
	err  error
}

func (e *problemErr) Error() string { return e.err.Error() }
func (e *problemErr) Unwrap() error { return e.err }

func coded(code string, kind error, format string, args ...any) error {
	return &problemErr{code: code, err: errs.Errorf(kind, format, args...)}
}

// authenticate verifies the request's signature over body and returns the
// principal. enrolling allows an admin key that is not yet registered
// (POST /v1/orgs), whose signature is checked with the key in its key id.
func (s *Server) authenticate(ctx context.Context, r *http.Request, body []byte, enrolling bool) (*principal, error) {
	if !wire.HasSignature(r.Header) {
		return nil, coded(wire.CodeMissingSignature, errs.ErrUnauthenticated, "this route needs an RFC 9421 signature (Signature, Signature-Input, Content-Digest)")
	}
	sg, err := wire.ParseSigned(r.Header, r.Method, r.URL.EscapedPath(), r.URL.RawQuery)
	if err != nil {
		return nil, &problemErr{code: wire.CodeBadSignature, err: err}
	}
	now := s.now()
	if d := now.Sub(sg.Created); d > s.cfg.SignatureWindow || d < -s.cfg.SignatureWindow {
		return nil, coded(wire.CodeStaleSignature, errs.ErrUnauthenticated, "signature created %s, outside ±%s of the server's clock", sg.Created.UTC().Format(time.RFC3339), s.cfg.SignatureWindow)
	}
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], sg.Digest) {
		return nil, coded(wire.CodeBadSignature, errs.ErrUnauthenticated, "Content-Digest does not match the body")
	}
	p := &principal{keyID: sg.KeyID, org: sg.Org, role: sg.Kind, subject: sg.Subject}
	// Built only on refusal: formatting it for every request cost more than
	// the checks around it.
	badKey := func() error {
		return coded(wire.CodeBadSignature, errs.ErrUnauthenticated, "signature does not verify with a key of %s", sg.KeyID)
	}
	switch sg.Kind {
	case wire.KeyAdmin:
		key, err := passport.ParsePublicKey(sg.Subject)
		if err != nil {
			return nil, badKey()
		}
		if !enrolling && !s.isAdmin(sg.Org, key) {
			return nil, badKey()
		}
		if key.Verify(sg.Base, sg.Signature) != nil {
			return nil, badKey()
		}
		p.kind = passport.KindOrg
	case wire.KeyPassport:
		if enrolling {
			return nil, badKey()
		}
		pp, err := s.livePassport(ctx, sg.Org, sg.Subject, badKey)
		if err != nil {
			return nil, err
		}
		ok := false
		for _, k := range pp.Keys {
			if k.Verify(sg.Base, sg.Signature) == nil {
				ok, p.keyFP = true, k.ID()
				break
			}
		}
		if !ok {
			return nil, badKey()
		}
		p.did, p.kind = pp.DID, pp.Kind
	case wire.KeySession:
		if enrolling {
			return nil, badKey()
		}
		if p, err = s.sessionPrincipal(ctx, sg, now, badKey); err != nil {
			return nil, err
		}
	}
	// Only a verified signature may consume a nonce, so nobody can
	// pre-empt another principal's nonces.
	// A signature is accepted while |now - created| <= SignatureWindow: its
	// nonce must be remembered until created + SignatureWindow (and a
	// second, so the boundary instant is covered too).
	switch s.nonces.add(sg.KeyID+" "+sg.Nonce, sg.Created.Add(s.cfg.SignatureWindow+time.Second), now) {
	case nonceReplayed:
		return nil, coded(wire.CodeReplayed, errs.ErrUnauthenticated, "nonce already used: a signed request is accepted once")
	case nonceFull:
		return nil, coded(wire.CodeUnavailable, errs.ErrUnavailable, "replay cache full; retry shortly")
	}
	return p, nil
}

// livePassport returns the passport did of org if it may sign requests:
// the org is enrolled, this server is not a ledger node, and the passport
// exists and is not revoked. Otherwise it returns refused() (or
// ErrUnavailable when the store does not answer). Signature and session
// authentication share it, so a revocation ends a live session at its
// next request.
func (s *Server) livePassport(ctx context.Context, org, did string, refused func() error) (*passport.Passport, error) {
	if !s.known(org) || s.node != nil {
		return nil, refused()
	}
	c, err := s.client(ctx, org)
	if err != nil {
		return nil, err
	}
	pp, err := c.Passports().Get(ctx, org, did)
	switch {
	case errs.Kind(err) == errs.ErrUnavailable:
		return nil, err
	case err != nil, pp.Revoked:
		return nil, refused()
	}
	return pp, nil
}

// nonceCache remembers each (key id, nonce) until its signature leaves
// the acceptance window (created + SignatureWindow), after which a replay
// is refused as stale anyway. Entries are 64-bit keyed hashes of the pair
// (a collision costs one spurious "replayed" answer with probability
// about n/2^64, and the seed is secret, so nobody can aim one), which
// keeps a full window of a busy server's requests in memory: 5,000
// requests/s for a 5-minute window is 1.5 M entries, some 40 MB. It is
// sharded to keep lock contention low.
type nonceCache struct {
	seed   maphash.Seed
	max    int
	shards [32]nonceShard
}

type nonceShard struct {
	mu    sync.Mutex
	seen  map[uint64]int64 // hash -> expiry, Unix nanoseconds
	sweep time.Time
}

const (
	nonceOK = iota
	nonceReplayed
	nonceFull
)

// defaultNonces is the nonce cache's capacity: 8 M entries (about 26,000
// signed requests per second sustained over a 5-minute window).
const defaultNonces = 8 << 20

func newNonceCache(max int) *nonceCache {
	c := &nonceCache{seed: maphash.MakeSeed(), max: max / 32}
	for i := range c.shards {
		c.shards[i].seen = map[uint64]int64{}
	}
	return c
}

// add records key until expires, unless it is already recorded and not
// expired (nonceReplayed) or the cache is full of live entries
// (nonceFull).
func (c *nonceCache) add(key string, expires, now time.Time) int {
	h := maphash.String(c.seed, key)
	sh := &c.shards[h%uint64(len(c.shards))]
	t := now.UnixNano()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if exp, ok := sh.seen[h]; ok && exp > t {
		return nonceReplayed
	}
	if len(sh.seen) >= c.max || now.Sub(sh.sweep) > time.Minute {
		for k, exp := range sh.seen {
			if exp <= t {
				delete(sh.seen, k)
			}
		}
		sh.sweep = now
		if len(sh.seen) >= c.max {
			return nonceFull
		}
	}
	sh.seen[h] = expires.UnixNano()
	return nonceOK
}

// limiter enforces each principal's rate (token bucket) and concurrency.
type limiter struct {
	rate   float64
	burst  float64
	conc   int64
	mu     sync.Mutex
	states map[string]*limitState
}

type limitState struct {
	tokens   float64
	last     time.Time
	inflight atomic.Int64
}

func newLimiter(rate float64, burst, conc int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), conc: int64(conc), states: map[string]*limitState{}}
}

// acquire admits one request of key, returning the release function, or
// an error coded rate_limited.
func (l *limiter) acquire(key string, now time.Time) (func(), error) {
	l.mu.Lock()
	st := l.states[key]
	if st == nil {
		if len(l.states) > 1<<16 {
			clear(l.states) // bound memory; forgetting a bucket only refills it
		}
		st = &limitState{tokens: l.burst, last: now}
		l.states[key] = st
	}
	if l.rate > 0 {
		st.tokens = min(l.burst, st.tokens+now.Sub(st.last).Seconds()*l.rate)
		st.last = now
		if st.tokens < 1 {
			l.mu.Unlock()
			return nil, coded(wire.CodeRateLimited, errs.ErrUnavailable, "rate limit of %.0f requests/s for this principal", l.rate)
		}
		st.tokens--
	}
	l.mu.Unlock()
	if l.conc > 0 {
		if st.inflight.Add(1) > l.conc {
			st.inflight.Add(-1)
			return nil, coded(wire.CodeRateLimited, errs.ErrUnavailable, "more than %d requests in flight for this principal", l.conc)
		}
		return func() { st.inflight.Add(-1) }, nil
	}
	return func() {}, nil
}
