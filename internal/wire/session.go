package wire

import (
	"encoding/base64"
	"encoding/binary"
	"strings"
	"time"

	"github.com/humanos/human/errs"
)

// Sessions (POST /v1/sessions): a request signed by an admin or passport
// key opens a short-lived session; later requests are signed with
// HMAC-SHA256 under the session key instead of the principal's key, so a
// request costs the server an HMAC rather than an Ed25519 or ECDSA
// verification. The server keeps no session state: the session key id
// carries what the server needs, authenticated by a tag under the server's
// session secret, and the session key is derived from the key id with the
// same secret:
//
//	session/<org>/<base64url payload>.<base64url tag>
//
// payload (version 1): version byte 1, role byte (1 admin, 2 passport),
// expiry (unix seconds, int64 big endian), a 12-byte random nonce, the
// length-prefixed key fingerprint (passport: the ID of the key that signed
// the opening request; admin: empty) and the principal's subject (the
// admin's public key, suite:base64url, or the passport's DID).

// SessionIDVersion is the version of the session key id format.
const SessionIDVersion = 1

// SessionTagSize is the length of a session key id's tag.
const SessionTagSize = 16

// SessionID is a decoded session key id. Decoding checks shape only: the
// server checks the tag with its secret before trusting any field.
type SessionID struct {
	// Org is the org of the principal that opened the session.
	Org string
	// Role is the principal's kind: KeyAdmin or KeyPassport.
	Role string
	// Subject is the admin's public key (suite:base64url) or the passport's DID.
	Subject string
	// KeyFingerprint is the passport.PublicKey.ID of the passport key that
	// opened the session; "" for an admin (the key is the Subject).
	KeyFingerprint string
	// Expires is when the session ends (whole seconds).
	Expires time.Time
	// Nonce makes every session id unique.
	Nonce [12]byte
}

// Principal is the key id of the principal that opened the session.
func (s *SessionID) Principal() string { return s.Role + "/" + s.Org + "/" + s.Subject }

// Payload encodes everything but the tag: "session/ORG/BASE64URL". The
// tag covers exactly these bytes.
func (s *SessionID) Payload() (string, error) {
	var role byte
	switch s.Role {
	case KeyAdmin:
		role = 1
	case KeyPassport:
		role = 2
	default:
		return "", errs.Errorf(errs.ErrInvalidArgument, "session: role %q: want %s or %s", s.Role, KeyAdmin, KeyPassport)
	}
	if s.Org == "" || strings.Contains(s.Org, "/") || s.Subject == "" || len(s.KeyFingerprint) > 255 {
		return "", errs.Errorf(errs.ErrInvalidArgument, "session: org, subject or key fingerprint malformed")
	}
	b := make([]byte, 0, 23+len(s.KeyFingerprint)+len(s.Subject))
	b = append(b, SessionIDVersion, role)
	b = binary.BigEndian.AppendUint64(b, uint64(s.Expires.Unix()))
	b = append(b, s.Nonce[:]...)
	b = append(b, byte(len(s.KeyFingerprint)))
	b = append(b, s.KeyFingerprint...)
	b = append(b, s.Subject...)
	return KeySession + "/" + s.Org + "/" + base64.RawURLEncoding.EncodeToString(b), nil
}

// SessionKeyID joins a payload and its tag into the session key id.
func SessionKeyID(payload string, tag []byte) string {
	return payload + "." + base64.RawURLEncoding.EncodeToString(tag)
}

// ParseSessionID decodes a session key id into its fields, the payload the
// tag covers, and the tag. Any deviation from the format is an error
// wrapping errs.ErrUnauthenticated. It does not check the tag.
func ParseSessionID(id string) (*SessionID, string, []byte, error) {
	bad := func(format string, args ...any) (*SessionID, string, []byte, error) {
		return nil, "", nil, errs.Errorf(errs.ErrUnauthenticated, "session key id: "+format, args...)
	}
	if len(id) > MaxSigHeader {
		return bad("too long")
	}
	rest, ok := strings.CutPrefix(id, KeySession+"/")
	if !ok {
		return bad("want %s/ORG/PAYLOAD.TAG", KeySession)
	}
	org, rest, ok := strings.Cut(rest, "/")
	if !ok || org == "" {
		return bad("want %s/ORG/PAYLOAD.TAG", KeySession)
	}
	enc, tagEnc, ok := strings.Cut(rest, ".")
	if !ok {
		return bad("no tag")
	}
	strict := base64.RawURLEncoding.Strict()
	tag, err := strict.DecodeString(tagEnc)
	if err != nil || len(tag) != SessionTagSize {
		return bad("tag is not %d base64url bytes", SessionTagSize)
	}
	b, err := strict.DecodeString(enc)
	if err != nil {
		return bad("payload is not base64url")
	}
	if len(b) < 23 || b[0] != SessionIDVersion {
		return bad("unknown version or short payload")
	}
	s := &SessionID{Org: org}
	switch b[1] {
	case 1:
		s.Role = KeyAdmin
	case 2:
		s.Role = KeyPassport
	default:
		return bad("unknown role %d", b[1])
	}
	exp := int64(binary.BigEndian.Uint64(b[2:10]))
	if exp < 0 {
		return bad("negative expiry")
	}
	s.Expires = time.Unix(exp, 0)
	copy(s.Nonce[:], b[10:22])
	n := int(b[22])
	if len(b) < 23+n+1 {
		return bad("short payload")
	}
	s.KeyFingerprint = string(b[23 : 23+n])
	s.Subject = string(b[23+n:])
	return s, id[:len(id)-len(tagEnc)-1], tag, nil
}

// SessionRequest is the body of POST /v1/sessions (empty, or {}).
type SessionRequest struct{}

// Session is the answer to POST /v1/sessions: sign later requests with
// SignRequestHMAC(r, body, KeyID, Key, now) until Expires.
type Session struct {
	// KeyID is the session key id, the keyid of HMAC-signed requests.
	KeyID string `json:"key_id"`
	// Key is the 32-byte session key (base64 in JSON). It is a secret.
	Key []byte `json:"key"`
	// Expires is when the server stops accepting the session.
	Expires time.Time `json:"expires"`
	// TTLSeconds is Expires less the server's clock when it answered, so a
	// client with a skewed clock can still renew in time.
	TTLSeconds int64 `json:"ttl_seconds"`
}
