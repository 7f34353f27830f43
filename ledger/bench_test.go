package ledger_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/adapters/sqlite"
	"github.com/humanos/human/ledger"
)

// BenchmarkAppend measures group-committed appends: many goroutines each
// Submit and Wait. entries/s is the throughput; ns/op is per entry.
func BenchmarkAppend(b *testing.B) {
	for _, bc := range []struct {
		name   string
		store  func(b *testing.B) ledger.Store
		linger time.Duration
	}{
		{"memory", func(b *testing.B) ledger.Store { return memory.NewLedgerStore() }, 0},
		{"sqlite", func(b *testing.B) ledger.Store { return sqlite.NewLedgerStore(openSQLite(b, tempDBPath(b))) }, 0},
		// The baselines: no linger (batches take only what is queued).
		{"memory-nolinger", func(b *testing.B) ledger.Store { return memory.NewLedgerStore() }, -1},
		{"sqlite-nolinger", func(b *testing.B) ledger.Store { return sqlite.NewLedgerStore(openSQLite(b, tempDBPath(b))) }, -1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			l := openLog(b, bc.store(b), "acme", newSigner(b), &ledger.Options{Linger: bc.linger})
			entry := []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"` + fmt.Sprintf("%0300d", 0) + `"}`)
			b.SetParallelism(32)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := l.Append(ctx, entry); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// BenchmarkVerifyReceipt measures offline receipt verification in a log
// of 4096 entries (a 12-hash proof).
func BenchmarkVerifyReceipt(b *testing.B) {
	ctx := context.Background()
	l, _ := newMemLog(b)
	var pending []*ledger.Pending
	for i := range 1 << 12 {
		p, err := l.Submit(ctx, fmt.Appendf(nil, "entry %d", i))
		if err != nil {
			b.Fatal(err)
		}
		pending = append(pending, p)
	}
	for _, p := range pending {
		if _, err := p.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
	r, err := l.Receipt(ctx, 1234)
	if err != nil {
		b.Fatal(err)
	}
	v := l.Verifier()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := ledger.VerifyReceipt(r, v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyExport measures offline verification of an export of
// 4096 attestations (signatures, tiles and root); entries/s is the
// verification throughput. batch is the default (each bundle's signatures
// verified in one batch); one-by-one is the baseline, the same check with
// every signature verified alone (VerifiedBy), through CheckEntry.
//
//	go test -run '^$' -bench 'VerifyExport' -cpu 1 -count 3 ./ledger/
func BenchmarkVerifyExport(b *testing.B) {
	ctx := context.Background()
	signer := newSigner(b)
	l := openLog(b, memory.NewLedgerStore(), "acme", signer, nil)
	const n = 4096
	attestN(b, l, 0, n)
	dir := b.TempDir()
	if _, err := l.Export(ctx, ledger.DirSink(dir), nil); err != nil {
		b.Fatal(err)
	}
	fsys := os.DirFS(dir)
	pub := signer.PublicKey()
	for _, bc := range []struct {
		name  string
		check func(uint64, []byte) error
	}{
		{"batch", nil},
		{"one-by-one", func(_ uint64, entry []byte) error {
			env, _, err := ledger.ParseAttestation(entry)
			if err != nil {
				return err
			}
			return env.VerifiedBy(pub)
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			opts := &ledger.VerifyExportOptions{VerifierKey: l.VerifierKey(), CheckEntry: bc.check}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ledger.VerifyExport(ctx, fsys, opts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}
