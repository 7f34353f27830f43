package s3_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/humanos/human/ledger"
)

// BenchmarkLedgerAppend is the S3 ledger's hot operation: one Append of
// one entry (head read, batch create-if-absent, entry and node objects,
// head hint CAS) against versitygw on loopback.
func BenchmarkLedgerAppend(b *testing.B) {
	bk, _, _ := newTestBucket(b, nil)
	s := bk.LedgerStore()
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

// BenchmarkPolicyActive is the S3 policy store's hot read: the active
// version and its document (two GETs).
func BenchmarkPolicyActive(b *testing.B) {
	bk, _, _ := newTestBucket(b, nil)
	s := bk.PolicyStore()
	ctx := context.Background()
	if err := s.PutVersion(ctx, "acme", 1, []byte("version: 1")); err != nil {
		b.Fatal(err)
	}
	if err := s.SetActive(ctx, "acme", 1, 0); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := s.Active(ctx, "acme"); err != nil {
			b.Fatal(err)
		}
	}
}
