package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/internal/wire"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/server"
)

// Session secrets of the rotation tests: A is replaced by B; C is neither.
var (
	secretA = bytes.Repeat([]byte("A"), server.MinSessionSecret)
	secretB = bytes.Repeat([]byte("B"), server.MinSessionSecret)
	secretC = bytes.Repeat([]byte("C"), server.MinSessionSecret)
)

// frontDoor is one address in front of successive servers on one data
// directory: restart swaps the handler, as a rolling restart behind a
// load balancer does. It counts POST /v1/sessions.
type frontDoor struct {
	t     testing.TB
	dir   string
	clock *shiftClock
	base  string
	h     atomic.Pointer[http.Handler]
	cur   *server.Server
	opens atomic.Int64
}

func newFrontDoor(t testing.TB) *frontDoor {
	f := &frontDoor{t: t, dir: t.TempDir(), clock: &shiftClock{}}
	t.Cleanup(func() {
		if f.cur != nil {
			f.cur.Close()
		}
	})
	hs := httptest.NewServer(f)
	t.Cleanup(hs.Close) // runs first
	f.base = hs.URL
	return f
}

func (f *frontDoor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == "/v1/sessions" {
		f.opens.Add(1)
	}
	(*f.h.Load()).ServeHTTP(w, r)
}

// restart stops the current server and starts one on the same stores
// with the given session secrets.
func (f *frontDoor) restart(current []byte, previous ...[]byte) {
	f.t.Helper()
	if f.cur != nil {
		if err := f.cur.Close(); err != nil {
			f.t.Fatal(err)
		}
	}
	s, err := server.New(context.Background(), server.Config{OpenEnrollment: true,
		Library:       human.Config{Store: "sqlite://" + f.dir + "/human.db", DataDir: f.dir, Now: f.clock.Now},
		SessionSecret: current, PreviousSessionSecrets: previous})
	if err != nil {
		f.t.Fatal(err)
	}
	f.cur = s
	h := s.Handler()
	f.h.Store(&h)
}

// whoami sends a session-signed GET /v1/attestations/key to base and
// returns the authenticated principal, or the problem code.
func whoami(t testing.TB, base string, s wire.Session, at time.Time) (who, code string) {
	t.Helper()
	resp, data := do(t, hmacRequest(t, base, "GET", "/v1/attestations/key", nil, s.KeyID, s.Key, at), nil)
	if resp.StatusCode != http.StatusOK {
		return "", problem(t, "session request", resp, data)
	}
	var info wire.OrgInfo
	if err := json.Unmarshal(data, &info); err != nil {
		t.Fatal(err)
	}
	return info.Principal, ""
}

// sessionUnder opens an admin session of org on a server of its own
// (memory stores, admin as operator-configured admin) with secret.
func sessionUnder(t testing.TB, org string, admin principal, current []byte, previous ...[]byte) (wire.Session, string) {
	t.Helper()
	_, base := newServer(t, server.Config{Library: human.Config{Store: "mem://"}, SessionSecret: current, PreviousSessionSecrets: previous,
		Admins: map[string][]passport.PublicKey{org: {admin.key.PublicKey()}}})
	return openSession(t, base, &admin), base
}

// rotationOrg enrolls org acme behind f with a remote client acting as its
// admin and a registered human passport.
func rotationOrg(t testing.TB, f *frontDoor) (admin principal, c *human.Client, pp *passport.Passport, ppKey *passport.Ed25519Signer, ppP principal) {
	t.Helper()
	ctx := context.Background()
	admin = newTenantMinimal(t, f.base, "acme")
	c, err := human.Open(ctx, human.Config{BaseURL: f.base, Org: "acme", OrgSigner: admin.key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ppKey = gen(t)
	inc, err := passport.NewInception(passport.KindHuman, "bob", time.Now(), ppKey)
	if err != nil {
		t.Fatal(err)
	}
	if pp, err = c.RegisterPassport(ctx, inc); err != nil {
		t.Fatal(err)
	}
	return admin, c, pp, ppKey, principal{wire.PassportKeyID("acme", pp.DID), ppKey}
}

// TestSessionRotation: sessions opened under secret A survive a restart
// with B current and A previous, while new ones are issued under B; after
// a restart with B alone the A sessions are unknown, and the remote client
// re-opens its own by itself.
func TestSessionRotation(t *testing.T) {
	ctx := context.Background()
	f := newFrontDoor(t)
	f.restart(secretA)
	admin, c, bob, _, bobP := rotationOrg(t, f)
	adminA, bobA := openSession(t, f.base, &admin), openSession(t, f.base, &bobP)
	if _, err := c.Passport(ctx, bob.DID); err != nil { // the client opens its session under A
		t.Fatal(err)
	}
	check := func(step string, s wire.Session, want principal, wantCode string) {
		t.Helper()
		got, code := whoami(t, f.base, s, time.Now())
		if code != wantCode || (code == "" && got != want.keyID) {
			t.Errorf("%s: authenticated as %q, code %q; want %q, code %q", step, got, code, want.keyID, wantCode)
		}
	}
	clientCall := func(step string, opens int64) {
		t.Helper()
		before := f.opens.Load()
		if _, err := c.Passport(ctx, bob.DID); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if n := f.opens.Load() - before; n != opens {
			t.Errorf("%s: the client opened %d sessions, want %d", step, n, opens)
		}
	}

	f.restart(secretB, secretA)
	check("A admin session, B current, A previous", adminA, admin, "")
	check("A passport session, B current, A previous", bobA, bobP, "")
	clientCall("client's A session, B current, A previous", 0)
	adminB := openSession(t, f.base, &admin)
	check("session issued with A previous", adminB, admin, "")

	f.restart(secretB)
	check("A admin session, B only", adminA, admin, wire.CodeUnknownSession)
	check("A passport session, B only", bobA, bobP, wire.CodeUnknownSession)
	check("session issued with A previous, B only", adminB, admin, "")
	clientCall("client's A session, B only", 1)
	clientCall("client's new session, B only", 0)
}

// TestAttackSessionRotation: a previous secret widens what verifies by
// exactly the sessions issued under it, and no further.
func TestAttackSessionRotation(t *testing.T) {
	ctx := context.Background()
	f := newFrontDoor(t)
	f.restart(secretA)
	admin, c, bob, bobKey, bobP := rotationOrg(t, f)
	adminA, bobA := openSession(t, f.base, &admin), openSession(t, f.base, &bobP)
	f.restart(secretB, secretA)
	want := func(name string, s wire.Session, code string) {
		t.Helper()
		if _, got := whoami(t, f.base, s, f.clock.Now()); got != code {
			t.Errorf("%s: code %q, want %q", name, got, code)
		}
	}

	t.Run("neither current nor previous", func(t *testing.T) {
		other, _ := sessionUnder(t, "acme", admin, secretC)
		want("issued under C", other, wire.CodeUnknownSession)
		// C listed as previous elsewhere does not make it valid here.
		other, _ = sessionUnder(t, "acme", admin, bytes.Repeat([]byte("D"), 32), secretC)
		want("issued under D with C previous", other, wire.CodeUnknownSession)
	})

	t.Run("forged under a previous secret", func(t *testing.T) {
		sid, _, tag, err := wire.ParseSessionID(adminA.KeyID)
		if err != nil {
			t.Fatal(err)
		}
		sid.Expires = sid.Expires.Add(time.Hour)
		payload, err := sid.Payload()
		if err != nil {
			t.Fatal(err)
		}
		want("A session with a later expiry", wire.Session{KeyID: wire.SessionKeyID(payload, tag), Key: adminA.Key}, wire.CodeUnknownSession)
		// The key of an A session is derived under A: B's key for the same
		// id, or another session's key, does not sign for it.
		adminB := openSession(t, f.base, &admin)
		want("A session id with a B session's key", wire.Session{KeyID: adminA.KeyID, Key: adminB.Key}, wire.CodeBadSignature)
	})

	t.Run("a previous secret never issues", func(t *testing.T) {
		s := openSession(t, f.base, &admin)
		_, onlyA := sessionUnder(t, "acme", admin, secretA)
		if _, code := whoami(t, onlyA, s, time.Now()); code != wire.CodeUnknownSession {
			t.Errorf("session issued with B current, A previous, on a server with A only: code %q, want %s", code, wire.CodeUnknownSession)
		}
		_, onlyB := sessionUnder(t, "acme", admin, secretB)
		if _, code := whoami(t, onlyB, s, time.Now()); code != "" {
			t.Errorf("the same session on a server with B only: code %q", code)
		}
	})

	t.Run("revoked passport", func(t *testing.T) {
		want("A passport session before revocation", bobA, "")
		p, err := c.Passport(ctx, bob.DID)
		if err != nil {
			t.Fatal(err)
		}
		rev, err := passport.RevokePassport(bobKey, p, "lost", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.UpdatePassport(ctx, rev); err != nil {
			t.Fatal(err)
		}
		want("A passport session after revocation", bobA, wire.CodeBadSignature)
	})

	// Last: it moves the server's clock.
	t.Run("expired", func(t *testing.T) {
		want("A admin session before expiry", adminA, "")
		f.clock.Advance(server.DefaultSessionTTL + time.Second)
		want("A admin session after its expiry", adminA, wire.CodeSessionExpired)
	})
}

// TestSessionRotationConfig: previous secrets are checked at start-up,
// and the server keeps its own copies.
func TestSessionRotationConfig(t *testing.T) {
	short := []byte("a short previous secret")
	for _, tc := range []struct {
		name     string
		current  []byte
		previous [][]byte
		ok       bool
	}{
		{"current and two previous", secretA, [][]byte{secretB, secretC}, true},
		{"current only", secretA, nil, true},
		{"short previous", secretA, [][]byte{secretB, short}, false},
		{"empty previous", secretA, [][]byte{nil}, false},
		{"previous equals current", secretA, [][]byte{secretB, bytes.Clone(secretA)}, false},
		{"previous duplicated", secretA, [][]byte{secretB, secretC, bytes.Clone(secretB)}, false},
		{"previous without current", nil, [][]byte{secretB}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := server.New(context.Background(), server.Config{SessionSecret: tc.current, PreviousSessionSecrets: tc.previous,
				Library: human.Config{Store: "mem://", DataDir: t.TempDir()}})
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
				return
			}
			if !errors.Is(err, errs.ErrInvalidArgument) {
				t.Fatalf("%v, want ErrInvalidArgument", err)
			}
			for _, secret := range append([][]byte{tc.current}, tc.previous...) {
				if len(secret) > 0 && strings.Contains(err.Error(), string(secret)) {
					t.Errorf("the error %q shows a secret", err)
				}
			}
		})
	}

	t.Run("own copies", func(t *testing.T) {
		admin := principal{key: gen(t)}
		admin.keyID = wire.AdminKeyID("acme", admin.key.PublicKey())
		sA, _ := sessionUnder(t, "acme", admin, secretA)
		cur, prev := bytes.Clone(secretB), bytes.Clone(secretA)
		_, base := newServer(t, server.Config{Library: human.Config{Store: "mem://"}, SessionSecret: cur, PreviousSessionSecrets: [][]byte{prev},
			Admins: map[string][]passport.PublicKey{"acme": {admin.key.PublicKey()}}})
		sB := openSession(t, base, &admin)
		clear(cur) // the caller wipes its config after New
		clear(prev)
		for name, sess := range map[string]wire.Session{"issued under the current secret": sB, "issued under the previous secret": sA} {
			if _, code := whoami(t, base, sess, time.Now()); code != "" {
				t.Errorf("%s, after the caller cleared its copy: code %q", name, code)
			}
		}
	})
}
