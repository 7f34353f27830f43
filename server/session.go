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
// from the key id, both with the server's session secret. Every
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
	s.cfg.SessionSecret = nil // keep one copy, out of the config a caller may log
	return nil
}

func (s *Server) sessionMAC(label, msg string) []byte {
	m := hmac.New(sha256.New, s.sessionSecret)
	m.Write([]byte(label))
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// sessionTag authenticates a session key id's payload.
func (s *Server) sessionTag(payload string) []byte {
	return s.sessionMAC(sessionTagLabel, payload)[:wire.SessionTagSize]
}

// sessionKey is the HMAC key of session key id.
func (s *Server) sessionKey(id string) []byte { return s.sessionMAC(sessionKeyLabel, id) }

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
	id := wire.SessionKeyID(payload, s.sessionTag(payload))
	if len(id) > wire.MaxSigHeader/2 {
		return 0, nil, coded(wire.CodeFailedPrecondition, errs.ErrFailedPrecondition, "this principal's key id is too long for a session; sign each request instead")
	}
	return http.StatusCreated, wire.Session{KeyID: id, Key: s.sessionKey(id), Expires: sid.Expires.UTC(),
		TTLSeconds: int64(sid.Expires.Sub(now) / time.Second)}, nil
}

// sessionPrincipal authenticates a request signed with a session: the key
// id's tag under the server's secret (else unknown_session), its expiry
// (else session_expired), the HMAC over the signature base in constant
// time (else bad_signature), then the principal as signature
// authentication resolves it (else bad_signature).
func (s *Server) sessionPrincipal(ctx context.Context, sg *wire.Signed, now time.Time, badKey func() error) (*principal, error) {
	sid, payload, tag, err := wire.ParseSessionID(sg.KeyID)
	if err != nil || !hmac.Equal(tag, s.sessionTag(payload)) {
		return nil, coded(wire.CodeUnknownSession, errs.ErrUnauthenticated, "session key id was not issued with this server's session secret (forged, or the secret changed): open a new session")
	}
	if !now.Before(sid.Expires) {
		return nil, coded(wire.CodeSessionExpired, errs.ErrUnauthenticated, "session expired at %s: open a new session", sid.Expires.UTC().Format(time.RFC3339))
	}
	if !hmac.Equal(wire.HMACSHA256(s.sessionKey(sg.KeyID), sg.Base), sg.Signature) {
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
