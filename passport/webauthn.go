package passport

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/humanos/human/errs"
)

// Authenticator data flags (WebAuthn §6.1) that a key can require.
const (
	// FlagUserPresent (UP): someone touched the authenticator.
	FlagUserPresent byte = 0x01
	// FlagUserVerified (UV): the authenticator verified the user (PIN,
	// biometrics).
	FlagUserVerified byte = 0x04
)

const (
	p256PointLen = 65
	maxRPIDLen   = 253
)

// webAuthnKey is the decoded key material of SuiteWebAuthn.
type webAuthnKey struct {
	required byte // flags every assertion must carry
	pub      *ecdsa.PublicKey
	rpID     string
	rpIDHash [32]byte
}

// NewWebAuthnKey returns the SuiteWebAuthn key of a passkey: its P-256
// credential public key (the 65-byte uncompressed SEC 1 point), the relying
// party ID it is scoped to, and whether every assertion must carry user
// verification. The key material is one byte of required flags, the point,
// then the RP ID, so that verifying an assertion needs nothing but the key.
// Errors wrap errs.ErrInvalidArgument.
func NewWebAuthnKey(point []byte, rpID string, requireUV bool) (PublicKey, error) {
	flags := FlagUserPresent
	if requireUV {
		flags |= FlagUserVerified
	}
	key := make([]byte, 0, 1+len(point)+len(rpID))
	key = append(key, flags)
	key = append(key, point...)
	key = append(key, rpID...)
	k := PublicKey{Suite: SuiteWebAuthn, Key: key}
	return k, k.Validate()
}

// WebAuthnKeyInfo describes a SuiteWebAuthn key: its RP ID, whether it
// requires user verification, and its credential point.
func WebAuthnKeyInfo(k PublicKey) (rpID string, requireUV bool, point []byte, err error) {
	if k.Suite != SuiteWebAuthn {
		return "", false, nil, errs.Errorf(errs.ErrInvalidArgument, "key suite %q is not %q", k.Suite, SuiteWebAuthn)
	}
	wk, err := parseWebAuthnKey(k.Key)
	if err != nil {
		return "", false, nil, err
	}
	return wk.rpID, wk.required&FlagUserVerified != 0, bytes.Clone(k.Key[1 : 1+p256PointLen]), nil
}

func parseWebAuthnKey(b []byte) (*webAuthnKey, error) {
	if len(b) < 1+p256PointLen+1 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "webauthn key: %d bytes, want flags, a 65-byte P-256 point and an RP ID", len(b))
	}
	flags := b[0]
	if flags&FlagUserPresent == 0 || flags&^(FlagUserPresent|FlagUserVerified) != 0 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "webauthn key: required flags %#02x, want UP with optional UV", flags)
	}
	pub, err := parseP256(b[1 : 1+p256PointLen])
	if err != nil {
		return nil, err
	}
	rpID := string(b[1+p256PointLen:])
	if err := validRPID(rpID); err != nil {
		return nil, err
	}
	return &webAuthnKey{required: flags, pub: pub, rpID: rpID, rpIDHash: sha256.Sum256([]byte(rpID))}, nil
}

// validRPID accepts a lowercase DNS name (a WebAuthn RP ID is a domain).
func validRPID(s string) error {
	if s == "" || len(s) > maxRPIDLen || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return errs.Errorf(errs.ErrInvalidArgument, "webauthn key: RP ID %q is not a domain name", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '.' {
			return errs.Errorf(errs.ErrInvalidArgument, "webauthn key: RP ID %q is not a lowercase domain name", s)
		}
	}
	return nil
}

// WebAuthnAssertion is a passkey's signature: the authenticator data, the
// client data JSON and the ECDSA signature over
// authenticatorData || SHA-256(clientDataJSON), exactly as the browser's
// AuthenticatorAssertionResponse returns them. As an envelope signature
// (Signature.Sig) it is carried as its JSON encoding ([WebAuthnAssertion.Marshal]).
type WebAuthnAssertion struct {
	AuthenticatorData []byte `json:"authenticatorData"`
	ClientDataJSON    []byte `json:"clientDataJSON"`
	Signature         []byte `json:"signature"`
}

// Marshal returns the assertion's JSON encoding, the form envelopes carry.
func (a *WebAuthnAssertion) Marshal() []byte {
	b, _ := json.Marshal(a) // three byte slices cannot fail to encode
	return b
}

// ParseWebAuthnAssertion decodes the JSON form of an assertion, strictly
// (unknown fields and trailing data are errors). It verifies nothing.
// Errors wrap errs.ErrInvalidArgument.
func ParseWebAuthnAssertion(data []byte) (*WebAuthnAssertion, error) {
	var a WebAuthnAssertion
	if err := decodeStrict(data, &a); err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "webauthn assertion: %v", err)
	}
	if len(a.AuthenticatorData) < 37 || len(a.ClientDataJSON) == 0 || len(a.Signature) == 0 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "webauthn assertion: authenticatorData (>= 37 bytes), clientDataJSON and signature are required")
	}
	return &a, nil
}

// WebAuthnChallenge is the challenge a passkey must sign for message: its
// SHA-256. For an envelope, message is the PAE, so the assertion signs
// exactly the event, certificate or vote the envelope carries.
func WebAuthnChallenge(message []byte) []byte {
	sum := sha256.Sum256(message)
	return sum[:]
}

// Challenge returns the WebAuthn challenge for signing this envelope: the
// SHA-256 of its PAE.
func (e *Envelope) Challenge() []byte { return WebAuthnChallenge(PAE(e.PayloadType, e.Payload)) }

// AddAssertion verifies a passkey assertion over the envelope (made with
// [Envelope.Challenge] as the challenge) and appends it as the signature of
// key. It returns an error wrapping errs.ErrUnauthenticated, and changes
// nothing, if the assertion does not verify.
func (e *Envelope) AddAssertion(key PublicKey, a *WebAuthnAssertion) error {
	if key.Suite != SuiteWebAuthn {
		return errs.Errorf(errs.ErrInvalidArgument, "add assertion: key suite %q is not %q", key.Suite, SuiteWebAuthn)
	}
	sig := a.Marshal()
	if err := key.Verify(PAE(e.PayloadType, e.Payload), sig); err != nil {
		return err
	}
	e.Signatures = append(e.Signatures, Signature{KeyID: key.ID(), Sig: sig})
	return nil
}

// clientData holds the fields of clientDataJSON that verification reads;
// browsers add others, which are ignored as the specification requires.
type clientData struct {
	Type        string `json:"type"`
	Challenge   string `json:"challenge"`
	Origin      string `json:"origin"`
	CrossOrigin bool   `json:"crossOrigin"`
}

// verify checks an assertion (in its JSON form) over message: client data
// of type webauthn.get whose challenge is SHA-256(message) and whose
// origin belongs to the RP ID, authenticator data for that RP ID carrying
// the required flags, and the ECDSA signature.
func (k *webAuthnKey) verify(message, sig []byte) error {
	a, err := ParseWebAuthnAssertion(sig)
	if err != nil {
		return err
	}
	ad := a.AuthenticatorData
	if subtle.ConstantTimeCompare(ad[:32], k.rpIDHash[:]) != 1 {
		return fmt.Errorf("authenticator data is for another relying party than %q", k.rpID)
	}
	if flags := ad[32]; flags&k.required != k.required {
		return fmt.Errorf("authenticator flags %#02x lack the required %#02x (user presence/verification)", flags, k.required)
	}
	var cd clientData
	if err := json.Unmarshal(a.ClientDataJSON, &cd); err != nil {
		return fmt.Errorf("client data: %v", err)
	}
	if cd.Type != "webauthn.get" {
		return fmt.Errorf("client data type %q, want webauthn.get", cd.Type)
	}
	want := base64.RawURLEncoding.EncodeToString(WebAuthnChallenge(message))
	if subtle.ConstantTimeCompare([]byte(strings.TrimRight(cd.Challenge, "=")), []byte(want)) != 1 {
		return fmt.Errorf("client data challenge is not the hash of the signed bytes")
	}
	if cd.CrossOrigin {
		return fmt.Errorf("cross-origin assertion")
	}
	if err := originMatches(cd.Origin, k.rpID); err != nil {
		return err
	}
	cdHash := sha256.Sum256(a.ClientDataJSON)
	h := sha256.New()
	h.Write(ad)
	h.Write(cdHash[:])
	if !ecdsa.VerifyASN1(k.pub, h.Sum(nil), a.Signature) {
		return fmt.Errorf("signature does not verify")
	}
	return nil
}

// originMatches requires an https origin whose host is rpID or a subdomain
// of it; plain http only for localhost (a browser's secure context).
func originMatches(origin, rpID string) error {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("client data origin %q is not an origin", origin)
	}
	host := u.Hostname()
	if host != rpID && !strings.HasSuffix(host, "."+rpID) {
		return fmt.Errorf("origin %q is not within RP ID %q", origin, rpID)
	}
	if u.Scheme != "https" && (u.Scheme != "http" || host != "localhost") {
		return fmt.Errorf("origin %q: want https (http only on localhost)", origin)
	}
	return nil
}

// WebAuthnSigner is a Signer backed by a passkey: Sign asks Assert for an
// assertion whose challenge is WebAuthnChallenge(message) and returns its
// JSON form. Use it to sign passport events, delegations and approval votes
// (workforce.SignVote) with a passkey; Assert is where the browser, phone
// or virtual authenticator is asked.
type WebAuthnSigner struct {
	Key    PublicKey
	Assert func(challenge []byte) (*WebAuthnAssertion, error)
}

// PublicKey implements Signer.
func (s *WebAuthnSigner) PublicKey() PublicKey { return s.Key }

// Sign implements Signer.
func (s *WebAuthnSigner) Sign(message []byte) ([]byte, error) {
	a, err := s.Assert(WebAuthnChallenge(message))
	if err != nil {
		return nil, err
	}
	return a.Marshal(), nil
}
