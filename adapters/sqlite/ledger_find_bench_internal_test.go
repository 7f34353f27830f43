package sqlite

import (
	"context"
	"fmt"
	"testing"

	"github.com/humanos/human/ledger"
)

// BenchmarkLedgerFind measures Find over 4,096 entries (16 appends of 256,
// ledgerTestFields) whose postings are all still recent rows (the most a
// merge threshold leaves unmerged), all in runs (16, the most a compaction
// leaves), or all compacted into postings: the cost of decoding the LSM's
// upper levels on every query. Run with -benchtime 2000x.
func BenchmarkLedgerFind(b *testing.B) {
	ctx := context.Background()
	for _, level := range []string{"recent", "runs", "postings"} {
		b.Run("in="+level, func(b *testing.B) {
			db, err := Open(ctx, b.TempDir()+"/human.db")
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.ledger.mu.Lock()
			db.ledger.mergeAt = 1 << 30
			db.ledger.compactAt = 1 << 30
			db.ledger.testStop = func(string) bool { return level == "recent" } // no background merge
			db.ledger.mu.Unlock()
			s := NewLedgerStore(db)
			for size := uint64(0); size < 4096; size += 256 {
				if err := ledgerTestAppend(ctx, s, size, 256); err != nil {
					b.Fatal(err)
				}
				if level != "recent" {
					if err := db.ledgerMerge(ctx, "acme"); err != nil { // one run per append
						b.Fatal(err)
					}
				}
			}
			if err := db.ledgerMergeAll(ctx); err != nil { // the log idle: merged recent rows dropped
				b.Fatal(err)
			}
			if level == "postings" {
				if err := db.ledgerCompact(ctx, "acme", 1); err != nil {
					b.Fatal(err)
				}
			}
			if n := ledgerCountRuns(b, db); (n == 16) != (level == "runs") {
				b.Fatalf("%d runs with the postings in %s", n, level)
			}
			for _, q := range []struct {
				name   string
				filter func(i uint64) *ledger.Filter
				limit  int
			}{
				{"subject", func(i uint64) *ledger.Filter { return &ledger.Filter{Subject: fmt.Sprintf("invoice:%d", i)} }, 10},
				{"actor", func(i uint64) *ledger.Filter { return &ledger.Filter{Actor: fmt.Sprintf("agent-%d", i%3)} }, 100},
			} {
				b.Run(q.name, func(b *testing.B) {
					for i := uint64(0); b.Loop(); i++ {
						if _, err := s.Find(ctx, "acme", q.filter(i*97%4096), 0, q.limit); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
