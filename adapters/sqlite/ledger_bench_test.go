package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/humanos/human/adapters/sqlite"
	"github.com/humanos/human/ledger"
)

// BenchmarkLedgerAppendIndexed measures the store alone under group commit
// batches of varying size (1 to 256 entries, as the sequencer produces),
// each entry 1,100 bytes (a signed decision attestation) with the index
// fields of a decision: ns/op is per entry, with the tree nodes a batch
// writes.
func BenchmarkLedgerAppendIndexed(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "h.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s := sqlite.NewLedgerStore(db)
	entry := make([]byte, 1100)
	sizes := []int{1, 3, 7, 12, 31, 45, 64, 90, 128, 200, 256, 17, 5, 77}
	var size uint64
	b.ReportAllocs()
	b.ResetTimer()
	for n, k := 0, 0; n < b.N; k++ {
		m := min(sizes[k%len(sizes)], b.N-n)
		entries := make([][]byte, m)
		fields := make([]*ledger.Fields, m)
		nodes := make([]ledger.Node, 0, m)
		for i := range m {
			idx := size + uint64(i)
			entries[i] = entry
			fields[i] = &ledger.Fields{Kind: ledger.PredicateDecision, Org: "acme", Action: "payments.send",
				Actors:   []string{"did:key:z6MkAgent", fmt.Sprintf("did:key:human%d", idx%50)},
				Subjects: []string{"did:key:z6MkAgent", "sha256:9f2c1b7e4a3d5c6b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b", fmt.Sprintf("invoice/%d", idx)},
				Time:     time.Unix(int64(idx), 0)}
			nodes = append(nodes, ledger.Node{ID: ledger.NodeID{Level: 0, Index: idx}, Hash: make([]byte, 32)})
		}
		if err := s.AppendIndexed(ctx, "acme", size, entries, fields, nodes, []byte("checkpoint")); err != nil {
			b.Fatal(err)
		}
		size += uint64(m)
		n += m
	}
}
