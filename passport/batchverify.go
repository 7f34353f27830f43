package passport

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"

	"filippo.io/edwards25519"
)

// ed25519Batch verifies Ed25519 signatures together under the ZIP-215
// rules, giving the answer single verification (ed25519consensus.Verify)
// gives on every input, with probability of disagreement 2^-128 at most.
//
// For signatures (A_i, M_i, R_i, S_i) with k_i = SHA-512(R_i || A_i || M_i)
// mod L and z_i random 128-bit scalars, the batch holds when
//
//	[8]( [-Σ z_i·S_i]B + Σ [z_i]R_i + Σ_j [Σ_{i: A_i = A_j} z_i·k_i]A_j ) = 0
//
// which is the random linear combination of the single (cofactored)
// equations [8]([S_i]B - R_i - [k_i]A_i) = 0. Unlike a generic batch
// verifier, terms sharing a public key are merged into one scalar per
// distinct key, and each distinct key is decoded once: the 7 signatures of
// a cold 3-link chain, by 4 keys, cost a multi-scalar multiplication of
// 1 + 7 + 4 = 12 points instead of 15. The rules match single
// verification exactly: 32-byte keys and 64-byte signatures, A and R any
// encoding [edwards25519.Point.SetBytes] accepts (non-canonical and
// small-order ones included), S < L (S >= L rejects the batch).
//
// The zero value is an empty batch. It holds no state beyond one
// verification: nothing decoded is kept across batches, so a cold
// verification stays cold.
type ed25519Batch struct {
	entries []batchEntry
	keys    [][ed25519.PublicKeySize]byte
	// bad is set when an entry cannot be valid whatever the others are
	// (wrong lengths, S >= L): the batch fails without any point work.
	bad bool
	// Inline backing arrays: a cold 3-link chain needs 7 entries, 4 keys.
	entryBuf [8]batchEntry
	keyBuf   [8][ed25519.PublicKeySize]byte
}

type batchEntry struct {
	key int // index in ed25519Batch.keys
	r   [32]byte
	s   edwards25519.Scalar
	k   edwards25519.Scalar
}

// add records a signature. It keeps no reference to its arguments.
func (b *ed25519Batch) add(pub, msg, sig []byte) {
	if b.entries == nil {
		b.entries, b.keys = b.entryBuf[:0], b.keyBuf[:0]
	}
	// The same checks as single verification, in its order: lengths, then
	// S < L (the top three bits first, as there).
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize || sig[63]&0xe0 != 0 {
		b.bad = true
		return
	}
	var e batchEntry
	if _, err := e.s.SetCanonicalBytes(sig[32:]); err != nil {
		b.bad = true
		return
	}
	e.key = -1
	for j := range b.keys {
		if string(b.keys[j][:]) == string(pub) {
			e.key = j
			break
		}
	}
	if e.key < 0 {
		e.key = len(b.keys)
		b.keys = append(b.keys, [ed25519.PublicKeySize]byte(pub))
	}
	copy(e.r[:], sig[:32])
	h := sha512.New()
	h.Write(sig[:32])
	h.Write(pub)
	h.Write(msg)
	var digest [64]byte
	e.k.SetUniformBytes(h.Sum(digest[:0]))
	b.entries = append(b.entries, e)
}

// verify reports whether every recorded signature is valid; an empty batch
// holds.
func (b *ed25519Batch) verify() bool {
	if b.bad {
		return false
	}
	n, nk := len(b.entries), len(b.keys)
	switch n {
	case 0:
		return true
	case 1:
		return b.entries[0].verifyAlone(&b.keys[0])
	}

	// One read of randomness for all the z_i.
	var zbuf [16 * 8]byte
	zs := zbuf[:]
	if n > 8 {
		zs = make([]byte, 16*n)
	}
	zs = zs[:16*n]
	if _, err := rand.Read(zs); err != nil {
		return false
	}

	m := 1 + n + nk
	var (
		scalarBuf [1 + 8 + 8]edwards25519.Scalar
		pointBuf  [1 + 8 + 8]edwards25519.Point
		sPtrBuf   [1 + 8 + 8]*edwards25519.Scalar
		pPtrBuf   [1 + 8 + 8]*edwards25519.Point
	)
	scalars, points := scalarBuf[:], pointBuf[:]
	sPtr, pPtr := sPtrBuf[:], pPtrBuf[:]
	if m > len(scalarBuf) {
		scalars, points = make([]edwards25519.Scalar, m), make([]edwards25519.Point, m)
		sPtr, pPtr = make([]*edwards25519.Scalar, m), make([]*edwards25519.Point, m)
	}
	scalars, points, sPtr, pPtr = scalars[:m], points[:m], sPtr[:m], pPtr[:m]
	for i := range m {
		sPtr[i], pPtr[i] = &scalars[i], &points[i]
	}

	// Layout: B, then R_1..R_n, then the distinct keys A_1..A_nk. The key
	// scalars start at zero (the zero value of Scalar).
	bCoeff := &scalars[0]
	points[0].Set(edwards25519.NewGeneratorPoint())
	var zb [32]byte
	for i := range b.entries {
		e := &b.entries[i]
		z := &scalars[1+i]
		copy(zb[:16], zs[16*i:16*i+16])
		if _, err := z.SetCanonicalBytes(zb[:]); err != nil {
			return false // unreachable: a 128-bit value is below L
		}
		if _, err := points[1+i].SetBytes(e.r[:]); err != nil {
			return false
		}
		bCoeff.MultiplyAdd(z, &e.s, bCoeff)
		a := &scalars[1+n+e.key]
		a.MultiplyAdd(z, &e.k, a)
	}
	bCoeff.Negate(bCoeff)
	for j := range b.keys {
		if _, err := points[1+n+j].SetBytes(b.keys[j][:]); err != nil {
			return false
		}
	}

	var check edwards25519.Point
	check.VarTimeMultiScalarMult(sPtr, pPtr)
	check.MultByCofactor(&check)
	return check.Equal(edwards25519.NewIdentityPoint()) == 1
}

// verifyAlone checks one signature as single verification does:
// [8]([S]B - [k]A - R) = 0, with the basepoint's precomputed table.
func (e *batchEntry) verifyAlone(pub *[ed25519.PublicKeySize]byte) bool {
	var a, r, check edwards25519.Point
	if _, err := a.SetBytes(pub[:]); err != nil {
		return false
	}
	if _, err := r.SetBytes(e.r[:]); err != nil {
		return false
	}
	a.Negate(&a)
	check.VarTimeDoubleScalarBaseMult(&e.k, &a, &e.s)
	check.Subtract(&check, &r)
	check.MultByCofactor(&check)
	return check.Equal(edwards25519.NewIdentityPoint()) == 1
}
