package remote_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/adapters/remote"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/internal/wire"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/server"
)

// shiftClock is time.Now moved by an offset the test sets.
type shiftClock struct{ off atomic.Int64 }

func (c *shiftClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *shiftClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// sessionProbe fronts a real server: it counts session opens and how each
// request was signed, and on demand plays an older server without
// /v1/sessions (hide) or one that refuses every session (refuse).
type sessionProbe struct {
	h                        atomic.Pointer[http.Handler]
	opens, hmacReqs, keyReqs atomic.Int64
	hide, refuse             atomic.Bool
}

func (p *sessionProbe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	refuse := func(code string) {
		pr := wire.NewProblem(code, "probe")
		w.Header().Set("Content-Type", wire.ProblemType)
		w.WriteHeader(pr.Status)
		json.NewEncoder(w).Encode(pr)
	}
	if strings.Contains(r.Header.Get("Signature-Input"), `keyid="session/`) {
		p.hmacReqs.Add(1)
		if p.refuse.Load() {
			refuse(wire.CodeUnknownSession)
			return
		}
	} else {
		p.keyReqs.Add(1)
	}
	if r.Method == http.MethodPost && r.URL.Path == "/v1/sessions" {
		if p.hide.Load() {
			refuse(wire.CodeUnknownRoute)
			return
		}
		p.opens.Add(1)
	}
	(*p.h.Load()).ServeHTTP(w, r)
}

// sessionServer starts a server with admin as org acme's admin behind a
// probe; swap replaces the server with one using another session secret.
func sessionServer(t *testing.T, admin passport.Signer, clock *shiftClock) (base string, probe *sessionProbe, swap func(secret string)) {
	t.Helper()
	probe = &sessionProbe{}
	start := func(secret string) {
		s, err := server.New(context.Background(), server.Config{SessionTTL: time.Minute, SessionSecret: []byte(secret),
			Library: human.Config{Store: "mem://", DataDir: t.TempDir(), Now: clock.Now},
			Admins:  map[string][]passport.PublicKey{"acme": {admin.PublicKey()}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		h := s.Handler()
		probe.h.Store(&h)
	}
	start(strings.Repeat("a", 32))
	hs := httptest.NewServer(probe)
	t.Cleanup(hs.Close)
	return hs.URL, probe, start
}

// TestClientSessions: the client opens one session for many concurrent
// callers, signs with it, renews it before it expires, and re-opens it
// once when the server says it expired or no longer knows it.
func TestClientSessions(t *testing.T) {
	ctx := context.Background()
	admin, _ := passport.GenerateEd25519()
	srvClock, cliClock := &shiftClock{}, &shiftClock{}
	base, probe, swap := sessionServer(t, admin, srvClock)
	c, err := remote.New(remote.Options{BaseURL: base, KeyID: remote.AdminKeyID("acme", admin.PublicKey()), Signer: admin, Now: cliClock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	org := func(what string) {
		t.Helper()
		if info, err := c.Org(ctx); err != nil || info.Org != "acme" {
			t.Fatalf("%s: %v %v", what, info, err)
		}
	}
	expect := func(what string, opens, hmacReqs, keyReqs int64) {
		t.Helper()
		if o, h, k := probe.opens.Load(), probe.hmacReqs.Load(), probe.keyReqs.Load(); o != opens || h != hmacReqs || k != keyReqs {
			t.Fatalf("%s: %d opens, %d session-signed, %d key-signed requests; want %d, %d, %d", what, o, h, k, opens, hmacReqs, keyReqs)
		}
	}
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Org(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	expect("32 concurrent first calls", 1, 32, 1)

	// Past 80% of the TTL: the next call still uses the session and a
	// renewal runs beside it.
	cliClock.Advance(50 * time.Second)
	org("during renewal")
	for deadline := time.Now().Add(10 * time.Second); probe.opens.Load() < 2; {
		if time.Now().After(deadline) {
			t.Fatal("no renewal after 80% of the session's lifetime")
		}
		time.Sleep(10 * time.Millisecond)
	}
	org("after renewal")
	expect("renewal", 2, 34, 2)

	// The server's clock passes the session's expiry: session_expired,
	// one new session, the call succeeds.
	srvClock.Advance(2 * time.Minute)
	org("after expiry")
	expect("expiry", 3, 36, 3)

	// Another secret (a restart without a configured secret, or a
	// rotation): unknown_session, one new session.
	swap(strings.Repeat("b", 32))
	org("after a secret change")
	expect("secret change", 4, 38, 4)

	// A server that refuses every session: one re-open, then the error.
	probe.refuse.Store(true)
	if _, err := c.Org(ctx); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Fatalf("refused sessions: %v, want ErrUnauthenticated", err)
	}
	expect("refused sessions", 5, 40, 5)
}

// TestClientSessionFallback: against a server without /v1/sessions the
// client signs each request with its key, and asks for a session once.
// With KeySignatures it never asks.
func TestClientSessionFallback(t *testing.T) {
	ctx := context.Background()
	admin, _ := passport.GenerateEd25519()
	base, probe, _ := sessionServer(t, admin, &shiftClock{})
	probe.hide.Store(true)
	c, err := remote.New(remote.Options{BaseURL: base, KeyID: remote.AdminKeyID("acme", admin.PublicKey()), Signer: admin})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 3 {
		if _, err := c.Org(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if h, k := probe.hmacReqs.Load(), probe.keyReqs.Load(); h != 0 || k != 4 {
		t.Fatalf("%d session-signed, %d key-signed requests; want 0 and 4 (one refused open, three calls)", h, k)
	}
	probe.hide.Store(false)
	k, err := remote.New(remote.Options{BaseURL: base, KeyID: remote.AdminKeyID("acme", admin.PublicKey()), Signer: admin, KeySignatures: true})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if _, err := k.Org(ctx); err != nil {
		t.Fatal(err)
	}
	if probe.opens.Load() != 0 || probe.hmacReqs.Load() != 0 {
		t.Fatalf("KeySignatures: %d opens, %d session-signed requests", probe.opens.Load(), probe.hmacReqs.Load())
	}
}

// TestClientSessionBadKey: a key the server does not know fails the
// session open with ErrUnauthenticated, as a key-signed request would.
func TestClientSessionBadKey(t *testing.T) {
	admin, _ := passport.GenerateEd25519()
	base, _, _ := sessionServer(t, admin, &shiftClock{})
	stranger, _ := passport.GenerateEd25519()
	c, err := remote.New(remote.Options{BaseURL: base, KeyID: remote.AdminKeyID("acme", stranger.PublicKey()), Signer: stranger})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Org(context.Background()); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Fatalf("unknown key: %v, want ErrUnauthenticated", err)
	}
	if _, err := remote.New(remote.Options{BaseURL: base, KeyID: "session/acme/AA.BB", Signer: admin}); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Fatalf("a session key id as Options.KeyID: %v", err)
	}
}
