package passport_test

import (
	"errors"
	"fmt"
	"testing"

	"filippo.io/edwards25519"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// sealedN returns n envelopes signed by k, each over a payload of an
// attestation's size.
func sealedN(t testing.TB, k passport.Signer, n int) []*passport.Envelope {
	t.Helper()
	envs := make([]*passport.Envelope, n)
	for i := range envs {
		env, err := passport.Seal("application/vnd.in-toto+json", fmt.Appendf(nil, `{"n":%d,"pad":"%0400d"}`, i, 0), k)
		if err != nil {
			t.Fatal(err)
		}
		envs[i] = env
	}
	return envs
}

// withSig returns a copy of env whose first signature is sig.
func withSig(env *passport.Envelope, sig []byte) *passport.Envelope {
	c := *env
	c.Signatures = append([]passport.Signature(nil), env.Signatures...)
	c.Signatures[0].Sig = sig
	return &c
}

// flipSig returns a copy of env with one bit of its first signature's R
// flipped.
func flipSig(env *passport.Envelope) *passport.Envelope {
	sig := append([]byte(nil), env.Signatures[0].Sig...)
	sig[3] ^= 1
	return withSig(env, sig)
}

// firstBad is what a caller does after a failed batch: VerifiedBy one by
// one, returning the first failing index (-1 for none).
func firstBad(envs []*passport.Envelope, keys []passport.PublicKey) (int, error) {
	for i, env := range envs {
		if err := env.VerifiedBy(keys[i]); err != nil {
			return i, err
		}
	}
	return -1, nil
}

func TestEnvelopeBatch(t *testing.T) {
	k1, k2 := mustKey(t), mustKey(t)
	es, err := passport.GenerateES256()
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	type row struct {
		name string
		// build returns the envelopes and the key each is checked with.
		build func() ([]*passport.Envelope, []passport.PublicKey)
		bad   int // the first bad index; -1: all good
	}
	oneKey := func(mutate func(envs []*passport.Envelope)) func() ([]*passport.Envelope, []passport.PublicKey) {
		return func() ([]*passport.Envelope, []passport.PublicKey) {
			envs := sealedN(t, k1, n)
			mutate(envs)
			keys := make([]passport.PublicKey, n)
			for i := range keys {
				keys[i] = k1.PublicKey()
			}
			return envs, keys
		}
	}
	flipAt := func(idx ...int) func() ([]*passport.Envelope, []passport.PublicKey) {
		return oneKey(func(envs []*passport.Envelope) {
			for _, i := range idx {
				envs[i] = flipSig(envs[i])
			}
		})
	}
	rows := []row{
		{"all good", flipAt(), -1},
		{"bad first", flipAt(0), 0},
		{"bad middle", flipAt(n / 2), n / 2},
		{"bad last", flipAt(n - 1), n - 1},
		{"several bad", flipAt(31, 7, 19), 7},
		{"S >= L", oneKey(func(envs []*passport.Envelope) {
			sig := append([]byte(nil), envs[5].Signatures[0].Sig...)
			sig[63] |= 0xf0
			envs[5] = withSig(envs[5], sig)
		}), 5},
		{"truncated signature", oneKey(func(envs []*passport.Envelope) {
			envs[9] = withSig(envs[9], envs[9].Signatures[0].Sig[:63])
		}), 9},
		{"changed payload", oneKey(func(envs []*passport.Envelope) {
			c := *envs[12]
			c.Payload = append([]byte(nil), c.Payload...)
			c.Payload[2] ^= 1
			envs[12] = &c
		}), 12},
		{"signature swapped between envelopes", oneKey(func(envs []*passport.Envelope) {
			a, b := envs[3].Signatures[0].Sig, envs[4].Signatures[0].Sig
			envs[3], envs[4] = withSig(envs[3], b), withSig(envs[4], a)
		}), 3},
		{"no signature with the key's ID", oneKey(func(envs []*passport.Envelope) {
			c := *envs[20]
			c.Signatures = []passport.Signature{{KeyID: k2.PublicKey().ID(), Sig: envs[20].Signatures[0].Sig}}
			envs[20] = &c
		}), 20},
		{"two keys, all good", func() ([]*passport.Envelope, []passport.PublicKey) {
			envs := append(sealedN(t, k1, n/2), sealedN(t, k2, n/2)...)
			keys := make([]passport.PublicKey, n)
			for i := range keys {
				keys[i] = []passport.Signer{k1, k2}[i*2/n].PublicKey()
			}
			return envs, keys
		}, -1},
		{"signed by the other key", func() ([]*passport.Envelope, []passport.PublicKey) {
			envs := append(sealedN(t, k1, n/2), sealedN(t, k2, n/2)...)
			keys := make([]passport.PublicKey, n)
			for i := range keys {
				keys[i] = k1.PublicKey()
			}
			return envs, keys
		}, n / 2},
		{"es256 good among ed25519", func() ([]*passport.Envelope, []passport.PublicKey) {
			envs := append(sealedN(t, k1, n-1), sealedN(t, es, 1)...)
			keys := make([]passport.PublicKey, n)
			for i := range keys {
				keys[i] = k1.PublicKey()
			}
			keys[n-1] = es.PublicKey()
			return envs, keys
		}, -1},
		{"es256 bad (judged at Add)", func() ([]*passport.Envelope, []passport.PublicKey) {
			envs := append(sealedN(t, es, 1), sealedN(t, k1, n-1)...)
			sig := append([]byte(nil), envs[0].Signatures[0].Sig...)
			sig[len(sig)-1] ^= 1
			envs[0] = withSig(envs[0], sig)
			keys := make([]passport.PublicKey, n)
			for i := range keys {
				keys[i] = k1.PublicKey()
			}
			keys[0] = es.PublicKey()
			return envs, keys
		}, 0},
		{"small-order key", func() ([]*passport.Envelope, []passport.PublicKey) {
			envs := sealedN(t, k1, 3)
			torsion := passport.PublicKey{Suite: passport.SuiteEd25519, Key: passport.SmallOrderEd25519ForTest[0][:]}
			return envs, []passport.PublicKey{k1.PublicKey(), torsion, k1.PublicKey()}
		}, 1},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			envs, keys := r.build()
			var b passport.EnvelopeBatch
			for i, env := range envs {
				b.Add(env, keys[i])
			}
			if b.Len() != len(envs) {
				t.Errorf("Len = %d, want %d", b.Len(), len(envs))
			}
			if got, want := b.Verify(), r.bad < 0; got != want {
				t.Fatalf("Verify = %v, want %v", got, want)
			}
			i, err := firstBad(envs, keys)
			if i != r.bad {
				t.Fatalf("one by one: first bad %d (%v), want %d", i, err, r.bad)
			}
			if i >= 0 && !errors.Is(err, errs.ErrUnauthenticated) && !errors.Is(err, errs.ErrInvalidArgument) {
				t.Errorf("one by one: err = %v, want ErrUnauthenticated or ErrInvalidArgument", err)
			}
			// Reset empties the batch: the good prefix alone holds.
			b.Reset()
			if b.Len() != 0 || !b.Verify() {
				t.Fatalf("after Reset: Len = %d, Verify = %v", b.Len(), b.Verify())
			}
			end := len(envs)
			if r.bad >= 0 {
				end = r.bad
			}
			for i := range end {
				b.Add(envs[i], keys[i])
			}
			if !b.Verify() {
				t.Errorf("the good prefix [0, %d) does not verify after Reset", end)
			}
		})
	}
	t.Run("nil envelope", func(t *testing.T) {
		var b passport.EnvelopeBatch
		b.Add(nil, k1.PublicKey())
		if b.Verify() {
			t.Error("a batch holding a nil envelope verifies")
		}
	})
	t.Run("empty", func(t *testing.T) {
		var b passport.EnvelopeBatch
		if !b.Verify() {
			t.Error("an empty batch does not verify")
		}
	})
}

// Invariant: signatures in one batch cannot compensate for each other.
// Two signatures by the same key whose S values are moved by +d and -d
// pass a batch that sums the single equations with equal weights; the
// per-signature random weights make the batch fail, and one by one names
// the first.
func TestAttackEnvelopeBatchCompensatingSignatures(t *testing.T) {
	k := mustKey(t)
	envs := sealedN(t, k, 16)
	keys := make([]passport.PublicKey, len(envs))
	for i := range keys {
		keys[i] = k.PublicKey()
	}
	envs[4], envs[11] = compensate(t, envs[4], envs[11])
	for i := range 32 { // fresh weights each time
		var b passport.EnvelopeBatch
		for j, env := range envs {
			b.Add(env, keys[j])
		}
		if b.Verify() {
			t.Fatalf("try %d: a batch with two compensating bad signatures verifies", i)
		}
	}
	if i, _ := firstBad(envs, keys); i != 4 {
		t.Errorf("one by one: first bad %d, want 4", i)
	}
}

// compensate returns copies of a and b whose signatures' S are S_a + d and
// S_b - d for a fixed nonzero d: both invalid, with the sum of the two
// single equations unchanged.
func compensate(t testing.TB, a, b *passport.Envelope) (*passport.Envelope, *passport.Envelope) {
	t.Helper()
	var d edwards25519.Scalar
	if _, err := d.SetCanonicalBytes(append([]byte{7}, make([]byte, 31)...)); err != nil {
		t.Fatal(err)
	}
	shift := func(env *passport.Envelope, neg bool) *passport.Envelope {
		sig := append([]byte(nil), env.Signatures[0].Sig...)
		var s edwards25519.Scalar
		if _, err := s.SetCanonicalBytes(sig[32:]); err != nil {
			t.Fatal(err)
		}
		if neg {
			s.Subtract(&s, &d)
		} else {
			s.Add(&s, &d)
		}
		copy(sig[32:], s.Bytes())
		return withSig(env, sig)
	}
	return shift(a, false), shift(b, true)
}

// BenchmarkEnvelopeBatch measures the per-signature cost of verifying
// envelopes by one key in batches of 16, 64 and 256 (ns/sig), against
// VerifiedBy one by one (single) in the same run; ratio is the batch's
// per-signature cost over single's.
//
//	go test -run '^$' -bench 'EnvelopeBatch' -benchmem -cpu 1 -count 3 ./passport/
func BenchmarkEnvelopeBatch(b *testing.B) {
	k := mustKey(b)
	envs := sealedN(b, k, 256)
	pub := k.PublicKey()
	var single float64
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, env := range envs[:16] {
				if err := env.VerifiedBy(pub); err != nil {
					b.Fatal(err)
				}
			}
		}
		single = float64(b.Elapsed().Nanoseconds()) / float64(16*b.N)
		b.ReportMetric(single, "ns/sig")
	})
	for _, n := range []int{16, 32, 64, 128, 256} {
		b.Run(fmt.Sprintf("batch%d", n), func(b *testing.B) {
			var v passport.EnvelopeBatch
			b.ReportAllocs()
			for b.Loop() {
				v.Reset()
				for _, env := range envs[:n] {
					v.Add(env, pub)
				}
				if !v.Verify() {
					b.Fatal("batch does not verify")
				}
			}
			per := float64(b.Elapsed().Nanoseconds()) / float64(n*b.N)
			b.ReportMetric(per, "ns/sig")
			if single > 0 {
				b.ReportMetric(per/single, "ratio")
			}
		})
	}
}

func ExampleEnvelopeBatch() {
	org := deviceKey(7) // the one key that signed every envelope
	var envs []*passport.Envelope
	for i := range 3 {
		env, err := passport.Seal("application/vnd.in-toto+json", fmt.Appendf(nil, `{"n":%d}`, i), org)
		if err != nil {
			panic(err)
		}
		envs = append(envs, env)
	}
	envs[2].Payload = []byte(`{"n":9}`) // tampered with after signing

	var b passport.EnvelopeBatch
	for _, env := range envs {
		b.Add(env, org.PublicKey())
	}
	if b.Verify() {
		fmt.Println("all", b.Len(), "envelopes verify")
		return
	}
	// The batch does not say which envelope is bad: check one by one.
	for i, env := range envs {
		if err := env.VerifiedBy(org.PublicKey()); err != nil {
			fmt.Println("first bad envelope:", i, errors.Is(err, errs.ErrUnauthenticated))
			break
		}
	}
	// Output:
	// first bad envelope: 2 true
}
