package passport

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"math/big"
	"testing"

	"filippo.io/edwards25519"
	"github.com/hdevalence/ed25519consensus"

	"github.com/humanos/human/errs"
)

// zip215Case is one (key, signature) over zip215Msg and what ZIP-215 says.
type zip215Case struct {
	name     string
	key, sig []byte
	want     bool
}

var zip215Msg = []byte("Zcash")

// zip215Cases are ZIP-215's edge cases (small-order keys and R,
// non-canonical encodings of A and R, S >= L, torsion components) and
// plain valid and invalid signatures, all over zip215Msg. good is the
// signer of the valid ones.
func zip215Cases(t testing.TB) (good *Ed25519Signer, cases []zip215Case) {
	t.Helper()
	const (
		identity        = "0100000000000000000000000000000000000000000000000000000000000000"
		identityNonCan  = "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f" // y = p+1
		identitySignBit = "0100000000000000000000000000000000000000000000000000000000000080" // x = 0 with the sign bit set
		order8          = "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"
		order2NonCan    = "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff" // (0, -1) with the sign bit set
		notOnCurve      = "0200000000000000000000000000000000000000000000000000000000000000" // y = 2: no x
		zeroS           = "0000000000000000000000000000000000000000000000000000000000000000"
		// L, the group order, little-endian: the smallest S that must be rejected.
		orderL = "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010"
	)
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	good = NewEd25519Signer(priv)
	goodSig, _ := good.Sign(zip215Msg)
	flipped := append([]byte(nil), goodSig...)
	flipped[5] ^= 1
	highBits := append([]byte(nil), goodSig...)
	highBits[63] |= 0xe0
	torsionA, torsionASig := torsionSigned(t, zip215Msg, true, false)
	torsionR, torsionRSig := torsionSigned(t, zip215Msg, false, true)
	return good, []zip215Case{
		{"valid", good.PublicKey().Key, goodSig, true},
		{"key with a torsion component", torsionA, torsionASig, true},
		{"R with a torsion component", torsionR, torsionRSig, true},
		{"small-order key and R, S=0", unhexT(t, identity), unhexT(t, identity+zeroS), true},
		{"non-canonical small-order key", unhexT(t, identityNonCan), unhexT(t, identity+zeroS), true},
		{"small-order key with sign bit on x=0", unhexT(t, identitySignBit), unhexT(t, order8+zeroS), true},
		{"order-8 key, non-canonical R", unhexT(t, order8), unhexT(t, order2NonCan+zeroS), true},
		{"S = L", unhexT(t, identity), unhexT(t, identity+orderL), false},
		{"S + L of a valid signature", good.PublicKey().Key, addL(goodSig), false},
		{"S with its top bits set", good.PublicKey().Key, highBits, false},
		{"flipped bit", good.PublicKey().Key, flipped, false},
		{"R not on the curve", good.PublicKey().Key, append(unhexT(t, notOnCurve), goodSig[32:]...), false},
		{"key not on the curve", unhexT(t, notOnCurve), goodSig, false},
		{"short signature", good.PublicKey().Key, goodSig[:63], false},
		{"short key", good.PublicKey().Key[:31], goodSig, false},
	}
}

// TestZIP215SingleBatchAgree: on ZIP-215's edge cases single verification
// (ed25519consensus.Verify, what PublicKey.Verify runs) and the package's
// batch verifier give the same answer: alone, mixed with valid signatures
// by other keys, merged with valid signatures by the same key, and as
// duplicates, on every run of the randomised batch. S >= L is always
// rejected. Through PublicKey, a small-order key is refused before any of
// this (ErrInvalidArgument), in single and collect mode alike.
func TestZIP215SingleBatchAgree(t *testing.T) {
	good, cases := zip215Cases(t)
	goodSig, _ := good.Sign(zip215Msg)
	other := mustKeyT(t)
	otherSig, _ := other.Sign(zip215Msg)
	goodSig2, _ := good.Sign([]byte("another message"))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			single := ed25519consensus.Verify(ed25519.PublicKey(c.key), zip215Msg, c.sig)
			if single != c.want {
				t.Fatalf("single verification says %v, ZIP-215 says %v", single, c.want)
			}
			type sig struct{ key, msg, sig []byte }
			this := sig{c.key, zip215Msg, c.sig}
			g1 := sig{good.PublicKey().Key, zip215Msg, goodSig}
			g2 := sig{good.PublicKey().Key, []byte("another message"), goodSig2}
			o := sig{other.PublicKey().Key, zip215Msg, otherSig}
			// Same key as the case when it is good's: its terms merge.
			batches := map[string][]sig{
				"alone":                 {this},
				"twice":                 {this, this},
				"mixed":                 {g1, this, o},
				"merged with same key":  {g2, this, g1, o, g2},
				"last of many":          {o, g1, g2, o, g1, g2, o, g1, g2, this},
				"duplicates around it":  {this, g1, g1, this},
				"beyond the inline buf": {o, g1, g2, o, g1, g2, o, g1, g2, o, g1, this, g2},
			}
			for run := range 8 {
				for name, sigs := range batches {
					var b ed25519Batch
					for _, s := range sigs {
						b.add(s.key, s.msg, s.sig)
					}
					if got := b.verify(); got != single {
						t.Fatalf("run %d, batch %q says %v, single %v", run, name, got, single)
					}
				}
			}

			// Through PublicKey: small-order keys are refused outright.
			key := PublicKey{Suite: SuiteEd25519, Key: c.key}
			err := key.Verify(zip215Msg, c.sig)
			b := newSigBatch()
			collectErr := key.verify(zip215Msg, c.sig, b)
			switch {
			case len(c.key) == 32 && isSmallOrderEd25519(c.key):
				if !errors.Is(err, errs.ErrInvalidArgument) || !errors.Is(collectErr, errs.ErrInvalidArgument) {
					t.Fatalf("small-order key: Verify %v, collect mode %v; want ErrInvalidArgument", err, collectErr)
				}
			case (err == nil) != single:
				t.Fatalf("PublicKey.Verify: %v, single verification %v", err, single)
			case collectErr == nil && b.verify() != single:
				t.Fatalf("collect mode disagrees with single verification")
			}
		})
	}
}

// TestBatchRFC8032Vectors: the RFC 8032 §7.1 vectors verify in one batch
// and the batch fails when any one of them is altered.
func TestBatchRFC8032Vectors(t *testing.T) {
	vectors := [][3]string{
		{"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
			"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
		{"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
			"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
		{"fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
			"6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
	}
	for bad := -1; bad < len(vectors); bad++ {
		var b ed25519Batch
		for i, v := range vectors {
			sig := unhexT(t, v[2])
			if i == bad {
				sig[40] ^= 1
			}
			b.add(unhexT(t, v[0]), unhexT(t, v[1]), sig)
		}
		if got := b.verify(); got != (bad < 0) {
			t.Fatalf("vector %d altered: batch says %v", bad, got)
		}
	}
}

// TestAttackBatchCompensatingSignatures: two bad signatures by one key whose
// errors cancel when added (S+1 on one, S-1 on the other, or R swapped
// between them) must not pass as a pair: merging a key's terms keeps a
// random weight per signature, so the errors cannot cancel.
func TestAttackBatchCompensatingSignatures(t *testing.T) {
	k := mustKeyT(t)
	m1, m2 := []byte("first"), []byte("second")
	s1, _ := k.Sign(m1)
	s2, _ := k.Sign(m2)
	one := []byte{1}
	plus := setS(t, s1, new(edwards25519.Scalar).Add(scalarOf(t, s1[32:]), scalarOf(t, pad32(one))))
	minus := setS(t, s2, new(edwards25519.Scalar).Subtract(scalarOf(t, s2[32:]), scalarOf(t, pad32(one))))
	swap1 := append(append([]byte(nil), s2[:32]...), s1[32:]...)
	swap2 := append(append([]byte(nil), s1[:32]...), s2[32:]...)
	for name, pair := range map[string][2][]byte{"S+1 and S-1": {plus, minus}, "R swapped": {swap1, swap2}} {
		for run := range 16 {
			var b ed25519Batch
			b.add(k.PublicKey().Key, m1, pair[0])
			b.add(k.PublicKey().Key, m2, pair[1])
			if b.verify() {
				t.Fatalf("%s, run %d: the batch holds", name, run)
			}
		}
	}
}

// torsionSigned signs msg with a fresh key so that the key (withA) or R
// (withR) carries a component of order 8: invalid under the cofactorless
// equation, valid under ZIP-215's cofactored one.
func torsionSigned(t testing.TB, msg []byte, withA, withR bool) (pub, sig []byte) {
	t.Helper()
	t8, err := new(edwards25519.Point).SetBytes(unhexT(t, "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"))
	if err != nil {
		t.Fatal(err)
	}
	a, r := randomScalar(t), randomScalar(t)
	A := new(edwards25519.Point).ScalarBaseMult(a)
	R := new(edwards25519.Point).ScalarBaseMult(r)
	if withA {
		A.Add(A, t8)
	}
	if withR {
		R.Add(R, t8)
	}
	h := sha512.New()
	h.Write(R.Bytes())
	h.Write(A.Bytes())
	h.Write(msg)
	k, _ := new(edwards25519.Scalar).SetUniformBytes(h.Sum(nil))
	s := new(edwards25519.Scalar).MultiplyAdd(k, a, r)
	return A.Bytes(), append(R.Bytes(), s.Bytes()...)
}

func randomScalar(t testing.TB) *edwards25519.Scalar {
	var buf [64]byte
	if _, err := rand.Read(buf[:]); err != nil {
		t.Fatal(err)
	}
	s, _ := new(edwards25519.Scalar).SetUniformBytes(buf[:])
	return s
}

func scalarOf(t *testing.T, b []byte) *edwards25519.Scalar {
	t.Helper()
	s, err := new(edwards25519.Scalar).SetCanonicalBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func setS(t *testing.T, sig []byte, s *edwards25519.Scalar) []byte {
	t.Helper()
	return append(append([]byte(nil), sig[:32]...), s.Bytes()...)
}

func pad32(b []byte) []byte { return append(append([]byte(nil), b...), make([]byte, 32-len(b))...) }

func mustKeyT(t *testing.T) *Ed25519Signer {
	t.Helper()
	s, err := GenerateEd25519()
	if err != nil {
		t.Fatal(err)
	}
	return s
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

func unhexT(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSmallOrderEncodings derives the small-order table from the curve:
// the 8 multiples of a point of order 8, and for each every 32-byte string
// with the same y modulo p (y and y+p when below 2^255) and either sign
// bit that decodes to a point of small order. That is every encoding
// decoding accepts for those points, and exactly the table. A random key
// is not in it.
func TestSmallOrderEncodings(t *testing.T) {
	t8, err := new(edwards25519.Point).SetBytes(unhexT(t, "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"))
	if err != nil {
		t.Fatal(err)
	}
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	le := func(x *big.Int) (b [32]byte) {
		be := x.FillBytes(make([]byte, 32))
		for i := range be {
			b[i] = be[31-i]
		}
		return b
	}
	found := map[[32]byte]bool{}
	q := edwards25519.NewIdentityPoint()
	for range 8 {
		enc := q.Bytes()
		enc[31] &= 0x7f
		y := new(big.Int).SetBytes(reverse(enc))
		for _, yy := range []*big.Int{y, new(big.Int).Add(y, p)} {
			if yy.BitLen() > 255 {
				continue
			}
			for _, sign := range []byte{0, 0x80} {
				b := le(yy)
				b[31] |= sign
				d, err := new(edwards25519.Point).SetBytes(b[:])
				if err != nil {
					continue
				}
				if d.MultByCofactor(d).Equal(edwards25519.NewIdentityPoint()) != 1 {
					t.Fatalf("%x: [8]P is not the identity", b)
				}
				found[b] = true
			}
		}
		q.Add(q, t8)
	}
	if len(found) != len(smallOrderEd25519) {
		t.Fatalf("derived %d small-order encodings, the table has %d", len(found), len(smallOrderEd25519))
	}
	for _, e := range smallOrderEd25519 {
		if !found[e] {
			t.Fatalf("table entry %x is not a small-order encoding", e)
		}
		if !isSmallOrderEd25519(e[:]) {
			t.Fatalf("isSmallOrderEd25519(%x) = false", e)
		}
	}
	k := mustKeyT(t)
	if isSmallOrderEd25519(k.PublicKey().Key) {
		t.Fatal("a random key has small order")
	}
	if err := k.PublicKey().Validate(); err != nil {
		t.Fatal(err)
	}
}

func reverse(b []byte) []byte {
	r := make([]byte, len(b))
	for i := range b {
		r[len(b)-1-i] = b[i]
	}
	return r
}

// FuzzEd25519BatchAgree: on any (key, message, signature), the batch
// verifier agrees with single verification, alone, as a duplicate, and
// among valid signatures by the same key (merged terms) and another key.
func FuzzEd25519BatchAgree(f *testing.F) {
	good, cases := zip215Cases(f)
	for _, c := range cases {
		f.Add(c.key, zip215Msg, c.sig)
	}
	f.Add(good.PublicKey().Key, []byte("other message"), make([]byte, 64))
	goodSig, _ := good.Sign(zip215Msg)
	otherKey, _ := GenerateEd25519()
	otherSig, _ := otherKey.Sign(zip215Msg)
	f.Fuzz(func(t *testing.T, key, msg, sig []byte) {
		single := ed25519consensus.Verify(ed25519.PublicKey(key), msg, sig)
		for name, mix := range map[string]func(b *ed25519Batch){
			"alone": func(b *ed25519Batch) { b.add(key, msg, sig) },
			"twice": func(b *ed25519Batch) { b.add(key, msg, sig); b.add(key, msg, sig) },
			"mixed": func(b *ed25519Batch) {
				b.add(good.PublicKey().Key, zip215Msg, goodSig)
				b.add(key, msg, sig)
				b.add(otherKey.PublicKey().Key, zip215Msg, otherSig)
			},
		} {
			var b ed25519Batch
			mix(&b)
			if got := b.verify(); got != single {
				t.Fatalf("%s: batch says %v, single %v", name, got, single)
			}
		}
	})
}
