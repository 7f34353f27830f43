// Package ledger_test compares HUMAN's ledger with Tessera (v1.0.4, POSIX
// driver, checkpoint-only signing) on the same entries in the same run:
// append throughput under group commit and the latency from append to a
// receipt (ours) or a published checkpoint covering the entry (Tessera).
//
//	cd bench && go test -run '^$' -bench . -benchtime 20000x ./ledger/
package ledger_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
	"k8s.io/klog/v2"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/adapters/sqlite"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

// TestMain keeps Tessera's klog chatter out of the benchmark output.
func TestMain(m *testing.M) {
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	os.Exit(m.Run())
}

// windows are how many appends are in flight at once, the same for every
// system: 32 concurrent callers (a small service: latency is what
// matters), 64 and 96 (where HUMAN on SQLite crosses 20,000 attested
// entries/s on 2 cores with its receipt p99 around 10 ms), 256 (a busy
// service) and 4096 (saturation: throughput is what matters).
var windows = []int{32, 64, 96, 256, 4096}

// statements are the attestations every system logs: decision records of
// realistic size (~700 bytes signed).
func statement(i int) *ledger.Statement {
	st, err := ledger.NewStatement(ledger.PredicateDecision, map[string]any{
		"org": "acme", "agent": "did:key:z6MkAgent", "delegation": "dlg-7f3a", "action": "payments.transfer",
		"resource": fmt.Sprintf("invoice/%d", i), "status": "allowed", "effect": "allow", "rule": "small-transfers",
		"reason": "amount under the agent's limit", "policy_version": 12,
		"policy_digest": "9f2c1b7e4a3d5c6b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b",
		"time":          "2026-01-01T00:00:00Z",
	}, ledger.SubjectFor("did:key:z6MkAgent", []byte("did:key:z6MkAgent")))
	if err != nil {
		panic(err)
	}
	return st
}

// signedEntries are the same statements pre-signed (DSSE), for the systems
// that log bytes without signing each entry.
func signedEntries(b *testing.B, signer passport.Signer, n int) [][]byte {
	b.Helper()
	out := make([][]byte, n)
	for i := range out {
		payload, err := json.Marshal(statement(i))
		if err != nil {
			b.Fatal(err)
		}
		env, err := passport.Seal(ledger.PayloadType, payload, signer)
		if err != nil {
			b.Fatal(err)
		}
		if out[i], err = env.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

// settle flushes what earlier sub-benchmarks left to the file system
// (sync(2): dirty pages, and the journal commit that discards the blocks
// of their deleted directories) before the timer starts, so that a run
// does not pay for the one before it: after Tessera's run deleted its
// thousands of tile files, the next run's first fsyncs waited for that
// journal commit (this machine mounts with discard).
func settle() { syscall.Sync() }

// distinct is how many different entries each run cycles through.
const distinct = 1024

// fixture is what every run appends: the statements HUMAN attests, the
// same statements pre-signed for the systems that log bytes, and the key.
type fixture struct {
	signer  *passport.Ed25519Signer
	entries [][]byte
	stmts   []*ledger.Statement
}

func newFixture(b *testing.B) *fixture {
	signer, err := passport.GenerateEd25519()
	if err != nil {
		b.Fatal(err)
	}
	f := &fixture{signer: signer, entries: signedEntries(b, signer, distinct), stmts: make([]*ledger.Statement, distinct)}
	for i := range f.stmts {
		f.stmts[i] = statement(i)
	}
	return f
}

// humanLog opens org acme's log over store, closed when b ends.
func (f *fixture) humanLog(b *testing.B, store ledger.Store) *ledger.Log {
	l, err := ledger.Open(context.Background(), store, "acme", f.signer, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

// attest is one attested append: sign the i-th statement, wait for the
// receipt holding a signed checkpoint.
func (f *fixture) attest(l *ledger.Log) func(ctx context.Context, i int) error {
	return func(ctx context.Context, i int) error {
		p, err := l.Attest(ctx, f.stmts[i%distinct])
		if err != nil {
			return err
		}
		_, err = p.Wait(ctx)
		return err
	}
}

// tessera is one Tessera append of the i-th pre-signed entry, waiting for
// a published checkpoint that covers it.
func (f *fixture) tessera(app *tessera.Appender, awaiter *tessera.PublicationAwaiter) func(ctx context.Context, i int) error {
	return func(ctx context.Context, i int) error {
		_, _, err := awaiter.Await(ctx, app.Add(ctx, tessera.NewEntry(f.entries[i%distinct])))
		return err
	}
}

// sqliteStore opens a fresh SQLite ledger store, closed when b ends.
func sqliteStore(b *testing.B) *sqlite.LedgerStore {
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "human.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return sqlite.NewLedgerStore(db)
}

// drive runs b.N appends with at most window in flight, each in its own
// goroutine (as concurrent callers), and reports entries/s and the p50/p99
// latency from the append call to its receipt or covering checkpoint.
func drive(b *testing.B, window int, appendOne func(ctx context.Context, i int) error) {
	ctx := context.Background()
	lat := make([]time.Duration, b.N)
	sem := make(chan struct{}, window)
	var wg sync.WaitGroup
	var once sync.Once
	settle()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			start := time.Now()
			if err := appendOne(ctx, i); err != nil {
				once.Do(func() { b.Error(err) })
			}
			lat[i] = time.Since(start)
		}()
	}
	wg.Wait()
	b.StopTimer()
	reportLatency(b, lat)
}

// reportLatency reports the run's entries/s and the p50 and p99 of lat.
func reportLatency(b *testing.B, lat []time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*50/100].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// rates are offered loads (entries/s) for the open-loop runs
// (BenchmarkAppendPaced): appends start on a fixed schedule whatever the
// system's progress, and each latency counts from the scheduled start, so
// a system that falls behind its load shows it in p99 instead of slowing
// the load down (no coordinated omission). A closed-loop window of w
// callers instead bounds latency below by w / throughput (Little's law):
// it measures saturation throughput, this measures latency at a load.
var rates = []int{5000, 10000, 20000}

// drivePaced runs b.N appends offered at rate per second and reports the
// achieved entries/s and the p50/p99 latency from each append's scheduled
// start to its receipt or covering checkpoint.
func drivePaced(b *testing.B, rate int, appendOne func(ctx context.Context, i int) error) {
	ctx := context.Background()
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	var once sync.Once
	interval := time.Second / time.Duration(rate)
	settle()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		due := start.Add(time.Duration(i) * interval)
		// Sleep in steps of a millisecond or more (finer sleeps overshoot);
		// the appends due meanwhile start together, late by under 1 ms,
		// which their latency includes.
		if d := time.Until(due); d > time.Millisecond {
			time.Sleep(d)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := appendOne(ctx, i); err != nil {
				once.Do(func() { b.Error(err) })
			}
			lat[i] = time.Since(due)
		}()
	}
	wg.Wait()
	b.StopTimer()
	reportLatency(b, lat)
}

// BenchmarkAppendPaced offers each system the same fixed rates of appends
// (open loop): HUMAN attesting on SQLite (each entry signed, receipt with
// a signed checkpoint, query index) and Tessera's POSIX driver (pre-signed
// entries, checkpoint-only signing). Use -benchtime Nx with N a few
// seconds' worth of the highest rate:
//
//	cd bench && go test -run '^$' -bench AppendPaced -benchtime 60000x ./ledger/
func BenchmarkAppendPaced(b *testing.B) {
	f := newFixture(b)
	for _, rate := range rates {
		b.Run(fmt.Sprintf("human-attest-sqlite/r%d", rate), func(b *testing.B) {
			drivePaced(b, rate, f.attest(f.humanLog(b, sqliteStore(b))))
		})
		b.Run(fmt.Sprintf("tessera-posix/r%d", rate), func(b *testing.B) {
			app, awaiter, shutdown := tesseraAppender(b, 4*rate)
			defer shutdown()
			drivePaced(b, rate, f.tessera(app, awaiter))
		})
	}
}

// tesseraAppender starts a Tessera POSIX log in a temporary directory,
// configured as the comparison uses it: checkpoint-only signing, the
// driver's minimum checkpoint interval, batches of 256 or 10 ms, and a
// pushback limit of pushback entries in flight.
func tesseraAppender(b *testing.B, pushback int) (*tessera.Appender, *tessera.PublicationAwaiter, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	skey, _, err := note.GenerateKey(nil, "bench.example/tessera")
	if err != nil {
		b.Fatal(err)
	}
	ns, err := note.NewSigner(skey)
	if err != nil {
		b.Fatal(err)
	}
	driver, err := posix.New(ctx, posix.Config{Path: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(ns).
		WithCheckpointInterval(100*time.Millisecond). // the POSIX driver's minimum
		WithBatching(256, 10*time.Millisecond).
		WithPushback(uint(pushback))
	app, shutdown, reader, err := tessera.NewAppender(ctx, driver, opts)
	if err != nil {
		b.Fatal(err)
	}
	awaiter := tessera.NewPublicationAwaiter(ctx, reader.ReadCheckpoint, 5*time.Millisecond)
	return app, awaiter, func() {
		_ = shutdown(context.Background())
		cancel()
	}
}

func BenchmarkAppend(b *testing.B) {
	f := newFixture(b)
	stores := []struct {
		name string
		open func(b *testing.B) ledger.Store
	}{
		{"memory", func(b *testing.B) ledger.Store { return memory.NewLedgerStore() }},
		{"sqlite", func(b *testing.B) ledger.Store { return sqliteStore(b) }},
		// The same store without its query index (ledger.IndexStore hidden):
		// what indexing costs per attestation.
		{"sqlite-noindex", func(b *testing.B) ledger.Store { return struct{ ledger.Store }{sqliteStore(b)} }},
	}
	for _, w := range windows {
		for _, s := range stores {
			// Attested: each caller signs its entry (DSSE, Ed25519) and gets a
			// receipt holding a signed checkpoint.
			b.Run(fmt.Sprintf("human-attest-%s/w%d", s.name, w), func(b *testing.B) {
				drive(b, w, f.attest(f.humanLog(b, s.open(b))))
			})
			// The same pre-signed bytes Tessera gets.
			b.Run(fmt.Sprintf("human-presigned-%s/w%d", s.name, w), func(b *testing.B) {
				l := f.humanLog(b, s.open(b))
				drive(b, w, func(ctx context.Context, i int) error {
					_, err := l.Append(ctx, f.entries[i%distinct])
					return err
				})
			})
		}
		b.Run(fmt.Sprintf("tessera-posix/w%d", w), func(b *testing.B) {
			app, awaiter, shutdown := tesseraAppender(b, 2*w)
			defer shutdown()
			drive(b, w, f.tessera(app, awaiter))
		})
	}
}
