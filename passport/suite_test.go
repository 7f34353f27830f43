package passport_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// TestRFC8032Vectors checks the Ed25519 suite against RFC 8032 §7.1,
// tests 1 to 3 and SHA(abc).
func TestRFC8032Vectors(t *testing.T) {
	for _, v := range []struct{ name, secret, public, msg, sig string }{
		{"test 1",
			"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
			"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
			"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
		{"test 2",
			"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
			"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
			"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
		{"test 3",
			"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
			"fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
			"6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
		{"SHA(abc)",
			"833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
			"ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
			"ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
			"dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"},
	} {
		t.Run(v.name, func(t *testing.T) {
			seed, pub, msg, sig := unhex(t, v.secret), unhex(t, v.public), unhex(t, v.msg), unhex(t, v.sig)
			s := passport.NewEd25519Signer(ed25519.NewKeyFromSeed(seed))
			if got := s.PublicKey(); string(got.Key) != string(pub) {
				t.Fatalf("public key %x, want %x", got.Key, pub)
			}
			got, _ := s.Sign(msg)
			if string(got) != string(sig) {
				t.Fatalf("signature %x, want %x", got, sig)
			}
			key := passport.PublicKey{Suite: passport.SuiteEd25519, Key: pub}
			if err := key.Verify(msg, sig); err != nil {
				t.Fatalf("vector does not verify: %v", err)
			}
			bad := append([]byte(nil), sig...)
			bad[0] ^= 1
			if err := key.Verify(msg, bad); !errors.Is(err, errs.ErrUnauthenticated) {
				t.Fatalf("flipped signature: %v", err)
			}
		})
	}
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestES256Suite(t *testing.T) {
	s, err := passport.GenerateES256()
	if err != nil {
		t.Fatal(err)
	}
	env, err := passport.Seal("application/x-test", []byte("payload"), s)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.VerifiedBy(s.PublicKey()); err != nil {
		t.Fatal(err)
	}
	back, err := passport.ParsePublicKey(s.PublicKey().String())
	if err != nil || !back.Equal(s.PublicKey()) {
		t.Fatalf("round trip: %v", err)
	}
	other, _ := passport.GenerateES256()
	if err := env.VerifiedBy(other.PublicKey()); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Fatalf("other key verifies: %v", err)
	}
	// A point off the curve is not a key.
	bad := passport.PublicKey{Suite: passport.SuiteES256, Key: append([]byte{4}, make([]byte, 64)...)}
	if err := bad.Validate(); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Fatalf("off-curve point: %v", err)
	}
	// An ES256 passport: inception by a P-256 device key.
	inc, err := passport.NewInception(passport.KindHuman, "p256", t0, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := passport.Replay([]*passport.Envelope{inc}, t0); err != nil {
		t.Fatal(err)
	}
}

// fakePasskey is a software WebAuthn authenticator for unit tests: it
// builds assertions exactly as the spec lays them out, and can be told to
// misbehave. (Ceremony tests with virtualwebauthn and a real browser live
// in passport/passkey.)
type fakePasskey struct {
	priv   *ecdsa.PrivateKey
	rpID   string
	origin string
	flags  byte
	typ    string
	cross  bool
}

func newFakePasskey(t testing.TB) *fakePasskey {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &fakePasskey{priv: priv, rpID: "example.com", origin: "https://example.com", flags: passport.FlagUserPresent | passport.FlagUserVerified, typ: "webauthn.get"}
}

func (f *fakePasskey) key(t testing.TB, requireUV bool) passport.PublicKey {
	point, _ := f.priv.PublicKey.Bytes()
	k, err := passport.NewWebAuthnKey(point, "example.com", requireUV)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (f *fakePasskey) assert(challenge []byte) *passport.WebAuthnAssertion {
	rp := sha256.Sum256([]byte(f.rpID))
	ad := append(rp[:], f.flags, 0, 0, 0, 7)
	cd, _ := json.Marshal(map[string]any{"type": f.typ, "challenge": base64.RawURLEncoding.EncodeToString(challenge), "origin": f.origin, "crossOrigin": f.cross})
	cdh := sha256.Sum256(cd)
	h := sha256.Sum256(append(append([]byte(nil), ad...), cdh[:]...))
	sig, _ := ecdsa.SignASN1(rand.Reader, f.priv, h[:])
	return &passport.WebAuthnAssertion{AuthenticatorData: ad, ClientDataJSON: cd, Signature: sig}
}

func (f *fakePasskey) signer(t testing.TB, requireUV bool) *passport.WebAuthnSigner {
	return &passport.WebAuthnSigner{Key: f.key(t, requireUV), Assert: func(c []byte) (*passport.WebAuthnAssertion, error) { return f.assert(c), nil }}
}

func TestWebAuthnSuite(t *testing.T) {
	msg := passport.PAE("application/x-test", []byte("approve task 42"))
	good := func(f *fakePasskey) {}
	cases := []struct {
		name      string
		requireUV bool
		mutate    func(*fakePasskey)
		challenge []byte // nil: the right one
		tamper    func(*passport.WebAuthnAssertion)
		ok        bool
	}{
		{"valid", true, good, nil, nil, true},
		{"valid on a subdomain origin", false, func(f *fakePasskey) { f.origin = "https://login.example.com" }, nil, nil, true},
		{"UV missing when required", true, func(f *fakePasskey) { f.flags = passport.FlagUserPresent }, nil, nil, false},
		{"UV missing, not required", false, func(f *fakePasskey) { f.flags = passport.FlagUserPresent }, nil, nil, true},
		{"no user presence", false, func(f *fakePasskey) { f.flags = passport.FlagUserVerified }, nil, nil, false},
		{"other relying party", false, func(f *fakePasskey) { f.rpID = "evil.com" }, nil, nil, false},
		{"origin outside the RP ID", false, func(f *fakePasskey) { f.origin = "https://example.com.evil.com" }, nil, nil, false},
		{"plain http origin", false, func(f *fakePasskey) { f.origin = "http://example.com" }, nil, nil, false},
		{"registration client data", false, func(f *fakePasskey) { f.typ = "webauthn.create" }, nil, nil, false},
		{"cross-origin iframe", false, func(f *fakePasskey) { f.cross = true }, nil, nil, false},
		{"challenge of other bytes", false, good, passport.WebAuthnChallenge([]byte("approve task 43")), nil, false},
		{"tampered signature", false, good, nil, func(a *passport.WebAuthnAssertion) { a.Signature[len(a.Signature)-1] ^= 1 }, false},
		{"tampered authenticator data", false, good, nil, func(a *passport.WebAuthnAssertion) { a.AuthenticatorData[36] ^= 1 }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakePasskey(t)
			key := f.key(t, tc.requireUV)
			tc.mutate(f)
			ch := tc.challenge
			if ch == nil {
				ch = passport.WebAuthnChallenge(msg)
			}
			a := f.assert(ch)
			if tc.tamper != nil {
				tc.tamper(a)
			}
			err := key.Verify(msg, a.Marshal())
			if tc.ok && err != nil {
				t.Fatalf("does not verify: %v", err)
			}
			if !tc.ok && !errors.Is(err, errs.ErrUnauthenticated) {
				t.Fatalf("got %v, want ErrUnauthenticated", err)
			}
		})
	}
}

// A passkey signs passport events and envelopes through the same
// VerifiedBy path as every other suite.
func TestWebAuthnPassport(t *testing.T) {
	f := newFakePasskey(t)
	s := f.signer(t, true)
	inc, err := passport.NewInception(passport.KindHuman, "passkey human", t0, s)
	if err != nil {
		t.Fatal(err)
	}
	p, err := passport.Replay([]*passport.Envelope{inc}, t0)
	if err != nil {
		t.Fatalf("passkey inception does not replay: %v", err)
	}
	env, _ := passport.Seal("application/x-vote", []byte("yes"))
	if err := env.AddAssertion(s.Key, f.assert(env.Challenge())); err != nil {
		t.Fatal(err)
	}
	if err := env.VerifiedBy(p.Keys[0]); err != nil {
		t.Fatal(err)
	}
	// An assertion over another envelope is refused and not attached.
	other, _ := passport.Seal("application/x-vote", []byte("no"))
	if err := other.AddAssertion(s.Key, f.assert(env.Challenge())); !errors.Is(err, errs.ErrUnauthenticated) || len(other.Signatures) != 0 {
		t.Fatalf("replayed assertion attached: %v", err)
	}
	rp, uv, _, err := passport.WebAuthnKeyInfo(s.Key)
	if err != nil || rp != "example.com" || !uv {
		t.Fatalf("key info %q %v %v", rp, uv, err)
	}
}

func TestWebAuthnKeyRejects(t *testing.T) {
	f := newFakePasskey(t)
	point, _ := f.priv.PublicKey.Bytes()
	for name, rpID := range map[string]string{"empty": "", "upper": "Example.com", "dots": "a..b", "space": "a b"} {
		if _, err := passport.NewWebAuthnKey(point, rpID, false); !errors.Is(err, errs.ErrInvalidArgument) {
			t.Errorf("%s RP ID: %v", name, err)
		}
	}
	if _, err := passport.NewWebAuthnKey(point[:64], "example.com", false); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Errorf("short point: %v", err)
	}
}
