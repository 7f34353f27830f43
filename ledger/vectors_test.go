package ledger_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"testing"

	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"

	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

func hd(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// The inclusion and consistency proof vectors published with
// github.com/transparency-dev/merkle (proof/verify_test.go, over the leaves
// of its testonly package; leaf numbers there are 1-based).
var (
	vectorInclusion = []struct {
		leaf, size uint64
		proof      [][]byte
	}{
		{1, 1, nil},
		{1, 8, [][]byte{
			hd("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
			hd("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
			hd("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
		}},
		{6, 8, [][]byte{
			hd("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
			hd("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
			hd("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
		}},
		{3, 3, [][]byte{
			hd("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
		}},
		{2, 5, [][]byte{
			hd("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
			hd("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
			hd("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
		}},
	}
	vectorConsistency = []struct {
		size1, size2 uint64
		proof        [][]byte
	}{
		{1, 1, nil},
		{1, 8, [][]byte{
			hd("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
			hd("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
			hd("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
		}},
		{6, 8, [][]byte{
			hd("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
			hd("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
			hd("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
		}},
		{2, 5, [][]byte{
			hd("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
			hd("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
		}},
		{6, 7, [][]byte{
			hd("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
			hd("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
			hd("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
		}},
	}
)

func sameHashes(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// TestMerkleVectors builds OUR log from the merkle module's test leaves,
// one entry at a time, and checks every root, stored node, inclusion proof
// and consistency proof against the published values.
func TestMerkleVectors(t *testing.T) {
	ctx := context.Background()
	l, store := newMemLog(t)
	roots := testonly.RootHashes()
	checkpoints := make([][]byte, len(roots))
	_, checkpoints[0], _ = l.Checkpoint(ctx)
	for i, leaf := range testonly.LeafInputs() {
		r, err := l.Append(ctx, leaf)
		if err != nil {
			t.Fatalf("Append leaf %d: %v", i, err)
		}
		if r.Index != uint64(i) {
			t.Fatalf("leaf %d got index %d", i, r.Index)
		}
		cp, signed, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cp.Size != uint64(i+1) || !bytes.Equal(cp.Hash, roots[i+1]) {
			t.Errorf("root at size %d = %x, want %x", i+1, cp.Hash, roots[i+1])
		}
		checkpoints[i+1] = signed
	}
	if cp, _, _ := l.Checkpoint(ctx); !bytes.Equal(roots[0], testonly.EmptyRootHash()) || cp.Size != 8 {
		t.Fatal("unexpected vector shape")
	}
	for level, hashes := range testonly.NodeHashes() {
		for idx, want := range hashes {
			got, err := store.Nodes(ctx, "acme", []ledger.NodeID{{Level: uint(level), Index: uint64(idx)}})
			if err != nil || !bytes.Equal(got[0], want) {
				t.Errorf("stored node (%d, %d) = %x, %v; want %x", level, idx, got, err, want)
			}
		}
	}
	for _, v := range vectorInclusion {
		got, err := l.InclusionProof(ctx, v.leaf-1, v.size)
		if err != nil {
			t.Errorf("InclusionProof(%d, %d): %v", v.leaf-1, v.size, err)
			continue
		}
		if !sameHashes(got, v.proof) {
			t.Errorf("InclusionProof(%d, %d) = %x, want %x", v.leaf-1, v.size, got, v.proof)
		}
	}
	for _, v := range vectorConsistency {
		got, err := l.ConsistencyProof(ctx, v.size1, v.size2)
		if err != nil {
			t.Errorf("ConsistencyProof(%d, %d): %v", v.size1, v.size2, err)
			continue
		}
		if !sameHashes(got, v.proof) {
			t.Errorf("ConsistencyProof(%d, %d) = %x, want %x", v.size1, v.size2, got, v.proof)
		}
		if err := ledger.VerifyConsistency(checkpoints[v.size1], checkpoints[v.size2], got, l.Verifier()); err != nil {
			t.Errorf("VerifyConsistency(%d, %d): %v", v.size1, v.size2, err)
		}
	}
	// Every (index, size) pair: receipts built from our proofs verify.
	for size := uint64(1); size <= 8; size++ {
		for idx := uint64(0); idx < size; idx++ {
			pr, err := l.InclusionProof(ctx, idx, size)
			if err != nil {
				t.Fatal(err)
			}
			r := &ledger.Receipt{Index: idx, Entry: testonly.LeafInputs()[idx], Checkpoint: checkpoints[size], Proof: pr}
			if err := ledger.VerifyReceipt(r, l.Verifier()); err != nil {
				t.Errorf("receipt %d in size %d: %v", idx, size, err)
			}
		}
		for old := uint64(0); old <= size; old++ {
			pr, err := l.ConsistencyProof(ctx, old, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := ledger.VerifyConsistency(checkpoints[old], checkpoints[size], pr, l.Verifier()); err != nil {
				t.Errorf("consistency %d -> %d: %v", old, size, err)
			}
		}
	}
}

// TestDSSEPAEVector checks the pre-authentication encoding that signs every
// attestation against the DSSE specification's example.
func TestDSSEPAEVector(t *testing.T) {
	got := passport.PAE("http://example.com/HelloWorld", []byte("hello world"))
	want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"
	if string(got) != want {
		t.Errorf("PAE = %q, want %q", got, want)
	}
}

// TestCheckpointIsC2SPNote checks the signed checkpoint's exact text form
// and that a stock note verifier built from the published key accepts it.
func TestCheckpointIsC2SPNote(t *testing.T) {
	ctx := context.Background()
	l, _ := newMemLog(t)
	mustAppend(t, l, "")
	_, signed, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(l.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		t.Fatalf("stock note.Open: %v", err)
	}
	want := "humanos.dev/ledger/acme\n1\nbjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=\n"
	if n.Text != want {
		t.Errorf("checkpoint text = %q, want %q", n.Text, want)
	}
}
