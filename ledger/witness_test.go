package ledger_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	formats "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/adapters/sqlite"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

// newWitness returns a witness named name over its own memory store that
// knows the logs of vs.
func newWitness(t testing.TB, name string, store ledger.Store, vs ...note.Verifier) *ledger.Witness {
	t.Helper()
	if store == nil {
		store = memory.NewLedgerStore()
	}
	w, err := ledger.NewWitness(store, name, newSigner(t), vs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func cosigVerifier(t testing.TB, w *ledger.Witness) note.Verifier {
	t.Helper()
	v, err := ledger.NewCosignatureVerifier(w.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestWitnessQuorum: three witnesses, two cosign; a 2-of-3 policy accepts
// the checkpoint and its receipts, a 3-of-3 one (k-1 cosignatures) refuses.
func TestWitnessQuorum(t *testing.T) {
	ctx := context.Background()
	l, _ := newMemLog(t)
	w1 := newWitness(t, "w1.example.com/witness", nil, l.Verifier())
	w2 := newWitness(t, "w2.example.com/witness", nil, l.Verifier())
	w3 := newWitness(t, "w3.example.com/witness", nil, l.Verifier())
	all := []note.Verifier{cosigVerifier(t, w1), cosigVerifier(t, w2), w3.Verifier()}

	for round := 0; round < 3; round++ {
		rs := mustAppend(t, l, "a", "b", "c")
		cosigned, err := l.Cosign(ctx, w1, w2)
		if err != nil {
			t.Fatalf("round %d: Cosign: %v", round, err)
		}
		tests := []struct {
			name   string
			quorum int
			want   error
		}{
			{"0 of 3", 0, nil},
			{"2 of 3", 2, nil},
			{"3 of 3 with 2 cosignatures", 3, errs.ErrUnauthenticated},
		}
		for _, tc := range tests {
			p := &ledger.Policy{Log: l.Verifier(), Witnesses: all, Quorum: tc.quorum}
			cp, err := p.VerifyCheckpoint(cosigned)
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Errorf("round %d %s: VerifyCheckpoint = %v, want %v", round, tc.name, err, tc.want)
			}
			if err == nil && cp.Size != uint64(3*(round+1)) {
				t.Errorf("round %d: cosigned size %d", round, cp.Size)
			}
			r := *rs[0]
			r.Checkpoint = cosigned
			r.Proof, err = l.InclusionProof(ctx, r.Index, uint64(3*(round+1)))
			if err != nil {
				t.Fatal(err)
			}
			if err := p.VerifyReceipt(&r); !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Errorf("round %d %s: VerifyReceipt = %v, want %v", round, tc.name, err, tc.want)
			}
		}
		// The uncosigned receipt fails any quorum.
		p := &ledger.Policy{Log: l.Verifier(), Witnesses: all, Quorum: 1}
		wantKind(t, "receipt without cosignatures", p.VerifyReceipt(rs[0]), errs.ErrUnauthenticated)
	}
	latest, err := w1.Latest(ctx, l.Origin())
	if err != nil || !bytes.HasPrefix(latest, []byte(l.Origin()+"\n9\n")) {
		t.Errorf("w1.Latest = %q, %v", latest, err)
	}
}

func TestPolicyInvalid(t *testing.T) {
	l, _ := newMemLog(t)
	_, signed, err := l.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w := newWitness(t, "w.example.com", nil)
	for _, p := range []*ledger.Policy{
		nil,
		{},
		{Log: l.Verifier(), Quorum: -1},
		{Log: l.Verifier(), Quorum: 1},
		{Log: l.Verifier(), Witnesses: []note.Verifier{w.Verifier(), w.Verifier()}, Quorum: 2},
		{Log: l.Verifier(), Witnesses: []note.Verifier{nil}, Quorum: 1},
	} {
		_, err := p.VerifyCheckpoint(signed)
		wantKind(t, "policy", err, errs.ErrInvalidArgument)
	}
}

// TestAttackPolicyCosignatures: cosignatures that must not count.
func TestAttackPolicyCosignatures(t *testing.T) {
	ctx := context.Background()
	l, _ := newMemLog(t)
	mustAppend(t, l, "x")
	known := newWitness(t, "known.example.com", nil, l.Verifier())
	stranger := newWitness(t, "stranger.example.com", nil, l.Verifier())
	// An impostor uses the known witness's name with its own key.
	impostor := newWitness(t, "known.example.com", nil, l.Verifier())
	p := &ledger.Policy{Log: l.Verifier(), Witnesses: []note.Verifier{known.Verifier()}, Quorum: 1}

	good, err := l.Cosign(ctx, known)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.VerifyCheckpoint(good); err != nil {
		t.Fatalf("known witness: %v", err)
	}
	_, bare, _ := l.Checkpoint(ctx)
	fromStranger, err := l.Cosign(ctx, stranger, impostor)
	if err != nil {
		t.Fatal(err)
	}
	goodLine := good[len(bare):]
	// Flip one bit of the known witness's signature.
	tampered := bytes.Clone(goodLine)
	// (another base64 character, so that it still decodes).
	if tampered[len(tampered)-6] == 'A' {
		tampered[len(tampered)-6] = 'B'
	} else {
		tampered[len(tampered)-6] = 'A'
	}
	// The cosignature of another checkpoint (same witness, size 2).
	mustAppend(t, l, "y")
	later, err := l.Cosign(ctx, known)
	if err != nil {
		t.Fatal(err)
	}
	_, bare2, _ := l.Checkpoint(ctx)
	cases := map[string][]byte{
		"unknown witness and impostor":   fromStranger,
		"tampered cosignature":           mustAdd(t, bare, tampered),
		"cosignature of a later tree":    mustAdd(t, bare, later[len(bare2):]),
		"log signature only":             bare,
		"the same line twice (stranger)": mustAdd(t, fromStranger, fromStranger[len(bare):]),
	}
	for name, signed := range cases {
		_, err := p.VerifyCheckpoint(signed)
		wantKind(t, name, err, errs.ErrUnauthenticated)
	}
	// One valid cosignature among junk still counts once, never twice.
	mixed := mustAdd(t, fromStranger, goodLine)
	if _, err := p.VerifyCheckpoint(mixed); err != nil {
		t.Errorf("valid cosignature among ignored ones: %v", err)
	}
	p2 := &ledger.Policy{Log: l.Verifier(), Witnesses: []note.Verifier{known.Verifier(), stranger.Verifier()}, Quorum: 2}
	if _, err := p2.VerifyCheckpoint(mustAdd(t, bare, goodLine, goodLine)); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Errorf("one witness's cosignature twice counted as two: %v", err)
	}
}

func mustAdd(t testing.TB, signed []byte, lines ...[]byte) []byte {
	t.Helper()
	out, err := ledger.AddCosignatures(signed, lines...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAttackWitnessFork: a witness never cosigns two trees that disagree.
func TestAttackWitnessFork(t *testing.T) {
	ctx := context.Background()
	signer := newSigner(t)
	honest := openLog(t, memory.NewLedgerStore(), "acme", signer, nil)
	fork := openLog(t, memory.NewLedgerStore(), "acme", signer, nil)
	mustAppend(t, honest, "e0", "e1", "honest")
	mustAppend(t, fork, "e0", "e1", "rewritten")
	w := newWitness(t, "w.example.com", nil, honest.Verifier())
	if _, err := honest.Cosign(ctx, w); err != nil {
		t.Fatal(err)
	}
	_, f3, _ := fork.Checkpoint(ctx)
	_, err := w.AddCheckpoint(ctx, 3, nil, f3)
	wantKind(t, "fork of the same size", err, errs.ErrUnauthenticated)

	mustAppend(t, fork, "e3")
	_, f4, _ := fork.Checkpoint(ctx)
	pr, _ := fork.ConsistencyProof(ctx, 3, 4)
	_, err = w.AddCheckpoint(ctx, 3, pr, f4)
	wantKind(t, "fork grown by one, with its own proof", err, errs.ErrUnauthenticated)
	_, err = fork.Cosign(ctx, w)
	wantKind(t, "fork through Cosign", err, errs.ErrUnauthenticated)

	// The honest log still advances.
	mustAppend(t, honest, "e3", "e4")
	if _, err := honest.Cosign(ctx, w); err != nil {
		t.Fatalf("honest log after the fork attempts: %v", err)
	}
	latest, _ := w.Latest(ctx, honest.Origin())
	if !bytes.HasPrefix(latest, []byte(honest.Origin()+"\n5\n")) {
		t.Errorf("latest = %q", latest)
	}
}

// TestAttackWitnessRollback: a smaller tree, or a stale old size, is
// refused; the conflict names the witness's size.
func TestAttackWitnessRollback(t *testing.T) {
	ctx := context.Background()
	l, _ := newMemLog(t)
	rs := mustAppend(t, l, "a", "b", "c", "d", "e")
	w := newWitness(t, "w.example.com", nil, l.Verifier())
	if _, err := l.Cosign(ctx, w); err != nil {
		t.Fatal(err)
	}
	old3 := rs[2].Checkpoint
	_, err := w.AddCheckpoint(ctx, 5, nil, old3)
	wantKind(t, "rolled-back checkpoint", err, errs.ErrInvalidArgument)
	_, err = w.AddCheckpoint(ctx, 3, nil, old3)
	var conflict *ledger.WitnessConflictError
	if !errors.As(err, &conflict) || conflict.Size != 5 || !errors.Is(err, errs.ErrConflict) {
		t.Errorf("stale old size: %v, want a conflict at size 5", err)
	}
	_, err = w.AddCheckpoint(ctx, 0, nil, old3)
	wantKind(t, "old size 0 after cosigning", err, errs.ErrConflict)
	// A proof from size 0 must be empty on a first cosignature.
	w2 := newWitness(t, "w2.example.com", nil, l.Verifier())
	_, err = w2.AddCheckpoint(ctx, 0, [][]byte{make([]byte, 32)}, old3)
	wantKind(t, "non-empty proof from nothing", err, errs.ErrUnauthenticated)
	_, err = w2.AddCheckpoint(ctx, 0, [][]byte{{1}}, old3)
	wantKind(t, "short proof hash", err, errs.ErrInvalidArgument)
}

func TestAttackWitnessUnknownLog(t *testing.T) {
	ctx := context.Background()
	l, _ := newMemLog(t)
	mustAppend(t, l, "a")
	_, signed, _ := l.Checkpoint(ctx)
	w := newWitness(t, "w.example.com", nil)
	_, err := w.AddCheckpoint(ctx, 0, nil, signed)
	wantKind(t, "unknown origin", err, errs.ErrNotFound)

	// Same origin, another key: the witness knows the real log's key.
	impostor := openLog(t, memory.NewLedgerStore(), "acme", newSigner(t), nil)
	mustAppend(t, impostor, "a")
	_, forged, _ := impostor.Checkpoint(ctx)
	w2 := newWitness(t, "w2.example.com", nil, l.Verifier())
	_, err = w2.AddCheckpoint(ctx, 0, nil, forged)
	wantKind(t, "checkpoint signed by another key", err, errs.ErrUnauthenticated)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = w2.AddCheckpoint(cctx, 0, nil, signed)
	wantKind(t, "cancelled", err, errs.ErrUnavailable)
	if latest, err := w2.Latest(ctx, l.Origin()); latest != nil || err != nil {
		t.Errorf("state after refusals: %q, %v", latest, err)
	}
}

// TestWitnessStatePersists: a witness restarted over the same SQLite file
// resumes from its state, and two witness processes on one file cannot
// both advance from one size (one cosigns, the other conflicts).
func TestWitnessStatePersists(t *testing.T) {
	ctx := context.Background()
	path := tempDBPath(t)
	l, _ := newMemLog(t)
	mustAppend(t, l, "a", "b")
	wsigner := newSigner(t)
	open := func() *ledger.Witness {
		db := openSQLite(t, path)
		w, err := ledger.NewWitness(sqlite.NewLedgerStore(db), "w.example.com", wsigner, []note.Verifier{l.Verifier()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	w := open()
	if _, err := l.Cosign(ctx, w); err != nil {
		t.Fatal(err)
	}
	w = open()
	latest, err := w.Latest(ctx, l.Origin())
	if err != nil || !bytes.HasPrefix(latest, []byte(l.Origin()+"\n2\n")) {
		t.Fatalf("restarted witness: %q, %v", latest, err)
	}
	mustAppend(t, l, "c")
	_, signed, _ := l.Checkpoint(ctx)
	pr, _ := l.ConsistencyProof(ctx, 2, 3)
	a, b := open(), open()
	var wg sync.WaitGroup
	errsOut := make([]error, 2)
	for i, w := range []*ledger.Witness{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errsOut[i] = w.AddCheckpoint(ctx, 2, pr, signed)
		}()
	}
	wg.Wait()
	// Both may succeed only because they cosign the same tree; the state
	// holds it once.
	for i, err := range errsOut {
		if err != nil && !errors.Is(err, errs.ErrConflict) {
			t.Errorf("witness %d: %v", i, err)
		}
	}
	if latest, _ := open().Latest(ctx, l.Origin()); !bytes.HasPrefix(latest, []byte(l.Origin()+"\n3\n")) {
		t.Errorf("latest after the race = %q", latest)
	}
}

// TestWitnessIndependentCheck: our cosignatures verify with
// github.com/transparency-dev/formats/note (not our code), and its
// cosignatures verify with ours.
func TestWitnessIndependentCheck(t *testing.T) {
	ctx := context.Background()
	l, _ := newMemLog(t)
	mustAppend(t, l, "a", "b", "c")
	w := newWitness(t, "w.example.com/ours", nil, l.Verifier())
	cosigned, err := l.Cosign(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	theirV, err := formats.NewVerifierForCosignatureV1(w.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(cosigned, note.VerifierList(l.Verifier(), theirV))
	if err != nil || len(n.Sigs) != 2 {
		t.Fatalf("transparency-dev/formats does not verify our cosignature: %v", err)
	}
	ts, err := formats.CoSigV1Timestamp(n.Sigs[1])
	if err != nil || time.Since(ts) > time.Minute || time.Until(ts) > time.Minute {
		t.Errorf("cosignature time %v, %v", ts, err)
	}

	skey, vkey, err := note.GenerateKey(rand.Reader, "w.example.com/theirs")
	if err != nil {
		t.Fatal(err)
	}
	theirS, err := formats.NewSignerForCosignatureV1(skey)
	if err != nil {
		t.Fatal(err)
	}
	cvkey, err := formats.VKeyToCosignatureV1(vkey)
	if err != nil {
		t.Fatal(err)
	}
	ourV, err := ledger.NewCosignatureVerifier(cvkey)
	if err != nil {
		t.Fatal(err)
	}
	if ourV.KeyHash() != theirS.KeyHash() {
		t.Errorf("key ID %08x, theirs %08x", ourV.KeyHash(), theirS.KeyHash())
	}
	_, bare, _ := l.Checkpoint(ctx)
	n2, err := note.Open(bare, note.VerifierList(l.Verifier()))
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := note.Sign(n2, theirS)
	if err != nil {
		t.Fatal(err)
	}
	p := &ledger.Policy{Log: l.Verifier(), Witnesses: []note.Verifier{ourV, w.Verifier()}, Quorum: 2}
	if _, err := p.VerifyCheckpoint(mustAdd(t, theirs, cosigned[len(bare):])); err != nil {
		t.Errorf("their cosignature plus ours, 2 of 2: %v", err)
	}
}

func TestCosignatureVerifierKey(t *testing.T) {
	s := newSigner(t)
	good, err := ledger.CosignatureVerifierKey("w.example.com", s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.NewCosignatureVerifier(good); err != nil {
		t.Fatal(err)
	}
	logKey, _ := note.NewEd25519VerifierKey("w.example.com", s.PublicKey().Key)
	name, rest, _ := strings.Cut(good, "+")
	for _, bad := range []string{
		"", "w.example.com", "w.example.com+0000", logKey,
		name + "+00000000+" + strings.SplitN(rest, "+", 2)[1],
		"other.example.com+" + rest,
		"bad name+" + rest,
	} {
		_, err := ledger.NewCosignatureVerifier(bad)
		wantKind(t, bad, err, errs.ErrInvalidArgument)
	}
	if _, err := ledger.CosignatureVerifierKey("has space", s.PublicKey()); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Errorf("bad name: %v", err)
	}
	if _, err := ledger.NewWitness(memory.NewLedgerStore(), "w", nil, nil, nil); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Errorf("nil signer: %v", err)
	}
	l, _ := newMemLog(t)
	if _, err := ledger.NewWitness(memory.NewLedgerStore(), "w", s, []note.Verifier{l.Verifier(), l.Verifier()}, nil); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Errorf("duplicate log: %v", err)
	}
}

// TestAnchor: one log's checkpoint anchored in another, verified offline.
func TestAnchor(t *testing.T) {
	ctx := context.Background()
	a := openLog(t, memory.NewLedgerStore(), "acme", newSigner(t), nil)
	host := openLog(t, memory.NewLedgerStore(), "public", newSigner(t), nil)
	mustAppend(t, a, "a0", "a1", "a2")
	mustAppend(t, host, "h0")
	r, err := a.AnchorIn(ctx, host)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := r.MarshalText()
	r2, err := ledger.ParseReceipt(text)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := ledger.VerifyAnchor(r2, host.VerifierKey(), a.Verifier())
	if err != nil || cp.Size != 3 || cp.Origin != a.Origin() {
		t.Fatalf("VerifyAnchor = %+v, %v", cp, err)
	}
	// A later checkpoint of a must extend the anchored one.
	rs := mustAppend(t, a, "a3")
	pr, _ := a.ConsistencyProof(ctx, 3, 4)
	_, anchored, _ := a.CheckpointAt(ctx, 3)
	if err := ledger.VerifyConsistency(anchored, rs[0].Checkpoint, pr, a.Verifier()); err != nil {
		t.Error(err)
	}
	// Anchors are attestations: they query by subject (the origin).
	page, err := host.Query(ctx, &ledger.Query{Filter: ledger.Filter{Kind: ledger.PredicateAnchor, Subject: a.Origin()}})
	if err != nil || len(page.Attestations) != 1 {
		t.Errorf("query anchors: %+v, %v", page, err)
	}

	// Attacks.
	other := openLog(t, memory.NewLedgerStore(), "acme", newSigner(t), nil)
	_, err = ledger.VerifyAnchor(r2, host.VerifierKey(), other.Verifier())
	wantKind(t, "anchored checkpoint under another key", err, errs.ErrUnauthenticated)
	_, err = ledger.VerifyAnchor(r2, other.VerifierKey(), a.Verifier())
	wantKind(t, "receipt under another host key", err, errs.ErrUnauthenticated)
	plain := mustAppend(t, host, "not an anchor")[0]
	_, err = ledger.VerifyAnchor(plain, host.VerifierKey(), a.Verifier())
	wantKind(t, "entry that is not an attestation", err, errs.ErrInvalidArgument)
	// A host entry signed by someone else, claiming an anchor.
	st, _ := ledger.NewStatement(ledger.PredicateAnchor, map[string]any{"checkpoint": string(anchored)}, ledger.SubjectFor(a.Origin(), []byte("x")))
	forger := openLog(t, memory.NewLedgerStore(), "forger", newSigner(t), nil)
	fp, _ := forger.Attest(ctx, st)
	fr, _ := fp.Wait(ctx)
	hr, err := host.Append(ctx, fr.Entry)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ledger.VerifyAnchor(hr, host.VerifierKey(), a.Verifier())
	wantKind(t, "anchor signed by another key", err, errs.ErrUnauthenticated)
	// The host's own signature over a mismatching subject.
	hp, _ := host.Attest(ctx, st)
	hr2, _ := hp.Wait(ctx)
	_, err = ledger.VerifyAnchor(hr2, host.VerifierKey(), a.Verifier())
	wantKind(t, "subject not the checkpoint", err, errs.ErrUnauthenticated)
	_, err = host.Anchor(ctx, []byte("not a checkpoint"))
	wantKind(t, "anchor junk", err, errs.ErrInvalidArgument)
}

// TestExportCosigned: an export can carry a cosigned checkpoint and
// VerifyExport can require a quorum of it.
func TestExportCosigned(t *testing.T) {
	ctx := context.Background()
	signer := newSigner(t)
	l := openLog(t, memory.NewLedgerStore(), "acme", signer, nil)
	attestN(t, l, 0, 300)
	w := newWitness(t, "w.example.com", nil, l.Verifier())
	cosigned, err := l.Cosign(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	attestN(t, l, 300, 10) // the log moves on; the export is at 300
	policy := &ledger.Policy{Log: l.Verifier(), Witnesses: []note.Verifier{w.Verifier()}, Quorum: 1}

	dir, m := exportTo(t, l, &ledger.ExportOptions{Checkpoint: cosigned})
	if m.Size != 300 {
		t.Fatalf("exported size %d", m.Size)
	}
	if _, err := ledger.VerifyExport(ctx, os.DirFS(dir), &ledger.VerifyExportOptions{VerifierKey: l.VerifierKey(), Policy: policy}); err != nil {
		t.Errorf("cosigned export: %v", err)
	}
	independentCheck(t, dir, 0, allIndices)

	plain, _ := exportTo(t, l, nil)
	_, err = ledger.VerifyExport(ctx, os.DirFS(plain), &ledger.VerifyExportOptions{VerifierKey: l.VerifierKey(), Policy: policy})
	wantKind(t, "export without cosignatures", err, errs.ErrUnauthenticated)

	// A cosigned checkpoint of a fork is not exported over this tree.
	fork := openLog(t, memory.NewLedgerStore(), "acme", signer, nil)
	mustAppend(t, fork, "x")
	_, fsigned, _ := fork.Checkpoint(ctx)
	_, err = l.Export(ctx, ledger.DirSink(t.TempDir()), &ledger.ExportOptions{Checkpoint: fsigned})
	wantKind(t, "export at a fork's checkpoint", err, errs.ErrUnauthenticated)
}

// ExampleWitness: a witness cosigns a log's checkpoint after checking
// consistency, and a client requires its cosignature.
func ExampleWitness() {
	ctx := context.Background()
	orgKey, _ := passport.GenerateEd25519()
	log, _ := ledger.Open(ctx, memory.NewLedgerStore(), "acme", orgKey, nil)
	defer log.Close()

	witnessKey, _ := passport.GenerateEd25519()
	w, _ := ledger.NewWitness(memory.NewLedgerStore(), "witness.example.com/w1", witnessKey,
		[]note.Verifier{log.Verifier()}, nil)

	r, _ := log.Append(ctx, []byte("decision 1"))
	cosigned, _ := log.Cosign(ctx, w) // consistency-checked by w, then cosigned
	r.Checkpoint = cosigned

	// A client trusting the log's key and w's published key, 1 of 1.
	wv, _ := ledger.NewCosignatureVerifier(w.VerifierKey())
	policy := &ledger.Policy{Log: log.Verifier(), Witnesses: []note.Verifier{wv}, Quorum: 1}
	fmt.Println(policy.VerifyReceipt(r))
	// Output: <nil>
}

// FuzzPolicyVerifyCheckpoint: arbitrary notes never panic, and whatever
// passes a 1-of-1 policy carries the log's signature and the witness's
// cosignature over exactly its text.
func FuzzPolicyVerifyCheckpoint(f *testing.F) {
	ctx := context.Background()
	logKey, _ := passport.GenerateEd25519()
	l, err := ledger.Open(ctx, memory.NewLedgerStore(), "acme", logKey, nil)
	if err != nil {
		f.Fatal(err)
	}
	defer l.Close()
	wkey, _ := passport.GenerateEd25519()
	w, _ := ledger.NewWitness(memory.NewLedgerStore(), "w.example.com", wkey, []note.Verifier{l.Verifier()}, nil)
	l.Append(ctx, []byte("a"))
	cosigned, err := l.Cosign(ctx, w)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(cosigned)
	f.Add([]byte("acme\n1\n\n\u2014 w.example.com AAAA\n"))
	p := &ledger.Policy{Log: l.Verifier(), Witnesses: []note.Verifier{w.Verifier()}, Quorum: 1}
	f.Fuzz(func(t *testing.T, data []byte) {
		cp, err := p.VerifyCheckpoint(data)
		if err != nil {
			return
		}
		if cp.Origin != l.Origin() || !bytes.HasPrefix(data, cp.Marshal()) {
			t.Fatalf("accepted %q as %+v", data, cp)
		}
	})
}

func FuzzNewCosignatureVerifier(f *testing.F) {
	s, _ := passport.GenerateEd25519()
	k, _ := ledger.CosignatureVerifierKey("w.example.com", s.PublicKey())
	f.Add(k)
	f.Add("a+00000000+BA==")
	f.Fuzz(func(t *testing.T, vkey string) {
		v, err := ledger.NewCosignatureVerifier(vkey)
		if err != nil {
			if !errors.Is(err, errs.ErrInvalidArgument) {
				t.Fatalf("error kind: %v", err)
			}
			return
		}
		if v.Verify([]byte("x\n1\nAAAA\n"), make([]byte, 72)) {
			t.Fatal("zero signature verified")
		}
	})
}
