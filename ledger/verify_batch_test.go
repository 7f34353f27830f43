package ledger_test

import (
	"context"
	"crypto/sha512"
	"errors"
	"os"
	"testing"

	"filippo.io/edwards25519"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

// signedEntries returns n attestations signed by signer, as log entries.
func signedEntries(t *testing.T, signer passport.Signer, n int) [][]byte {
	t.Helper()
	ctx := context.Background()
	src := openLog(t, storeFor(t, "memory"), "acme", signer, nil)
	attestN(t, src, 0, n)
	out := make([][]byte, n)
	for i := range out {
		e, err := src.Entry(ctx, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = e
	}
	return out
}

// editSig returns entry with its first signature changed by f.
func editSig(t *testing.T, entry []byte, f func(sig []byte)) []byte {
	t.Helper()
	env, err := passport.ParseEnvelope(entry)
	if err != nil {
		t.Fatal(err)
	}
	sig := append([]byte(nil), env.Signatures[0].Sig...)
	f(sig)
	env.Signatures[0].Sig = sig
	out, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func flipR(sig []byte) { sig[5] ^= 1 }

// shiftS adds d (or -d) to a signature's S: two entries shifted by +d and
// -d are both invalid, and their single equations still sum to zero.
func shiftS(d byte, neg bool) func(sig []byte) {
	return func(sig []byte) {
		var s, delta edwards25519.Scalar
		if _, err := s.SetCanonicalBytes(sig[32:]); err != nil {
			panic(err)
		}
		delta.SetCanonicalBytes(append([]byte{d}, make([]byte, 31)...))
		if neg {
			s.Subtract(&s, &delta)
		} else {
			s.Add(&s, &delta)
		}
		copy(sig[32:], s.Bytes())
	}
}

// exportOf appends entries to a fresh log signed by signer (so every tile
// and the checkpoint are consistent with them: only the entries'
// signatures can be wrong) and exports it.
func exportOf(t *testing.T, signer passport.Signer, entries [][]byte) (string, *ledger.Log) {
	t.Helper()
	ctx := context.Background()
	l := openLog(t, storeFor(t, "memory"), "acme", signer, nil)
	var pending []*ledger.Pending
	for _, e := range entries {
		p, err := l.Submit(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, p)
	}
	for _, p := range pending {
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	dir, _ := exportTo(t, l, nil)
	return dir, l
}

// TestVerifyExportBatch: the default check verifies each chunk's
// signatures in one batch; whatever bad entries a chunk holds, the export
// fails at the first bad index with the error one-by-one verification
// gives (the CheckEntry baseline), in every bundle and every worker's
// chunk.
func TestVerifyExportBatch(t *testing.T) {
	ctx := context.Background()
	signer := newSigner(t)
	const n = 600 // bundles [0, 256), [256, 512), [512, 600)
	good := signedEntries(t, signer, n)
	pub := signer.PublicKey()
	oneByOne := func(_ uint64, entry []byte) error {
		env, _, err := ledger.ParseAttestation(entry)
		if err != nil {
			return errs.Errorf(errs.ErrUnauthenticated, "not an attestation: %w", err)
		}
		return env.VerifiedBy(pub)
	}
	other := newSigner(t)
	byOther := signedEntries(t, other, 1)[0]
	notAttestation := []byte(`{"not":"an attestation"}`)
	type edit struct {
		i int
		f func(entry []byte) []byte
	}
	flip := func(i int) edit { return edit{i, func(e []byte) []byte { return editSig(t, e, flipR) }} }
	for _, tc := range []struct {
		name  string
		edits []edit
		want  int // first bad index; -1: none
	}{
		{"all good", nil, -1},
		{"bad first", []edit{flip(0)}, 0},
		{"bad middle", []edit{flip(300)}, 300},
		{"bad last", []edit{flip(n - 1)}, n - 1},
		{"bad last of a bundle", []edit{flip(255)}, 255},
		{"several bad in one chunk", []edit{flip(301), flip(300), flip(350)}, 300},
		{"bad in two chunks of one bundle", []edit{flip(200), flip(30)}, 30},
		{"bad in two bundles", []edit{flip(590), flip(400)}, 400},
		{"signed by another key", []edit{{123, func([]byte) []byte { return byOther }}}, 123},
		{"not an attestation after a bad signature", []edit{flip(260), {270, func([]byte) []byte { return notAttestation }}}, 260},
		{"not an attestation before a bad signature", []edit{{265, func([]byte) []byte { return notAttestation }}, flip(280)}, 265},
		{"S >= L", []edit{{77, func(e []byte) []byte { return editSig(t, e, func(sig []byte) { sig[63] |= 0xf0 }) }}}, 77},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entries := append([][]byte(nil), good...)
			for _, e := range tc.edits {
				entries[e.i] = e.f(entries[e.i])
			}
			dir, l := exportOf(t, signer, entries)
			fsys := os.DirFS(dir)
			_, err := ledger.VerifyExport(ctx, fsys, &ledger.VerifyExportOptions{VerifierKey: l.VerifierKey()})
			_, base := ledger.VerifyExport(ctx, fsys, &ledger.VerifyExportOptions{VerifierKey: l.VerifierKey(), CheckEntry: oneByOne})
			if tc.want < 0 {
				if err != nil || base != nil {
					t.Fatalf("VerifyExport = %v (one by one: %v), want success", err, base)
				}
				return
			}
			var ee *ledger.EntryError
			if !errors.Is(err, errs.ErrUnauthenticated) || !errors.As(err, &ee) || ee.Index != uint64(tc.want) {
				t.Fatalf("VerifyExport = %v, want ErrUnauthenticated at entry %d", err, tc.want)
			}
			if base == nil || err.Error() != base.Error() {
				t.Errorf("VerifyExport = %q, one by one = %q: want the same report", err, base)
			}
		})
	}
}

// TestAttackVerifyExportCompensatingSignatures: two bad signatures by the
// log's key in one chunk, their S moved by +d and -d so that the sum of
// their single equations still holds (a batch check with equal weights,
// or one that sums the equations, would accept both). The batch's random
// per-signature weights catch it, end to end: the export fails at the
// first of the two.
func TestAttackVerifyExportCompensatingSignatures(t *testing.T) {
	ctx := context.Background()
	signer := newSigner(t)
	entries := signedEntries(t, signer, 300)
	entries[40] = editSig(t, entries[40], shiftS(9, false))
	entries[41] = editSig(t, entries[41], shiftS(9, true))
	assertCompensating(t, signer.PublicKey(), entries[40], entries[41])
	dir, l := exportOf(t, signer, entries)
	for i := range 8 { // fresh weights each time
		_, err := ledger.VerifyExport(ctx, os.DirFS(dir), &ledger.VerifyExportOptions{VerifierKey: l.VerifierKey()})
		var ee *ledger.EntryError
		if !errors.Is(err, errs.ErrUnauthenticated) || !errors.As(err, &ee) || ee.Index != 40 {
			t.Fatalf("try %d: VerifyExport = %v, want ErrUnauthenticated at entry 40", i, err)
		}
	}
}

// assertCompensating checks that the two entries' signatures are each
// invalid but that their single equations [S]B = R + [k]A sum to a valid
// one: the attack is real.
func assertCompensating(t *testing.T, pub passport.PublicKey, a, b []byte) {
	t.Helper()
	var A edwards25519.Point
	if _, err := A.SetBytes(pub.Key); err != nil {
		t.Fatal(err)
	}
	lhs, rhs := edwards25519.NewIdentityPoint(), edwards25519.NewIdentityPoint()
	for _, entry := range [][]byte{a, b} {
		env, err := passport.ParseEnvelope(entry)
		if err != nil {
			t.Fatal(err)
		}
		if env.VerifiedBy(pub) == nil {
			t.Fatal("a compensating signature verifies alone")
		}
		sig := env.Signatures[0].Sig
		var s, k edwards25519.Scalar
		var R, kA, sB edwards25519.Point
		if _, err := s.SetCanonicalBytes(sig[32:]); err != nil {
			t.Fatal(err)
		}
		if _, err := R.SetBytes(sig[:32]); err != nil {
			t.Fatal(err)
		}
		h := sha512.New()
		h.Write(sig[:32])
		h.Write(pub.Key)
		h.Write(passport.PAE(env.PayloadType, env.Payload))
		k.SetUniformBytes(h.Sum(nil))
		sB.ScalarBaseMult(&s)
		kA.ScalarMult(&k, &A)
		lhs.Add(lhs, &sB)
		rhs.Add(rhs, &R)
		rhs.Add(rhs, &kA)
	}
	if lhs.Equal(rhs) != 1 {
		t.Fatal("the two signatures do not compensate: their equations do not sum to a valid one")
	}
}
