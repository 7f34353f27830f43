package passport_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/humanos/human/passport"
)

// TestEd25519SignMatchesStdlib checks that Ed25519Signer.Sign (the key
// expanded once) returns exactly the signature crypto/ed25519 makes, over
// many keys and messages of every length up to 700 bytes, on fresh and
// reused signers.
func TestEd25519SignMatchesStdlib(t *testing.T) {
	for k := range 16 {
		signer, err := passport.GenerateEd25519()
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < 700; n += 1 + n/3 + k {
			m := make([]byte, n)
			rand.Read(m)
			got, err := signer.Sign(m)
			if err != nil {
				t.Fatal(err)
			}
			if want := ed25519.Sign(signer.PrivateKey(), m); !bytes.Equal(got, want) {
				t.Fatalf("key %d, %d-byte message: Sign = %x, ed25519.Sign = %x", k, n, got, want)
			}
		}
	}
}

// TestEd25519SignRFC8032 signs the RFC 8032 section 7.1 test vectors.
func TestEd25519SignRFC8032(t *testing.T) {
	for _, v := range []struct{ seed, msg, sig string }{
		{"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "",
			"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
		{"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", "72",
			"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
		{"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7", "af82",
			"6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
	} {
		seed, _ := hex.DecodeString(v.seed)
		msg, _ := hex.DecodeString(v.msg)
		want, _ := hex.DecodeString(v.sig)
		signer := passport.NewEd25519Signer(ed25519.NewKeyFromSeed(seed))
		for range 2 { // the first call expands the key, the second reuses it
			if got, _ := signer.Sign(msg); !bytes.Equal(got, want) {
				t.Errorf("seed %s: %x, want %x", v.seed[:8], got, want)
			}
		}
	}
}

// FuzzEd25519Sign checks Sign against crypto/ed25519 on any seed and
// message.
func FuzzEd25519Sign(f *testing.F) {
	f.Add(make([]byte, 32), []byte("a"))
	f.Fuzz(func(t *testing.T, seed, m []byte) {
		if len(seed) != ed25519.SeedSize {
			return
		}
		signer := passport.NewEd25519Signer(ed25519.NewKeyFromSeed(seed))
		if got, _ := signer.Sign(m); !bytes.Equal(got, ed25519.Sign(signer.PrivateKey(), m)) {
			t.Fatalf("Sign(%x) differs from ed25519.Sign", m)
		}
	})
}

// BenchmarkEd25519Sign compares Sign with crypto/ed25519.Sign (the
// baseline, which expands the key on every call) on an 800-byte message,
// the size of a DSSE-encoded decision attestation. Run with -cpu 1.
func BenchmarkEd25519Sign(b *testing.B) {
	signer, err := passport.GenerateEd25519()
	if err != nil {
		b.Fatal(err)
	}
	msg := bytes.Repeat([]byte{7}, 800)
	b.Run("baseline-crypto-ed25519", func(b *testing.B) {
		for range b.N {
			ed25519.Sign(signer.PrivateKey(), msg)
		}
	})
	b.Run("sign", func(b *testing.B) {
		for range b.N {
			if _, err := signer.Sign(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
}
