package snowflake_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/humanos/human/ledger"
)

// BenchmarkLedgerAppend is the Snowflake ledger's hot operation: one
// Append of one entry (CAS UPDATE and two INSERTs in one transaction).
func BenchmarkLedgerAppend(b *testing.B) {
	s := newStore(b, testDB(b))
	ctx := context.Background()
	size := uint64(0)
	for b.Loop() {
		e := []byte(fmt.Sprint("entry-", size))
		if err := s.Append(ctx, "acme", size, [][]byte{e}, []ledger.Node{{ID: ledger.NodeID{Index: size}, Hash: e}}, e); err != nil {
			b.Fatal(err)
		}
		size++
	}
}
