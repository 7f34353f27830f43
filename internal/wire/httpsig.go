package wire

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// HTTP Message Signatures (RFC 9421), the profile HUMAN uses:
//
//	Content-Digest: sha-256=:<base64 SHA-256 of the body, empty or not>:
//	Signature-Input: sig1=("@method" "@path" "@query" "content-digest");created=<unix>;nonce="<random>";keyid="<key id>"
//	Signature: sig1=:<base64 signature over the signature base>:
//
// Exactly these four components, in this order, and exactly these three
// parameters; anything else is refused, so the signed bytes are never
// ambiguous. The key id names the principal and, with it, the org:
//
//	admin/<org>/<public key, suite:base64url>   the org's admin credential
//	passport/<org>/<did>                        a passport registered in the org
//	session/<org>/<payload>.<tag>               a session one of those opened (session.go)
//
// The key id alone fixes the algorithm, so there is no alg parameter to
// confuse: an admin or passport key id is verified with that key's suite
// (Ed25519, ECDSA P-256), a session key id only with HMAC-SHA256 under the
// session key (RFC 9421's hmac-sha256).
const (
	// SigLabel is the one signature label the profile uses.
	SigLabel = "sig1"
	// SigComponents is the covered-components list, serialised.
	SigComponents = `("@method" "@path" "@query" "content-digest")`
	// MaxSigHeader bounds each signature header's length.
	MaxSigHeader = 1024
)

// Key id kinds.
const (
	KeyAdmin    = "admin"
	KeyPassport = "passport"
	KeySession  = "session"
)

// Signed is a parsed, not yet verified, request signature.
type Signed struct {
	// KeyID is the keyid parameter; Kind, Org and Subject are its parts.
	KeyID, Kind, Org, Subject string
	Created                   time.Time
	Nonce                     string
	// Digest is the SHA-256 the Content-Digest header claims for the body.
	Digest []byte
	// Base is the signature base the signature must verify over.
	Base []byte
	// Signature is the signature bytes.
	Signature []byte
}

// AdminKeyID is the key id of an org admin credential.
func AdminKeyID(org string, key passport.PublicKey) string {
	return KeyAdmin + "/" + org + "/" + key.String()
}

// PassportKeyID is the key id of a passport principal.
func PassportKeyID(org, did string) string { return KeyPassport + "/" + org + "/" + did }

// ParseKeyID splits a key id into kind, org and subject. It checks shape
// only; the server decides whether the principal exists.
func ParseKeyID(id string) (kind, org, subject string, err error) {
	parts := strings.SplitN(id, "/", 3)
	if len(parts) != 3 || parts[1] == "" || parts[2] == "" || (parts[0] != KeyAdmin && parts[0] != KeyPassport && parts[0] != KeySession) {
		return "", "", "", errs.Errorf(errs.ErrUnauthenticated, "keyid %q: want admin/ORG/KEY, passport/ORG/DID or session/ORG/ID", id)
	}
	return parts[0], parts[1], parts[2], nil
}

// ContentDigest is the Content-Digest header value for body.
func ContentDigest(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
}

// SignatureBase builds the RFC 9421 signature base for the profile.
func SignatureBase(method, path, rawQuery, contentDigest, params string) []byte {
	var b strings.Builder
	b.WriteString(`"@method": `)
	b.WriteString(method)
	b.WriteString("\n\"@path\": ")
	b.WriteString(path)
	b.WriteString("\n\"@query\": ?")
	b.WriteString(rawQuery)
	b.WriteString("\n\"content-digest\": ")
	b.WriteString(contentDigest)
	b.WriteString("\n\"@signature-params\": ")
	b.WriteString(params)
	return []byte(b.String())
}

// SignRequest adds Content-Digest, Signature-Input and Signature headers to
// r for body (which the caller sends as r's body), signed by s as keyID.
func SignRequest(r *http.Request, body []byte, keyID string, s passport.Signer, now time.Time) error {
	return signRequest(r, body, keyID, s.Sign, now)
}

// SignRequestHMAC is SignRequest for a session: the same components and
// parameters, keyid the session's key id, and the signature
// HMAC-SHA256(key, signature base) (RFC 9421 hmac-sha256).
func SignRequestHMAC(r *http.Request, body []byte, sessionKeyID string, key []byte, now time.Time) error {
	return signRequest(r, body, sessionKeyID, func(base []byte) ([]byte, error) { return HMACSHA256(key, base), nil }, now)
}

// HMACSHA256 is the hmac-sha256 signature of base under key.
func HMACSHA256(key, base []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(base)
	return m.Sum(nil)
}

func signRequest(r *http.Request, body []byte, keyID string, sign func([]byte) ([]byte, error), now time.Time) error {
	var nb [16]byte
	if _, err := rand.Read(nb[:]); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "nonce: %w", err)
	}
	nonce := base64.RawURLEncoding.EncodeToString(nb[:])
	params := SigComponents + ";created=" + strconv.FormatInt(now.Unix(), 10) +
		`;nonce="` + nonce + `";keyid="` + keyID + `"`
	digest := ContentDigest(body)
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	sig, err := sign(SignatureBase(r.Method, path, r.URL.RawQuery, digest, params))
	if err != nil {
		return err
	}
	r.Header.Set("Content-Digest", digest)
	r.Header.Set("Signature-Input", SigLabel+"="+params)
	r.Header.Set("Signature", SigLabel+"=:"+base64.StdEncoding.EncodeToString(sig)+":")
	return nil
}

// HasSignature reports whether h carries any signature header.
func HasSignature(h http.Header) bool {
	return h.Get("Signature") != "" || h.Get("Signature-Input") != ""
}

// ParseSigned parses the signature headers of a request for method, path
// (escaped) and raw query. Any deviation from the profile is an error
// wrapping errs.ErrUnauthenticated.
func ParseSigned(h http.Header, method, path, rawQuery string) (*Signed, error) {
	bad := func(format string, args ...any) (*Signed, error) {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "signature: "+format, args...)
	}
	if len(h.Values("Signature-Input")) != 1 || len(h.Values("Signature")) != 1 || len(h.Values("Content-Digest")) != 1 {
		return bad("want exactly one Signature-Input, Signature and Content-Digest header")
	}
	in, sigh, cd := h.Get("Signature-Input"), h.Get("Signature"), h.Get("Content-Digest")
	if len(in) > MaxSigHeader || len(sigh) > MaxSigHeader || len(cd) > MaxSigHeader {
		return bad("header too long")
	}
	params, ok := strings.CutPrefix(in, SigLabel+"="+SigComponents)
	if !ok {
		return bad("Signature-Input must be %s=%s;created=...;nonce=\"...\";keyid=\"...\"", SigLabel, SigComponents)
	}
	params = SigComponents + params
	s := &Signed{}
	rest := params[len(SigComponents):]
	for i, name := range []string{"created", "nonce", "keyid"} {
		var found bool
		rest, found = strings.CutPrefix(rest, ";"+name+"=")
		if !found {
			return bad("parameter %d must be %s", i+1, name)
		}
		if name == "created" {
			end := strings.IndexByte(rest, ';')
			if end < 0 {
				return bad("created is not followed by nonce")
			}
			n, err := strconv.ParseInt(rest[:end], 10, 64)
			if err != nil || n < 0 || strconv.FormatInt(n, 10) != rest[:end] {
				return bad("created %q is not a canonical integer", rest[:end])
			}
			s.Created = time.Unix(n, 0)
			rest = rest[end:]
			continue
		}
		val, after, err := sfString(rest)
		if err != nil {
			return bad("%s: %v", name, err)
		}
		if name == "nonce" {
			s.Nonce = val
		} else {
			s.KeyID = val
		}
		rest = after
	}
	if rest != "" {
		return bad("unexpected parameters %q", rest)
	}
	if len(s.Nonce) < 16 || len(s.Nonce) > 64 {
		return bad("nonce must be 16 to 64 characters")
	}
	var err error
	if s.Kind, s.Org, s.Subject, err = ParseKeyID(s.KeyID); err != nil {
		return nil, err
	}
	enc, ok := strings.CutPrefix(sigh, SigLabel+"=:")
	if !ok || !strings.HasSuffix(enc, ":") {
		return bad("Signature must be %s=:base64:", SigLabel)
	}
	if s.Signature, err = base64.StdEncoding.DecodeString(strings.TrimSuffix(enc, ":")); err != nil || len(s.Signature) == 0 {
		return bad("Signature is not base64")
	}
	denc, ok := strings.CutPrefix(cd, "sha-256=:")
	if !ok || !strings.HasSuffix(denc, ":") {
		return bad("Content-Digest must be sha-256=:base64:")
	}
	if s.Digest, err = base64.StdEncoding.DecodeString(strings.TrimSuffix(denc, ":")); err != nil || len(s.Digest) != sha256.Size {
		return bad("Content-Digest is not a base64 SHA-256")
	}
	s.Base = SignatureBase(method, path, rawQuery, cd, params)
	return s, nil
}

// sfString parses an RFC 8941 string at the start of s (printable ASCII,
// with \" and \\ escapes) and returns it and what follows.
func sfString(s string) (string, string, error) {
	if len(s) == 0 || s[0] != '"' {
		return "", "", errs.Errorf(errs.ErrUnauthenticated, "want a quoted string")
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) || (s[i+1] != '"' && s[i+1] != '\\') {
				return "", "", errs.Errorf(errs.ErrUnauthenticated, "bad escape")
			}
			i++
			b.WriteByte(s[i])
		case c == '"':
			return b.String(), s[i+1:], nil
		case c < 0x20 || c > 0x7e:
			return "", "", errs.Errorf(errs.ErrUnauthenticated, "non-printable character")
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errs.Errorf(errs.ErrUnauthenticated, "unterminated string")
}
