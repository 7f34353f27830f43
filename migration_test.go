package human_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/bundle"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
)

// migrationWorld runs a few scenario calls on a sqlite deployment and
// returns it with the receipts it issued.
func migrationWorld(t *testing.T) (*world, human.Config, []*ledger.Receipt) {
	t.Helper()
	cfg := profiles["sqlite"](t)
	w := setup(t, cfg)
	var receipts []*ledger.Receipt
	for _, c := range []struct {
		action, resource string
		amount           float64
	}{{"payments.send", "invoice:1", 42}, {"payments.send", "invoice:2", 1200}, {"ledger.delete", "ledger:1", 0}} {
		out := w.call(t, c.action, c.resource, c.amount)
		receipts = append(receipts, out.Receipts...)
		if out.Task != nil {
			waitDelivered(t, w.c, out.Task.ID)
		}
	}
	return w, cfg, receipts
}

// waitDelivered waits until the background sweep has attested every
// event of a task (its outbox is empty). An export taken earlier carries
// the undelivered events, and the destination's sweep attests them: right,
// but a count comparison would see the destination's log one longer.
func waitDelivered(t testing.TB, c *human.Client, id string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tk, err := c.Task(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		done := true
		for _, e := range tk.Events {
			done = done && e.Recorded
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s: events not attested after 10s: %+v", id, tk.Events)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMigrationExportImport moves an org from sqlite to every other local
// profile: same decisions, same log (receipts from before verify after,
// the new checkpoint is consistent with the exported one), equal counts,
// and a re-run writes nothing.
func TestMigrationExportImport(t *testing.T) {
	ctx := context.Background()
	for _, to := range []string{"memory", "sqlite", "postgres"} {
		t.Run(to, func(t *testing.T) {
			src, srcCfg, receipts := migrationWorld(t)
			dir := filepath.Join(t.TempDir(), "bundle")
			m, err := src.c.Export(ctx, dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			cfg := profiles[to](t)
			cfg.OrgKeyFile = filepath.Join(srcCfg.DataDir, "keys", human.DefaultOrg+".pem") // the org key moves
			dst, err := human.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			rep, err := dst.Import(ctx, dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Written[bundle.KindEntries] != int(m.Size) {
				t.Fatalf("wrote %d entries, want %d", rep.Written[bundle.KindEntries], m.Size)
			}
			again, err := dst.Import(ctx, dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, n := range again.Written {
				if n != 0 && k != bundle.KindEdges {
					t.Fatalf("re-import wrote %d %s", n, k)
				}
			}
			// Zero lost records: export the destination, compare counts per kind.
			m2, err := dst.Export(ctx, filepath.Join(t.TempDir(), "again"), nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, n := range m.Counts {
				if m2.Counts[k] != n {
					t.Errorf("%s: %d after, %d before", k, m2.Counts[k], n)
				}
			}
			if m2.Checkpoint != m.Checkpoint || m2.Origin != m.Origin {
				t.Fatalf("the destination's log is not the same log")
			}
			// Every receipt from before verifies with the destination's key.
			if dst.LedgerKey() != src.c.LedgerKey() {
				t.Fatal("ledger key changed")
			}
			for _, r := range receipts {
				if err := human.VerifyReceipt(r, dst.LedgerKey()); err != nil {
					t.Fatalf("receipt %d: %v", r.Index, err)
				}
			}
			// The same decisions, and the log continues.
			dw := *src
			dw.c = dst
			for _, c := range []struct {
				action, resource string
				amount           float64
				want             human.Status
			}{{"payments.send", "invoice:9", 10, human.Allowed}, {"payments.send", "invoice:10", 1500, human.Pending}, {"ledger.delete", "ledger:2", 0, human.Denied}} {
				a, b := src.call(t, c.action, c.resource, c.amount), dw.call(t, c.action, c.resource, c.amount)
				if a.Status != b.Status || a.Decision.Rule != b.Decision.Rule || a.Status != c.want {
					t.Fatalf("%s %s: source %s by %q, destination %s by %q", c.action, c.resource, a.Status, a.Decision.Rule, b.Status, b.Decision.Rule)
				}
			}
			cp, signed, err := dst.Ledger().Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			proof, err := dst.Ledger().ConsistencyProof(ctx, m.Size, cp.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := ledger.VerifyConsistency([]byte(m.Checkpoint), signed, proof, dst.Ledger().Verifier()); err != nil {
				t.Fatalf("new checkpoint not consistent with the exported one: %v", err)
			}
		})
	}
}

// TestAttackBundle: a bundle with a changed byte, a missing part, an extra
// file, a future version or a foreign signature is refused before any
// write.
func TestAttackBundle(t *testing.T) {
	ctx := context.Background()
	src, srcCfg, _ := migrationWorld(t)
	good := filepath.Join(t.TempDir(), "bundle")
	if _, err := src.c.Export(ctx, good, nil); err != nil {
		t.Fatal(err)
	}
	copyDir := func(t *testing.T) string {
		dst := filepath.Join(t.TempDir(), "b")
		if err := os.CopyFS(dst, os.DirFS(good)); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	flip := func(name string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			p := filepath.Join(dir, filepath.FromSlash(name))
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 1
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name   string
		mutate func(t *testing.T, dir string)
		want   error
		key    string // "foreign": import into a deployment with another org key
	}{
		{"changed byte in passports", flip(bundle.PassportsFile), errs.ErrUnauthenticated, ""},
		{"changed byte in edges", flip(bundle.EdgesFile), errs.ErrUnauthenticated, ""},
		{"changed byte in a ledger bundle", flip("ledger/tile/entries/000.p/" + "x"), nil, ""},
		{"changed byte in the manifest", flip(bundle.ManifestFile), nil, ""},
		{"missing part", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, bundle.TasksFile)) }, errs.ErrNotFound, ""},
		{"missing signature", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, bundle.SignatureFile)) }, errs.ErrNotFound, ""},
		{"unlisted file", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "extra.jsonl"), []byte("{}\n"), 0o644)
		}, errs.ErrUnauthenticated, ""},
		{"future version", func(t *testing.T, dir string) {
			p := filepath.Join(dir, bundle.ManifestFile)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(b), `"version": 1`, `"version": 2`, 1)), 0o644)
		}, errs.ErrFailedPrecondition, ""},
		{"foreign signature", func(*testing.T, string) {}, errs.ErrPermissionDenied, "foreign"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t)
			if strings.Contains(c.name, "ledger bundle") {
				var first string
				filepath.WalkDir(filepath.Join(dir, "ledger", "tile", "entries"), func(p string, d os.DirEntry, err error) error {
					if err == nil && !d.IsDir() && first == "" {
						first = p
					}
					return nil
				})
				if first == "" {
					t.Fatal("no entry bundle")
				}
				rel, _ := filepath.Rel(dir, first)
				flip(filepath.ToSlash(rel))(t, dir)
			} else {
				c.mutate(t, dir)
			}
			cfg := profiles["sqlite"](t)
			if c.key != "foreign" {
				cfg.OrgKeyFile = filepath.Join(srcCfg.DataDir, "keys", human.DefaultOrg+".pem")
			}
			dst, err := human.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			_, err = dst.Import(ctx, dir, nil)
			if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if cp, _, _ := dst.Ledger().Checkpoint(ctx); cp.Size != 0 {
				t.Fatalf("refused import wrote %d ledger entries", cp.Size)
			}
			if _, err := dst.Passports().Get(ctx, human.DefaultOrg, src.alice.DID); !errors.Is(err, errs.ErrNotFound) {
				t.Fatalf("refused import wrote a passport: %v", err)
			}
		})
	}
}
