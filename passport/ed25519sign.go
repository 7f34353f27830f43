package passport

import (
	"crypto/sha512"
	"sync"

	"filippo.io/edwards25519"
)

// ed25519Expanded is an Ed25519 private key expanded once (RFC 8032
// section 5.1.5): the secret scalar, the nonce prefix and the public key.
type ed25519Expanded struct {
	s      edwards25519.Scalar
	prefix [32]byte
	pub    [32]byte
}

// expanded returns s's expanded key, computing it on first use.
func (s *Ed25519Signer) expanded() *ed25519Expanded {
	s.expandOnce.Do(func() {
		h := sha512.Sum512(s.priv[:32])
		x := &ed25519Expanded{}
		if _, err := x.s.SetBytesWithClamping(h[:32]); err != nil {
			panic("passport: ed25519 clamping: " + err.Error()) // 32 bytes: cannot happen
		}
		copy(x.prefix[:], h[32:])
		copy(x.pub[:], s.priv[32:])
		s.expand = x
	})
	return s.expand
}

// sign is Sign over the expanded key (crypto/ed25519 expands the key on
// every call: ~15% of a signature).
func (s *Ed25519Signer) sign(message []byte) []byte {
	x := s.expanded()
	var digest [64]byte
	h := sha512.New()
	h.Write(x.prefix[:])
	h.Write(message)
	h.Sum(digest[:0])
	var r, k, sc edwards25519.Scalar
	if _, err := r.SetUniformBytes(digest[:]); err != nil {
		panic("passport: ed25519 nonce: " + err.Error()) // 64 bytes: cannot happen
	}
	var R edwards25519.Point
	R.ScalarBaseMult(&r)
	sig := make([]byte, 64)
	copy(sig, R.Bytes())
	h.Reset()
	h.Write(sig[:32])
	h.Write(x.pub[:])
	h.Write(message)
	h.Sum(digest[:0])
	if _, err := k.SetUniformBytes(digest[:]); err != nil {
		panic("passport: ed25519 challenge: " + err.Error()) // 64 bytes: cannot happen
	}
	sc.MultiplyAdd(&k, &x.s, &r)
	copy(sig[32:], sc.Bytes())
	return sig
}

// ed25519SignerState is the expanded key an Ed25519Signer keeps, computed
// on first use.
type ed25519SignerState struct {
	expandOnce sync.Once
	expand     *ed25519Expanded
}
