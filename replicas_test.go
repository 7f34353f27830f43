package human_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/adapters/remote"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/workforce"
)

// replicas starts two `human serve` processes on one PostgreSQL schema
// (the postgres profile's), sharing the org's checkpoint key (a shared
// data directory) and its admin key (--org-admins), and returns a world
// set up through the first and a client of each replica.
func replicas(t testing.TB) (w *world, c1, c2 *human.Client, bases [2]string, cfg human.Config, admin *passport.Ed25519Signer) {
	t.Helper()
	cfg = postgresProfile(t)
	const org = "acme"
	if _, err := human.LoadOrCreateKeyFile(filepath.Join(cfg.DataDir, "keys", org+".pem")); err != nil {
		t.Fatal(err)
	}
	admin, err := passport.GenerateEd25519()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--data-dir", cfg.DataDir, "--store", cfg.Store, "--org-admins", org + "=" + admin.PublicKey().String(),
		"--concurrency", "-1"}
	b1, b2 := startServer(t, args...), startServer(t, args...)
	ctx := context.Background()
	open := func(base string) *human.Client {
		c, err := human.Open(ctx, human.Config{BaseURL: base, Org: org, OrgSigner: admin})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	w = setup(t, human.Config{BaseURL: b1, Org: org, OrgSigner: admin})
	c1, c2 = w.c, open(b2)
	if c1.LedgerKey() != c2.LedgerKey() {
		t.Fatalf("replicas publish different ledger keys %q and %q", c1.LedgerKey(), c2.LedgerKey())
	}
	cfg.Org = org
	return w, c1, c2, [2]string{b1, b2}, cfg, admin
}

// TestReplicasOnPostgres runs scenario calls alternating between two
// server replicas on one PostgreSQL database: a call on one, the vote on
// the other, the waiter back on the first.
func TestReplicasOnPostgres(t *testing.T) {
	w, c1, c2, _, _, _ := replicas(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	on := func(c *human.Client) *world { cp := *w; cp.c = c; return &cp }
	w1, w2 := on(c1), on(c2)

	out := w2.call(t, "payments.send", "invoice:1", 42)
	if out.Status != human.Allowed {
		t.Fatalf("call on replica 2: %s: %s", out.Status, out.Reason)
	}
	verifyAll(t, w1, out)

	// A pending call on replica 1, approved on replica 2: the waiter on
	// replica 1 sees the decision.
	pending := w1.call(t, "payments.send", "invoice:2", 1200)
	if pending.Status != human.Pending || pending.Task == nil {
		t.Fatalf("got %s: %s", pending.Status, pending.Reason)
	}
	waited := make(chan *human.Outcome, 1)
	waitErr := make(chan error, 1)
	go func() {
		o, err := pending.Wait(ctx)
		waitErr <- err
		waited <- o
	}()
	time.Sleep(200 * time.Millisecond) // the waiter is parked on replica 1
	d, err := w2.vote(t, w.bobKey, w.bob, pending.Task, "approve")
	if err != nil {
		t.Fatal(err)
	}
	if d.Task.State != workforce.Approved {
		t.Fatalf("task %s after the vote on replica 2", d.Task.State)
	}
	if err := <-waitErr; err != nil {
		t.Fatalf("waiter on replica 1: %v", err)
	}
	if final := <-waited; final.Status != human.Allowed {
		t.Fatalf("waiter on replica 1 got %s: %s", final.Status, final.Reason)
	} else {
		verifyAll(t, w2, final)
	}

	// A deny on replica 1 of a call made on replica 2.
	pending = w2.call(t, "payments.send", "invoice:3", 900)
	if _, err := w1.vote(t, w.carolKey, w.carol, pending.Task, "deny"); err != nil {
		t.Fatal(err)
	}
	final, err := pending.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if final.Status != human.Denied {
		t.Fatalf("final %s: %s", final.Status, final.Reason)
	}
	// The policy published through replica 1 decides on replica 2 too.
	if out := w2.call(t, "ledger.delete", "ledger:1", 0); out.Status != human.Denied || out.Decision.Rule != "no-deletes" {
		t.Fatalf("deny rule on replica 2: %s by %q", out.Status, out.Decision.Rule)
	}
}

// TestReplicasAppendOneLog has two replicas append attestations to one
// org's log concurrently; the exported log verifies with every entry
// present once, no gap, and both replicas' checkpoints on the same tree
// (no fork).
func TestReplicasAppendOneLog(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	_, _, _, bases, cfg, admin := replicas(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var rcs [2]*remote.Client
	for i, base := range bases {
		rc, err := remote.New(remote.Options{BaseURL: base, KeyID: remote.AdminKeyID(cfg.Org, admin.PublicKey()), Signer: admin})
		if err != nil {
			t.Fatal(err)
		}
		rcs[i] = rc
	}
	const workers = 16 // per replica
	var next atomic.Int64
	var mu sync.Mutex
	indexes := map[uint64]string{}
	var wg sync.WaitGroup
	errc := make(chan error, 2*workers)
	start := time.Now()
	for r := range rcs {
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= int64(n) {
						return
					}
					entry := fmt.Sprintf("replica-append %d", i)
					rec, err := rcs[r].Append(ctx, []byte(entry))
					if err != nil {
						errc <- fmt.Errorf("append %d on replica %d: %w", i, r+1, err)
						return
					}
					mu.Lock()
					if prev, dup := indexes[rec.Index]; dup {
						mu.Unlock()
						errc <- fmt.Errorf("index %d given to %q and %q: a fork", rec.Index, prev, entry)
						return
					}
					indexes[rec.Index] = entry
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	t.Logf("%d appends through 2 replicas x %d workers in %s (%.0f/s)", n, workers, time.Since(start).Round(time.Millisecond), float64(n)/time.Since(start).Seconds())
	var cps [2]string
	for i, rc := range rcs {
		cp, err := rc.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cps[i] = cp.Checkpoint
	}
	// Export from the database with an embedded client (the same store and
	// checkpoint key) and verify offline.
	emb, err := human.Open(ctx, human.Config{Store: cfg.Store, DataDir: cfg.DataDir, Org: cfg.Org})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	dir := t.TempDir()
	m, err := emb.Ledger().Export(ctx, ledger.DirSink(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	if int(m.Size) < n {
		t.Fatalf("export has %d entries, want at least %d", m.Size, n)
	}
	seen := make([]atomic.Bool, n)
	check := func(index uint64, entry []byte) error {
		var i int
		if _, err := fmt.Sscanf(string(entry), "replica-append %d", &i); err != nil {
			return nil // the setup's own attestations
		}
		if i < 0 || i >= n || seen[i].Swap(true) {
			return fmt.Errorf("entry %d (%q) duplicated or out of range", index, entry)
		}
		if got := indexes[index]; got != string(entry) {
			return fmt.Errorf("entry %d is %q, its receipt said %q", index, entry, got)
		}
		return nil
	}
	for _, since := range cps {
		if _, err := ledger.VerifyExport(ctx, os.DirFS(dir), &ledger.VerifyExportOptions{
			VerifierKey: emb.LedgerKey(), Since: []byte(since), CheckEntry: check}); err != nil {
			t.Fatalf("export against a replica's checkpoint: %v", err)
		}
		for i := range seen {
			if !seen[i].Load() {
				t.Fatalf("append %d is missing from the log: a gap", i)
			}
			seen[i].Store(false)
		}
	}
	got := slices.Sorted(func(yield func(uint64) bool) {
		for k := range indexes {
			if !yield(k) {
				return
			}
		}
	})
	if len(got) != n || got[len(got)-1]-got[0] != uint64(n-1) {
		t.Fatalf("receipts cover %d indexes from %d to %d, want %d contiguous", len(got), got[0], got[len(got)-1], n)
	}
}

// BenchmarkReplicasCall measures allowed Calls through two server replicas
// on one PostgreSQL database, alternating between them, with p50 and p99
// latencies (the load generator shares the machine):
//
//	go test -run '^$' -bench ReplicasCall -benchtime 5s .
func BenchmarkReplicasCall(b *testing.B) {
	w, c1, c2, _, _, _ := replicas(b)
	clients := []*human.Client{c1, c2}
	req := human.Request{Agent: w.agent.DID, Delegation: w.dlg.ID, Action: "payments.send", Resource: "invoice:1",
		Attributes: map[string]any{"amount": 42.0}}
	var mu sync.Mutex
	var lat []time.Duration
	var which atomic.Int64
	b.SetParallelism(16) // 16 x GOMAXPROCS callers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := clients[which.Add(1)%2]
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			out, err := c.Call(context.Background(), req)
			if err != nil || out.Status != human.Allowed {
				b.Errorf("call: %v %v", err, out)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	if len(lat) > 0 {
		slices.Sort(lat)
		b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "calls/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}
