package passport

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/hdevalence/ed25519consensus"

	"github.com/humanos/human/errs"
)

// Suite names a signature algorithm.
type Suite string

// The signature suites. Verifying any of them needs only the public key
// and the signature; no suite consults a server or a clock.
const (
	// SuiteEd25519 is Ed25519 (RFC 8032): a 32-byte key, 64-byte
	// signatures over the message itself, verified under the ZIP-215 rules
	// (see the package documentation).
	SuiteEd25519 Suite = "ed25519"
	// SuiteES256 is ECDSA on P-256 with SHA-256: the key is the 65-byte
	// uncompressed SEC 1 point, signatures are ASN.1 DER (what AWS KMS,
	// PKCS #11 tokens and WebAuthn authenticators produce).
	SuiteES256 Suite = "es256"
	// SuiteWebAuthn is a passkey: a P-256 credential key bound to its
	// relying party. Its signatures are WebAuthn assertions (see
	// [WebAuthnAssertion]) whose challenge is the SHA-256 of the signed
	// message; the key material is described at [NewWebAuthnKey].
	SuiteWebAuthn Suite = "webauthn-es256"
)

// PublicKey is the public half of a device, agent or org key. It is all the
// library ever holds of a human's key.
type PublicKey struct {
	Suite Suite  `json:"suite"`
	Key   []byte `json:"key"`
}

// String encodes the key as "suite:base64url", the form used in documents.
func (k PublicKey) String() string {
	return string(k.Suite) + ":" + base64.RawURLEncoding.EncodeToString(k.Key)
}

// ID is a short stable identifier of the key: the first 16 bytes of the
// SHA-256 of its String form, base64url-encoded. It names the key in
// envelope signatures.
func (k PublicKey) ID() string {
	var buf [keyIDLen]byte
	return string(k.appendID(buf[:0]))
}

// keyIDLen is the length of a key ID: 16 bytes in unpadded base64.
const keyIDLen = 22

// appendID appends the key's ID to dst, without allocating for the usual
// key sizes (verification compares IDs on every envelope signature).
func (k PublicKey) appendID(dst []byte) []byte {
	var buf [128]byte
	s := append(buf[:0], k.Suite...)
	s = append(s, ':')
	s = base64.RawURLEncoding.AppendEncode(s, k.Key)
	sum := sha256.Sum256(s)
	return base64.RawURLEncoding.AppendEncode(dst, sum[:16])
}

// ParsePublicKey decodes the String form of a key.
func ParsePublicKey(s string) (PublicKey, error) {
	suite, enc, ok := strings.Cut(s, ":")
	if !ok {
		return PublicKey{}, errs.Errorf(errs.ErrInvalidArgument, "public key %q: want suite:base64url", s)
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return PublicKey{}, errs.Errorf(errs.ErrInvalidArgument, "public key %q: %v", s, err)
	}
	k := PublicKey{Suite: Suite(suite), Key: raw}
	return k, k.Validate()
}

// Validate reports whether the key is well formed for its suite, with an
// error wrapping errs.ErrInvalidArgument when it is not. An Ed25519 key
// must not have small order: such a key (one of the 8 torsion points, in
// any of its 14 encodings) "verifies" signatures anyone can forge under the
// ZIP-215 rules, so it is refused wherever a key is declared, parsed or
// used, and no signature by it verifies.
func (k PublicKey) Validate() error {
	switch k.Suite {
	case SuiteEd25519:
		if len(k.Key) != ed25519.PublicKeySize {
			return errs.Errorf(errs.ErrInvalidArgument, "ed25519 public key has %d bytes, want %d", len(k.Key), ed25519.PublicKeySize)
		}
		if isSmallOrderEd25519(k.Key) {
			return errs.Errorf(errs.ErrInvalidArgument, "ed25519 public key %x has small order (a torsion point, [8]A = 0): it would verify signatures nobody made", k.Key)
		}
		return nil
	case SuiteES256:
		_, err := parseP256(k.Key)
		return err
	case SuiteWebAuthn:
		_, err := parseWebAuthnKey(k.Key)
		return err
	default:
		return errs.Errorf(errs.ErrInvalidArgument, "unknown signature suite %q", k.Suite)
	}
}

// Verify checks sig over message with this key. It returns nil only for a
// valid signature, and an error wrapping errs.ErrUnauthenticated otherwise.
// Ed25519 signatures are judged by the ZIP-215 rules.
func (k PublicKey) Verify(message, sig []byte) error { return k.verify(message, sig, nil) }

// verify is Verify that, for Ed25519 and a non-nil b, records the check in
// b and returns nil (see sigBatch).
func (k PublicKey) verify(message, sig []byte, b *sigBatch) error {
	if err := k.Validate(); err != nil {
		return err
	}
	switch k.Suite {
	case SuiteEd25519:
		if b.add(k.Key, message, sig) {
			return nil
		}
		if !ed25519consensus.Verify(ed25519.PublicKey(k.Key), message, sig) {
			return errs.Errorf(errs.ErrUnauthenticated, "ed25519 signature by key %s does not verify", k.ID())
		}
		return nil
	case SuiteES256:
		pub, _ := parseP256(k.Key)
		sum := sha256.Sum256(message)
		if !ecdsa.VerifyASN1(pub, sum[:], sig) {
			return errs.Errorf(errs.ErrUnauthenticated, "es256 signature by key %s does not verify", k.ID())
		}
		return nil
	case SuiteWebAuthn:
		wk, _ := parseWebAuthnKey(k.Key)
		if err := wk.verify(message, sig); err != nil {
			return errs.Errorf(errs.ErrUnauthenticated, "webauthn assertion by key %s does not verify: %v", k.ID(), err)
		}
		return nil
	}
	return errs.Errorf(errs.ErrInvalidArgument, "unknown signature suite %q", k.Suite)
}

// Equal reports whether two keys are the same.
func (k PublicKey) Equal(o PublicKey) bool {
	return k.Suite == o.Suite && string(k.Key) == string(o.Key)
}

// Signer signs with a private key the caller holds: a device (passkey,
// secure enclave, local key file), an agent runtime or an org signer. The
// library never sees a human's private key; it only asks a Signer to sign.
type Signer interface {
	// PublicKey returns the key that verifies this signer's signatures.
	PublicKey() PublicKey
	// Sign returns a signature over message.
	Sign(message []byte) ([]byte, error)
}

// Ed25519Signer is a Signer over an in-process Ed25519 private key: what a
// device, an agent runtime or a CLI key file holds.
type Ed25519Signer struct {
	priv               ed25519.PrivateKey
	ed25519SignerState // the key expanded once (ed25519sign.go)
}

// NewEd25519Signer wraps a private key. It panics if the key is not
// ed25519.PrivateKeySize bytes long.
func NewEd25519Signer(priv ed25519.PrivateKey) *Ed25519Signer {
	if len(priv) != ed25519.PrivateKeySize {
		panic(fmt.Sprintf("passport: ed25519 private key has %d bytes", len(priv)))
	}
	return &Ed25519Signer{priv: priv}
}

// GenerateEd25519 makes a fresh key pair from crypto/rand. Call it on the
// device that will hold the key, never on a server for a human.
func GenerateEd25519() (*Ed25519Signer, error) {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	return &Ed25519Signer{priv: priv}, nil
}

// PublicKey implements Signer.
func (s *Ed25519Signer) PublicKey() PublicKey {
	return PublicKey{Suite: SuiteEd25519, Key: []byte(s.priv.Public().(ed25519.PublicKey))}
}

// Sign implements Signer: an RFC 8032 Ed25519 signature, the bytes
// crypto/ed25519.Sign makes, over the key expanded once (ed25519sign.go).
func (s *Ed25519Signer) Sign(message []byte) ([]byte, error) {
	return s.sign(message), nil
}

// PrivateKey returns the wrapped key, for callers that persist their own
// device key (a CLI key file) or build a checkpoint signer from an org key.
func (s *Ed25519Signer) PrivateKey() ed25519.PrivateKey { return s.priv }

// parseP256 decodes an uncompressed SEC 1 P-256 point, rejecting points
// off the curve.
func parseP256(b []byte) (*ecdsa.PublicKey, error) {
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), b)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "es256 public key: %v", err)
	}
	return pub, nil
}

// ES256Signer is a Signer over an in-process ECDSA P-256 private key.
type ES256Signer struct {
	priv *ecdsa.PrivateKey
}

// NewES256Signer wraps a P-256 private key. It returns
// errs.ErrInvalidArgument for a key on another curve.
func NewES256Signer(priv *ecdsa.PrivateKey) (*ES256Signer, error) {
	if priv == nil || priv.Curve != elliptic.P256() {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "es256 signer: want a P-256 private key")
	}
	return &ES256Signer{priv: priv}, nil
}

// GenerateES256 makes a fresh P-256 key pair from crypto/rand.
func GenerateES256() (*ES256Signer, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &ES256Signer{priv: priv}, nil
}

// ES256PublicKey returns the SuiteES256 form of an ECDSA P-256 public key.
func ES256PublicKey(pub *ecdsa.PublicKey) (PublicKey, error) {
	raw, err := pub.Bytes()
	if err != nil {
		return PublicKey{}, errs.Errorf(errs.ErrInvalidArgument, "es256 public key: %v", err)
	}
	k := PublicKey{Suite: SuiteES256, Key: raw}
	return k, k.Validate()
}

// PublicKey implements Signer.
func (s *ES256Signer) PublicKey() PublicKey {
	raw, _ := s.priv.PublicKey.Bytes()
	return PublicKey{Suite: SuiteES256, Key: raw}
}

// Sign implements Signer: an ASN.1 DER signature over SHA-256(message).
func (s *ES256Signer) Sign(message []byte) ([]byte, error) {
	sum := sha256.Sum256(message)
	return ecdsa.SignASN1(rand.Reader, s.priv, sum[:])
}

// PrivateKey returns the wrapped key.
func (s *ES256Signer) PrivateKey() *ecdsa.PrivateKey { return s.priv }

// smallOrderEd25519 lists every 32-byte string that decodes (under the
// ZIP-215 decoding rules, which accept non-canonical encodings) to a point
// of order dividing 8: the 8 torsion points in canonical form, the identity
// and the point of order 2 with the sign bit set on x = 0, and y + p for
// y = 0 (the two points of order 4) and y = 1 (the identity, both signs).
// TestSmallOrderEncodings derives the list from the curve.
var smallOrderEd25519 = func() (t [14][32]byte) {
	for i, h := range [14]string{
		"0100000000000000000000000000000000000000000000000000000000000000", // identity
		"0100000000000000000000000000000000000000000000000000000000000080", // identity, sign bit on x = 0
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // identity, y = p+1
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // identity, y = p+1, sign bit
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2: (0, -1)
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // order 2, sign bit on x = 0
		"0000000000000000000000000000000000000000000000000000000000000000", // order 4: y = 0
		"0000000000000000000000000000000000000000000000000000000000000080", // order 4: y = 0, the other x
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 4: y = p
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // order 4: y = p, the other x
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
	} {
		if _, err := hex.Decode(t[i][:], []byte(h)); err != nil {
			panic(err)
		}
	}
	return t
}()

// isSmallOrderEd25519 reports whether a 32-byte key decodes to a point of
// small order. A table look-up rather than decoding and multiplying by 8:
// it runs on every verification.
func isSmallOrderEd25519(key []byte) bool {
	k := [32]byte(key)
	for i := range smallOrderEd25519 {
		if k == smallOrderEd25519[i] {
			return true
		}
	}
	return false
}
