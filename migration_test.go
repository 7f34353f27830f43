package human_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/bundle"
	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
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

// claimsWorld is a sqlite deployment where an org-signed claim granted
// Dave finance.approver, Dave approved a payment under it (evidence on
// his holding), and the grant was then removed: the claim is spent, its
// edge gone, the evidence stays.
func claimsWorld(t *testing.T) (*world, human.Config, *passport.Envelope) {
	t.Helper()
	ctx := context.Background()
	cfg := profiles["sqlite"](t)
	w := setup(t, cfg)
	org := w.c.Org()
	grant := signClaim(t, w, w.c.OrgClaimSigner(), capability.Claim{ID: "c-dave-approver", Kind: capability.ClaimGrant,
		Issuer: capability.OrgIssuer(org), Subject: w.dave.DID, Object: "finance.approver"})
	if _, err := w.c.Claim(ctx, grant); err != nil {
		t.Fatal(err)
	}
	out := w.call(t, "payments.send", "invoice:claims", 1200)
	if out.Status != human.Pending {
		t.Fatalf("got %s: %s", out.Status, out.Reason)
	}
	if _, err := w.vote(t, w.daveKey, w.dave, out.Task, "approve"); err != nil {
		t.Fatal(err)
	}
	waitDelivered(t, w.c, out.Task.ID)
	if err := w.c.Capabilities().RemoveEdge(ctx, org, w.dave.DID, capability.Holds, "finance.approver"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := w.c.Holds(ctx, w.dave.DID, "finance.approver"); ok {
		t.Fatal("dave still holds finance.approver after the edge was removed")
	}
	if ev, err := w.c.CapabilityEvidence(ctx, w.dave.DID, "finance.approver"); err != nil || len(ev) != 1 {
		t.Fatalf("evidence before export = %+v, %v; want 1", ev, err)
	}
	if _, err := w.c.Claim(ctx, grant); !errors.Is(err, errs.ErrConflict) {
		t.Fatalf("replay on the source = %v, want ErrConflict", err)
	}
	return w, cfg, grant
}

// TestAttackClaimReplayAfterMigration: a claim applied before a migration
// stays spent after it. The org applies a grant, removes the edge it
// wrote, exports and imports into another profile; replaying the grant
// there is errs.ErrConflict and re-grants nothing. The evidence of work
// done under the removed holding survives the move equal, and a re-import
// writes neither again.
func TestAttackClaimReplayAfterMigration(t *testing.T) {
	ctx := context.Background()
	for _, to := range []string{"memory", "sqlite", "postgres"} {
		t.Run(to, func(t *testing.T) {
			src, srcCfg, grant := claimsWorld(t)
			want, err := src.c.CapabilityEvidence(ctx, src.dave.DID, "finance.approver")
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "bundle")
			m, err := src.c.Export(ctx, dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if m.Counts[bundle.KindClaims] != 1 || m.Counts[bundle.KindEvidence] != 1 {
				t.Fatalf("manifest counts %v: want 1 claim record and 1 evidence", m.Counts)
			}
			cfg := profiles[to](t)
			cfg.OrgKeyFile = filepath.Join(srcCfg.DataDir, "keys", human.DefaultOrg+".pem")
			dst, err := human.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			rep, err := dst.Import(ctx, dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Written[bundle.KindClaims] != 1 || rep.Written[bundle.KindEvidence] != 1 {
				t.Fatalf("import wrote %v", rep.Written)
			}
			if _, err := dst.Claim(ctx, grant); !errors.Is(err, errs.ErrConflict) {
				t.Fatalf("replay after migration = %v, want ErrConflict", err)
			}
			if _, ok, _ := dst.Holds(ctx, src.dave.DID, "finance.approver"); ok {
				t.Fatal("the replayed claim re-granted finance.approver")
			}
			got, err := dst.CapabilityEvidence(ctx, src.dave.DID, "finance.approver")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("evidence after import %+v, before %+v", got, want)
			}
			for i := range want {
				g, w := got[i], want[i]
				if g.Kind != w.Kind || g.Ref != w.Ref || g.Task != w.Task || !g.At.Equal(w.At) {
					t.Fatalf("evidence[%d] after import %+v, before %+v", i, g, w)
				}
			}
			again, err := dst.Import(ctx, dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if again.Written[bundle.KindClaims] != 0 || again.Written[bundle.KindEvidence] != 0 {
				t.Fatalf("re-import wrote %v", again.Written)
			}
			// The destination still applies new claims.
			fresh := signClaim(t, src, src.c.OrgClaimSigner(), capability.Claim{ID: "c-after-move", Kind: capability.ClaimGrant,
				Issuer: capability.OrgIssuer(dst.Org()), Subject: src.dave.DID, Object: "skill.reporting"})
			if _, err := dst.Claim(ctx, fresh); err != nil {
				t.Fatalf("a new claim after the move: %v", err)
			}
		})
	}
}

// TestAttackBundleClaims: a changed byte in the claim record or the
// evidence part is refused before any write, naming the part; a
// destination whose claim record contradicts the bundle's is refused; a
// bundle written before these parts existed (manifest without them,
// re-signed by the org key) still imports.
func TestAttackBundleClaims(t *testing.T) {
	ctx := context.Background()
	src, srcCfg, _ := claimsWorld(t)
	good := filepath.Join(t.TempDir(), "bundle")
	if _, err := src.c.Export(ctx, good, nil); err != nil {
		t.Fatal(err)
	}
	open := func(t *testing.T) *human.Client {
		cfg := profiles["sqlite"](t)
		cfg.OrgKeyFile = filepath.Join(srcCfg.DataDir, "keys", human.DefaultOrg+".pem")
		dst, err := human.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dst.Close() })
		return dst
	}
	copyDir := func(t *testing.T) string {
		d := filepath.Join(t.TempDir(), "b")
		if err := os.CopyFS(d, os.DirFS(good)); err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, part := range []string{bundle.ClaimsFile, bundle.EvidenceFile} {
		t.Run("changed byte in "+part, func(t *testing.T) {
			dir := copyDir(t)
			p := filepath.Join(dir, part)
			b, err := os.ReadFile(p)
			if err != nil || len(b) == 0 {
				t.Fatalf("%s: %d bytes, %v", part, len(b), err)
			}
			b[len(b)/2] ^= 1
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			dst := open(t)
			_, err = dst.Import(ctx, dir, nil)
			if !errors.Is(err, errs.ErrUnauthenticated) {
				t.Fatalf("got %v, want ErrUnauthenticated", err)
			}
			if !strings.Contains(err.Error(), part) { // the operator must learn which part was changed
				t.Fatalf("the error does not name %s: %v", part, err)
			}
			if cp, _, _ := dst.Ledger().Checkpoint(ctx); cp.Size != 0 {
				t.Fatalf("refused import wrote %d ledger entries", cp.Size)
			}
		})
	}
	t.Run("pre-claims bundle still imports", func(t *testing.T) {
		dir := copyDir(t)
		raw, err := os.ReadFile(filepath.Join(dir, bundle.ManifestFile))
		if err != nil {
			t.Fatal(err)
		}
		var m bundle.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		delete(m.Counts, bundle.KindClaims)
		delete(m.Counts, bundle.KindEvidence)
		m.Files = slices.DeleteFunc(m.Files, func(f bundle.File) bool {
			return f.Path == bundle.ClaimsFile || f.Path == bundle.EvidenceFile
		})
		for _, p := range []string{bundle.ClaimsFile, bundle.EvidenceFile} {
			if err := os.Remove(filepath.Join(dir, p)); err != nil {
				t.Fatal(err)
			}
		}
		raw, err = json.MarshalIndent(&m, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, '\n')
		env, err := passport.Seal(bundle.PayloadType, raw, src.c.OrgClaimSigner())
		if err != nil {
			t.Fatal(err)
		}
		sig, err := env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, bundle.ManifestFile), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, bundle.SignatureFile), append(sig, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		dst := open(t)
		rep, err := dst.Import(ctx, dir, nil)
		if err != nil {
			t.Fatalf("a bundle without the claim parts: %v", err)
		}
		if rep.Written[bundle.KindClaims] != 0 || rep.Written[bundle.KindEvidence] != 0 || rep.Written[bundle.KindEntries] != int(m.Size) {
			t.Fatalf("import wrote %v", rep.Written)
		}
	})
}
