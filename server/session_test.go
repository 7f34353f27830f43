package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/internal/wire"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/server"
)

// shiftClock is the server's clock in session tests: time.Now moved by an
// offset the test sets.
type shiftClock struct{ off atomic.Int64 }

func (c *shiftClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *shiftClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// openSession opens a session as p and fails the test unless it gets one.
func openSession(t testing.TB, base string, p *principal) wire.Session {
	t.Helper()
	resp, data := send(t, base, "POST", "/v1/sessions", nil, p)
	var s wire.Session
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(data, &s) != nil {
		t.Fatalf("open session as %s: %d %s", p.keyID, resp.StatusCode, data)
	}
	if len(s.Key) != 32 || s.TTLSeconds <= 0 || s.Expires.IsZero() {
		t.Fatalf("session %+v", s)
	}
	return s
}

// hmacRequest is a request signed with hmac-sha256 under key as keyID.
func hmacRequest(t testing.TB, base, method, path string, body []byte, keyID string, key []byte, at time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if err := wire.SignRequestHMAC(req, body, keyID, key, at); err != nil {
		t.Fatal(err)
	}
	return req
}

// do sends req with body (again, for a replay) and returns the answer.
func do(t testing.TB, req *http.Request, body []byte) (*http.Response, []byte) {
	t.Helper()
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

// TestSessions: a session opened by an admin or a passport authenticates
// later hmac-sha256 requests as that principal, with its role.
func TestSessions(t *testing.T) {
	e := newEnv(t)
	a := e.a
	for _, p := range []*principal{&a.admin, &a.daveP} {
		s := openSession(t, e.base, p)
		resp, data := do(t, hmacRequest(t, e.base, "GET", "/v1/attestations/key", nil, s.KeyID, s.Key, time.Now()), nil)
		var info wire.OrgInfo
		if resp.StatusCode != 200 || json.Unmarshal(data, &info) != nil {
			t.Fatalf("%s: %d %s", p.keyID, resp.StatusCode, data)
		}
		if info.Org != a.org || info.Principal != p.keyID {
			t.Errorf("session of %s authenticated as %s of %s", p.keyID, info.Principal, info.Org)
		}
	}
	// The role comes with the session: dave may not grant.
	s := openSession(t, e.base, &a.daveP)
	body := mustJSON(t, wire.Grant{Subject: a.dave.DID, Capability: "finance.approver"})
	resp, data := do(t, hmacRequest(t, e.base, "POST", "/v1/capabilities/grants", body, s.KeyID, s.Key, time.Now()), body)
	if code := problem(t, "grant by dave's session", resp, data); code != wire.CodeWrongRole {
		t.Errorf("grant by dave's session: %s", code)
	}
	// A body of {} is accepted too; anything else is refused.
	resp, data = send(t, e.base, "POST", "/v1/sessions", []byte(`{}`), &a.admin)
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("open with {}: %d %s", resp.StatusCode, data)
	}
	resp, data = send(t, e.base, "POST", "/v1/sessions", []byte(`{"org":"org-b"}`), &a.admin)
	if code := problem(t, "open with a field", resp, data); code != wire.CodeUnknownField {
		t.Errorf("open with a field: %s", code)
	}
}

// TestAttackSessions: every way to misuse a session is refused with a 401
// (or, across orgs, exactly as a signed request of the session's org).
func TestAttackSessions(t *testing.T) {
	clock := &shiftClock{}
	secret := bytes.Repeat([]byte("s"), 32)
	cfg := server.Config{Library: human.Config{Store: "mem://", Now: clock.Now}, SessionSecret: secret}
	_, base := newServer(t, cfg)
	a, b := newTenant(t, base, "org-a"), newTenant(t, base, "org-b")
	ctx := context.Background()
	get := func(keyID string, key []byte) (*http.Response, []byte) {
		return do(t, hmacRequest(t, base, "GET", "/v1/attestations/key", nil, keyID, key, clock.Now()), nil)
	}
	want := func(name string, resp *http.Response, data []byte, code string) {
		t.Helper()
		if got := problem(t, name, resp, data); got != code {
			t.Errorf("%s: code %s, want %s (%s)", name, got, code, data)
		}
	}
	admin := openSession(t, base, &a.admin)
	if resp, data := get(admin.KeyID, admin.Key); resp.StatusCode != 200 {
		t.Fatalf("the session itself: %d %s", resp.StatusCode, data)
	}

	t.Run("forged key id", func(t *testing.T) {
		// Change each field of the decoded id and re-encode it with the
		// original tag; sign with the original key and with the key the
		// attacker cannot derive (the original) alike.
		sid, _, tag, err := wire.ParseSessionID(admin.KeyID)
		if err != nil {
			t.Fatal(err)
		}
		dave := openSession(t, base, &a.daveP)
		dsid, _, _, _ := wire.ParseSessionID(dave.KeyID)
		for name, mutate := range map[string]func(s *wire.SessionID){
			"org": func(s *wire.SessionID) { s.Org = "org-b" },
			"role": func(s *wire.SessionID) {
				s.Role, s.Subject, s.KeyFingerprint = wire.KeyPassport, a.alice.DID, dsid.KeyFingerprint
			},
			"did":     func(s *wire.SessionID) { *s = *dsid; s.Subject = a.alice.DID },
			"expiry":  func(s *wire.SessionID) { s.Expires = s.Expires.Add(time.Hour) },
			"subject": func(s *wire.SessionID) { s.Subject = b.admin.keyID[len("admin/org-b/"):] },
		} {
			f := *sid
			mutate(&f)
			payload, err := f.Payload()
			if err != nil {
				t.Fatal(err)
			}
			forged := wire.SessionKeyID(payload, tag)
			resp, data := get(forged, admin.Key)
			want(name, resp, data, wire.CodeUnknownSession)
		}
		// A tag of the right size but other bytes.
		payload, _ := sid.Payload()
		resp, data := get(wire.SessionKeyID(payload, make([]byte, wire.SessionTagSize)), admin.Key)
		want("zero tag", resp, data, wire.CodeUnknownSession)
	})

	t.Run("org A's session on org B's objects", func(t *testing.T) {
		resp, data := do(t, hmacRequest(t, base, "GET", "/v1/workforce/tasks/"+b.task.ID, nil, admin.KeyID, admin.Key, clock.Now()), nil)
		want("org B's task", resp, data, wire.CodeNotFound)
		body := mustJSON(t, wire.Cancellation{Reason: "x"})
		resp, data = do(t, hmacRequest(t, base, "POST", "/v1/workforce/tasks/"+b.task.ID+"/cancellations", body, admin.KeyID, admin.Key, clock.Now()), body)
		want("cancel org B's task", resp, data, wire.CodeNotFound)
		if task, err := b.c.Task(ctx, b.task.ID); err != nil || task.State != b.task.State {
			t.Errorf("org B's task after org A's attempts: %v %v", task, err)
		}
	})

	t.Run("replayed request", func(t *testing.T) {
		body := mustJSON(t, wire.Grant{Subject: a.dave.DID, Capability: "x.y"})
		req := hmacRequest(t, base, "POST", "/v1/capabilities/grants", body, admin.KeyID, admin.Key, clock.Now())
		if resp, data := do(t, req, body); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("first: %d %s", resp.StatusCode, data)
		}
		replay, _ := http.NewRequest("POST", base+"/v1/capabilities/grants", nil)
		replay.Header = req.Header.Clone()
		resp, data := do(t, replay, body)
		want("replay", resp, data, wire.CodeReplayed)
	})

	t.Run("another session's key", func(t *testing.T) {
		other := openSession(t, base, &a.admin)
		resp, data := get(admin.KeyID, other.Key)
		want("another session's key", resp, data, wire.CodeBadSignature)
		resp, data = get(admin.KeyID, make([]byte, 32))
		want("a zero key", resp, data, wire.CodeBadSignature)
	})

	t.Run("another server's secret", func(t *testing.T) {
		for name, other := range map[string][]byte{"other secret": bytes.Repeat([]byte("t"), 32), "per-process secret": nil} {
			_, base2 := newServer(t, server.Config{Library: human.Config{Store: "mem://"}, SessionSecret: other,
				Admins: map[string][]passport.PublicKey{"org-a": {a.admin.key.PublicKey()}}})
			resp, data := do(t, hmacRequest(t, base2, "GET", "/v1/attestations/key", nil, admin.KeyID, admin.Key, time.Now()), nil)
			want(name, resp, data, wire.CodeUnknownSession)
		}
		// A server sharing the secret accepts the session (several
		// processes behind one address).
		_, base3 := newServer(t, server.Config{Library: human.Config{Store: "mem://"}, SessionSecret: secret,
			Admins: map[string][]passport.PublicKey{"org-a": {a.admin.key.PublicKey()}}})
		if resp, data := do(t, hmacRequest(t, base3, "GET", "/v1/attestations/key", nil, admin.KeyID, admin.Key, time.Now()), nil); resp.StatusCode != 200 {
			t.Errorf("server sharing the secret: %d %s", resp.StatusCode, data)
		}
	})

	t.Run("alg confusion", func(t *testing.T) {
		// hmac-sha256 under a passport's or the admin's key id: the server
		// verifies those only with the key's own suite.
		pub := a.daveKey.PublicKey()
		for name, tc := range map[string]struct {
			keyID string
			key   []byte
		}{
			"passport key id, HMAC keyed with its public key": {a.daveP.keyID, pub.Key},
			"passport key id, HMAC keyed with a session key":  {a.daveP.keyID, admin.Key},
			"admin key id, HMAC keyed with its public key":    {a.admin.keyID, a.admin.key.PublicKey().Key},
		} {
			resp, data := get(tc.keyID, tc.key)
			want(name, resp, data, wire.CodeBadSignature)
		}
		// And an Ed25519 signature under a session key id.
		req, _ := http.NewRequest("GET", base+"/v1/attestations/key", nil)
		if err := wire.SignRequest(req, nil, admin.KeyID, a.admin.key, clock.Now()); err != nil {
			t.Fatal(err)
		}
		resp, data := do(t, req, nil)
		want("ed25519 under a session key id", resp, data, wire.CodeBadSignature)
	})

	t.Run("opening", func(t *testing.T) {
		forged := principal{a.admin.keyID, gen(t)}
		resp, data := send(t, base, "POST", "/v1/sessions", nil, &forged)
		want("bad signature", resp, data, wire.CodeBadSignature)
		resp, data = do(t, hmacRequest(t, base, "POST", "/v1/sessions", nil, admin.KeyID, admin.Key, clock.Now()), nil)
		want("a session opening a session", resp, data, wire.CodeBadSignature)
		body := mustJSON(t, wire.Enrollment{Org: "org-z"})
		resp, data = do(t, hmacRequest(t, base, "POST", "/v1/orgs", body, admin.KeyID, admin.Key, clock.Now()), body)
		want("a session enrolling an org", resp, data, wire.CodeBadSignature)
	})

	t.Run("revoked passport", func(t *testing.T) {
		bob := openSession(t, base, &a.bobP)
		if resp, data := get(bob.KeyID, bob.Key); resp.StatusCode != 200 {
			t.Fatalf("bob's session: %d %s", resp.StatusCode, data)
		}
		p, err := a.c.Passport(ctx, a.bob.DID)
		if err != nil {
			t.Fatal(err)
		}
		rev, err := passport.RevokePassport(a.bobKey, p, "lost", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.c.UpdatePassport(ctx, rev); err != nil {
			t.Fatal(err)
		}
		resp, data := get(bob.KeyID, bob.Key)
		want("revoked passport's session", resp, data, wire.CodeBadSignature)
	})

	t.Run("rotated key", func(t *testing.T) {
		dave := openSession(t, base, &a.daveP)
		p, err := a.c.Passport(ctx, a.dave.DID)
		if err != nil {
			t.Fatal(err)
		}
		rot, err := passport.RotateKeys(a.daveKey, p, time.Now(), gen(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.c.UpdatePassport(ctx, rot); err != nil {
			t.Fatal(err)
		}
		resp, data := get(dave.KeyID, dave.Key)
		want("session of a rotated-away key", resp, data, wire.CodeBadSignature)
	})

	// Last: it moves the server's clock.
	t.Run("expired", func(t *testing.T) {
		s := openSession(t, base, &a.admin)
		clock.Advance(server.DefaultSessionTTL + time.Second)
		resp, data := get(s.KeyID, s.Key)
		want("expired session", resp, data, wire.CodeSessionExpired)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("expired session: HTTP %d", resp.StatusCode)
		}
	})
}

// TestSessionConfig: the secret and the TTL are checked.
func TestSessionConfig(t *testing.T) {
	for name, cfg := range map[string]server.Config{
		"short secret": {SessionSecret: []byte("short")},
		"TTL over 1h":  {SessionTTL: 2 * time.Hour},
		"negative TTL": {SessionTTL: -time.Second},
	} {
		cfg.Library = human.Config{Store: "mem://", DataDir: t.TempDir()}
		if _, err := server.New(context.Background(), cfg); !errors.Is(err, errs.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
	clock := &shiftClock{}
	_, base := newServer(t, server.Config{Library: human.Config{Store: "mem://", Now: clock.Now}, SessionTTL: time.Minute})
	admin := newTenantMinimal(t, base, "org-t")
	s := openSession(t, base, &admin)
	if s.TTLSeconds != 60 {
		t.Errorf("ttl_seconds %d, want 60", s.TTLSeconds)
	}
}
