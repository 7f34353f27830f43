package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/internal/wire"
	"github.com/humanos/human/passport"
)

// Sessions: POST /v1/sessions, signed with the principal's key, returns a
// session key id and key; later requests are signed with HMAC-SHA256 under
// that key (internal/wire/session.go). Nothing is stored: the key id
// carries the principal and expiry under a tag, and the key is derived
// from the key id, both with the server's session secret. Rotation: a key
// id whose tag fails under the current secret is tried under each previous
// one (Config.PreviousSessionSecrets), and its key derives from the secret
// that tagged it; sessions are only ever issued under the current one. Every
// session-signed request still passes the principal checks a signed one
// does (admin key still listed; passport still registered, not revoked and
// still holding the key that opened the session), the created window and
// the nonce cache.

// Session limits.
const (
	// DefaultSessionTTL is a session's lifetime when Config.SessionTTL is 0.
	DefaultSessionTTL = 5 * time.Minute
	// MaxSessionTTL bounds Config.SessionTTL.
	MaxSessionTTL = time.Hour
	// MinSessionSecret is the shortest accepted Config.SessionSecret.
	MinSessionSecret = 32
)

// Domain separation: the tag of a key id and the key derived from it never
// share an HMAC input.
const (
	sessionTagLabel = "human session id v1\x00"
	sessionKeyLabel = "human session key v1\x00"
)

// initSessions checks and defaults the session settings.
func (s *Server) initSessions() error {
	switch ttl := s.cfg.SessionTTL; {
	case ttl == 0:
		s.cfg.SessionTTL = DefaultSessionTTL
	case ttl < time.Second || ttl > MaxSessionTTL:
		return errs.Errorf(errs.ErrInvalidArgument, "session TTL %s: want 1s to %s", ttl, MaxSessionTTL)
	}
	switch n := len(s.cfg.SessionSecret); {
	case n == 0:
		s.sessionSecret = make([]byte, 32)
		if _, err := rand.Read(s.sessionSecret); err != nil {
			return errs.Errorf(errs.ErrUnavailable, "session secret: %v", err)
		}
	case n < MinSessionSecret:
		return errs.Errorf(errs.ErrInvalidArgument, "session secret has %d bytes, want at least %d", n, MinSessionSecret)
	default:
		s.sessionSecret = append([]byte(nil), s.cfg.SessionSecret...)
	}
	// Errors name a previous secret by its position, never by its bytes.
	if len(s.cfg.PreviousSessionSecrets) > 0 && len(s.cfg.SessionSecret) == 0 {
		return errs.Errorf(errs.ErrInvalidArgument, "previous session secrets without a session secret: set the new secret too, or every process would issue under its own random one")
	}
	for i, prev := range s.cfg.PreviousSessionSecrets {
		switch {
		case len(prev) < MinSessionSecret:
			return errs.Errorf(errs.ErrInvalidArgument, "previous session secret %d has %d bytes, want at least %d", i+1, len(prev), MinSessionSecret)
		case hmac.Equal(prev, s.sessionSecret):
			return errs.Errorf(errs.ErrInvalidArgument, "previous session secret %d equals the session secret", i+1)
		}
		for j, other := range s.cfg.PreviousSessionSecrets[:i] {
			if hmac.Equal(prev, other) {
				return errs.Errorf(errs.ErrInvalidArgument, "previous session secrets %d and %d are equal", j+1, i+1)
			}
		}
		s.prevSecrets = append(s.prevSecrets, append([]byte(nil), prev...))
	}
	// Keep one copy of each, out of the config a caller may log.
	s.cfg.SessionSecret, s.cfg.PreviousSessionSecrets = nil, nil
	return nil
}

func sessionMAC(secret []byte, label, msg string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// sessionTag authenticates a session key id's payload under secret.
func sessionTag(secret []byte, payload string) []byte {
	return sessionMAC(secret, sessionTagLabel, payload)[:wire.SessionTagSize]
}

// sessionKey is the HMAC key of session key id under secret.
func sessionKey(secret []byte, id string) []byte { return sessionMAC(secret, sessionKeyLabel, id) }

// sessionSecretOf returns the secret under which tag authenticates a key
// id's payload, or nil. The current secret comes first, so a session under
// it costs what it did before rotation existed; only a tag that fails
// there is tried under each previous secret.
func (s *Server) sessionSecretOf(payload string, tag []byte) []byte {
	if hmac.Equal(tag, sessionTag(s.sessionSecret, payload)) {
		return s.sessionSecret
	}
	for _, prev := range s.prevSecrets {
		if hmac.Equal(tag, sessionTag(prev, payload)) {
			return prev
		}
	}
	return nil
}

// openSession is POST /v1/sessions.
func (s *Server) openSession(_ context.Context, rq *request) (int, any, error) {
	if rq.p.session != "" {
		return 0, nil, coded(wire.CodeBadSignature, errs.ErrUnauthenticated, "a session is opened by a request signed with the principal's own key, not with a session")
	}
	if len(rq.body) > 0 {
		if err := decode(rq.body, &wire.SessionRequest{}); err != nil {
			return 0, nil, err
		}
	}
	now := s.now()
	end := now.Add(s.cfg.SessionTTL) // rounded up to the second the id holds
	sid := wire.SessionID{Org: rq.p.org, Role: rq.p.role, Subject: rq.p.subject, KeyFingerprint: rq.p.keyFP,
		Expires: time.Unix(end.Add(time.Second-1).Unix(), 0)}
	if _, err := rand.Read(sid.Nonce[:]); err != nil {
		return 0, nil, errs.Errorf(errs.ErrUnavailable, "session nonce: %v", err)
	}
	payload, err := sid.Payload()
	if err != nil {
		return 0, nil, err
	}
	// Always the current secret: a previous one only verifies.
	id := wire.SessionKeyID(payload, sessionTag(s.sessionSecret, payload))
	if len(id) > wire.MaxSigHeader/2 {
		return 0, nil, coded(wire.CodeFailedPrecondition, errs.ErrFailedPrecondition, "this principal's key id is too long for a session; sign each request instead")
	}
	return http.StatusCreated, wire.Session{KeyID: id, Key: sessionKey(s.sessionSecret, id), Expires: sid.Expires.UTC(),
		TTLSeconds: int64(sid.Expires.Sub(now) / time.Second)}, nil
}

// sessionPrincipal authenticates a request signed with a session: the key
// id's tag under the server's current or a previous secret (else
// unknown_session), its expiry (else session_expired), the HMAC over the
// signature base, keyed under the secret that tagged the id, in constant
// time (else bad_signature), then the principal as signature
// authentication resolves it (else bad_signature).
func (s *Server) sessionPrincipal(ctx context.Context, sg *wire.Signed, now time.Time, badKey func() error) (*principal, error) {
	sid, payload, tag, err := wire.ParseSessionID(sg.KeyID)
	var secret []byte
	if err == nil {
		secret = s.sessionSecretOf(payload, tag)
	}
	if secret == nil {
		return nil, coded(wire.CodeUnknownSession, errs.ErrUnauthenticated, "session key id was not issued with this server's current or previous session secrets (forged, or the secret changed): open a new session")
	}
	if !now.Before(sid.Expires) {
		return nil, coded(wire.CodeSessionExpired, errs.ErrUnauthenticated, "session expired at %s: open a new session", sid.Expires.UTC().Format(time.RFC3339))
	}
	if !hmac.Equal(wire.HMACSHA256(sessionKey(secret, sg.KeyID), sg.Base), sg.Signature) {
		return nil, badKey()
	}
	p := &principal{keyID: sid.Principal(), org: sid.Org, role: sid.Role, subject: sid.Subject, keyFP: sid.KeyFingerprint, session: sg.KeyID}
	gone := func() error {
		return coded(wire.CodeBadSignature, errs.ErrUnauthenticated, "the session's principal %s may no longer sign requests (key removed, passport revoked or key rotated)", p.keyID)
	}
	switch sid.Role {
	case wire.KeyAdmin:
		key, err := passport.ParsePublicKey(sid.Subject)
		if err != nil || !s.isAdmin(sid.Org, key) {
			return nil, gone()
		}
		p.kind = passport.KindOrg
	case wire.KeyPassport:
		pp, err := s.livePassport(ctx, sid.Org, sid.Subject, gone)
		if err != nil {
			return nil, err
		}
		held := false
		for _, k := range pp.Keys {
			if k.ID() == sid.KeyFingerprint {
				held = true
				break
			}
		}
		if !held {
			return nil, gone()
		}
		p.did, p.kind = pp.DID, pp.Kind
	}
	return p, nil
}
