package passport

import (
	"crypto/ed25519"
	"encoding/hex"
	"math/big"
	"testing"
)

// TestZIP215SingleBatchAgree: on ZIP-215's edge cases (small-order keys
// and R, non-canonical encodings of A and R, S >= L) single verification
// (PublicKey.Verify) and batch verification (the sigBatch a cold chain
// uses) give the same answer, alone and mixed with valid signatures, on
// every run of the randomised batch. S >= L is always rejected.
func TestZIP215SingleBatchAgree(t *testing.T) {
	const (
		identity        = "0100000000000000000000000000000000000000000000000000000000000000"
		identityNonCan  = "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f" // y = p+1
		identitySignBit = "0100000000000000000000000000000000000000000000000000000000000080" // x = 0 with the sign bit set
		order8          = "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"
		order2NonCan    = "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff" // (0, -1) with the sign bit set
		zeroS           = "0000000000000000000000000000000000000000000000000000000000000000"
		// L, the group order, little-endian: the smallest S that must be rejected.
		orderL = "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010"
	)
	msg := []byte("Zcash")
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	good := NewEd25519Signer(priv)
	goodSig, _ := good.Sign(msg)
	malleable := addL(goodSig)
	flipped := append([]byte(nil), goodSig...)
	flipped[5] ^= 1
	highBits := append([]byte(nil), goodSig...)
	highBits[63] |= 0xe0

	for _, c := range []struct {
		name     string
		key, sig []byte
		want     bool
	}{
		{"valid", good.PublicKey().Key, goodSig, true},
		{"small-order key and R, S=0", unhexT(t, identity), unhexT(t, identity+zeroS), true},
		{"non-canonical small-order key", unhexT(t, identityNonCan), unhexT(t, identity+zeroS), true},
		{"small-order key with sign bit on x=0", unhexT(t, identitySignBit), unhexT(t, order8+zeroS), true},
		{"order-8 key, non-canonical R", unhexT(t, order8), unhexT(t, order2NonCan+zeroS), true},
		{"S = L", unhexT(t, identity), unhexT(t, identity+orderL), false},
		{"S + L of a valid signature", good.PublicKey().Key, malleable, false},
		{"S with its top bits set", good.PublicKey().Key, highBits, false},
		{"flipped bit", good.PublicKey().Key, flipped, false},
		{"short signature", good.PublicKey().Key, goodSig[:63], false},
	} {
		t.Run(c.name, func(t *testing.T) {
			key := PublicKey{Suite: SuiteEd25519, Key: c.key}
			single := key.Verify(msg, c.sig) == nil
			if single != c.want {
				t.Fatalf("single verification says %v, ZIP-215 says %v", single, c.want)
			}
			for run := range 16 {
				b := newSigBatch()
				if err := key.verify(msg, c.sig, b); err != nil {
					t.Fatalf("collect mode: %v", err)
				}
				if got := b.verify(); got != single {
					t.Fatalf("run %d: batch of one says %v, single %v", run, got, single)
				}
				// Among valid signatures the batch holds exactly when this one does.
				b = newSigBatch()
				_ = good.PublicKey().verify(msg, goodSig, b)
				_ = key.verify(msg, c.sig, b)
				_ = good.PublicKey().verify(msg, goodSig, b)
				if got := b.verify(); got != single {
					t.Fatalf("run %d: mixed batch says %v, single %v", run, got, single)
				}
			}
		})
	}
}

// addL returns sig with L added to its S: the same signature under
// cofactorless arithmetic, a classic malleability that must be rejected.
func addL(sig []byte) []byte {
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	le := func(b []byte) *big.Int {
		r := make([]byte, len(b))
		for i := range b {
			r[len(b)-1-i] = b[i]
		}
		return new(big.Int).SetBytes(r)
	}
	s := new(big.Int).Add(le(sig[32:]), l)
	be := s.FillBytes(make([]byte, 32))
	out := append([]byte(nil), sig[:32]...)
	for i := range be {
		out = append(out, be[31-i])
	}
	return out
}

func unhexT(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
