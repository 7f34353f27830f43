package bundle_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/bundle"
	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

const claimsOrg = "acme"

// claimsStores are one deployment of claimsOrg on memory stores, with a
// one-entry log signed by key.
func claimsStores(t *testing.T, key *passport.Ed25519Signer, graph capability.Store) *bundle.Stores {
	t.Helper()
	ctx := context.Background()
	log, err := ledger.Open(ctx, memory.NewLedgerStore(), claimsOrg, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	return &bundle.Stores{Org: claimsOrg, Log: log, Signer: key, Passports: memory.NewPassportStore(), Graph: graph,
		Policies: memory.NewPolicyStore(), Tasks: memory.NewQueueStore()}
}

func attestOne(t *testing.T, log *ledger.Log) {
	t.Helper()
	st, err := ledger.NewStatement(ledger.PredicateCapabilityChange, map[string]any{"org": claimsOrg},
		ledger.Subject{Name: "claim/c1", Digest: map[string]string{"sha256": digest(1)}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := log.Attest(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func digest(n int) string { return fmt.Sprintf("%064x", n) }

// claimsSource is a source with claim records c1..c3 and evidence on a
// holding, exported to a fresh directory.
func claimsSource(t *testing.T, key *passport.Ed25519Signer) (*bundle.Stores, string) {
	t.Helper()
	ctx := context.Background()
	g := memory.NewGraphStore()
	for i := 1; i <= 3; i++ {
		if err := g.RecordClaim(ctx, claimsOrg, fmt.Sprintf("c%d", i), digest(i)); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 5, 6, 7, 8, 9, 10, time.UTC)
	for _, ev := range []capability.Evidence{{Kind: "approval", Ref: "ledger:4", Task: "t4", At: at}, {Kind: "task", Ref: "ledger:2", At: at.Add(-time.Hour)}} {
		if err := g.AddEvidence(ctx, claimsOrg, "did:human:dave", "finance.approver", ev); err != nil {
			t.Fatal(err)
		}
	}
	src := claimsStores(t, key, g)
	attestOne(t, src.Log)
	dir := filepath.Join(t.TempDir(), "bundle")
	m, err := bundle.Export(ctx, src, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Counts[bundle.KindClaims] != 3 || m.Counts[bundle.KindEvidence] != 2 {
		t.Fatalf("counts %v", m.Counts)
	}
	return src, dir
}

// graphOnly hides every optional interface of a graph store.
type graphOnly struct{ capability.Store }

// claimsOnly keeps the claim record but hides the evidence and listers.
type claimsOnly struct {
	capability.Store
	capability.ClaimStore
}

// TestImportClaimsAndEvidence: records and evidence arrive as they were;
// a destination that contradicts them, or cannot keep the claim record,
// is refused before any write; evidence is skipped (and counted) where
// the destination keeps none.
func TestImportClaimsAndEvidence(t *testing.T) {
	ctx := context.Background()
	key, _ := passport.GenerateEd25519()
	_, dir := claimsSource(t, key)

	t.Run("as they were", func(t *testing.T) {
		g := memory.NewGraphStore()
		rep, err := bundle.Import(ctx, dir, claimsStores(t, key, g), nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Written[bundle.KindClaims] != 3 || rep.Written[bundle.KindEvidence] != 2 {
			t.Fatalf("wrote %v", rep.Written)
		}
		recs, err := g.ListClaims(ctx, claimsOrg, "", 10)
		if err != nil || len(recs) != 3 || recs[1] != (capability.ClaimRecord{ID: "c2", Digest: digest(2)}) {
			t.Fatalf("claims %+v, %v", recs, err)
		}
		if err := g.RecordClaim(ctx, claimsOrg, "c2", digest(2)); !errors.Is(err, errs.ErrConflict) {
			t.Fatalf("c2 after import: %v, want ErrConflict (spent)", err)
		}
		ev, err := g.Evidence(ctx, claimsOrg, "did:human:dave", "finance.approver")
		if err != nil || len(ev) != 2 || ev[0].Ref != "ledger:2" || ev[1].Task != "t4" || !ev[1].At.Equal(time.Date(2026, 5, 6, 7, 8, 9, 10, time.UTC)) {
			t.Fatalf("evidence %+v, %v", ev, err)
		}
	})
	for _, c := range []struct {
		name  string
		graph func() capability.Store
		want  error
	}{
		{"claim with another digest", func() capability.Store {
			g := memory.NewGraphStore()
			g.RecordClaim(ctx, claimsOrg, "c2", digest(99))
			return g
		}, errs.ErrConflict},
		{"evidence with another kind", func() capability.Store {
			g := memory.NewGraphStore()
			g.AddEvidence(ctx, claimsOrg, "did:human:dave", "finance.approver", capability.Evidence{Kind: "forged", Ref: "ledger:4", At: time.Now()})
			return g
		}, errs.ErrConflict},
		{"store without a claim record", func() capability.Store { return graphOnly{memory.NewGraphStore()} }, errs.ErrFailedPrecondition},
	} {
		t.Run(c.name, func(t *testing.T) {
			dst := claimsStores(t, key, c.graph())
			if _, err := bundle.Import(ctx, dir, dst, nil); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if cp, _, _ := dst.Log.Checkpoint(ctx); cp.Size != 0 {
				t.Fatalf("refused import wrote %d ledger entries", cp.Size)
			}
		})
	}
	t.Run("store without evidence", func(t *testing.T) {
		g := memory.NewGraphStore()
		rep, err := bundle.Import(ctx, dir, claimsStores(t, key, claimsOnly{g, g}), nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Written[bundle.KindClaims] != 3 || rep.Skipped[bundle.KindEvidence] != 2 || rep.Written[bundle.KindEvidence] != 0 {
			t.Fatalf("wrote %v, skipped %v", rep.Written, rep.Skipped)
		}
	})
}

// TestExportNeedsClaimLister: a graph store that keeps claims but cannot
// list them cannot be exported (the records would be lost: a replay
// hole); one that keeps none exports empty parts.
func TestExportNeedsClaimLister(t *testing.T) {
	ctx := context.Background()
	key, _ := passport.GenerateEd25519()
	g := memory.NewGraphStore()
	src := claimsStores(t, key, graphListerClaims{g, g, g})
	attestOne(t, src.Log)
	if _, err := bundle.Export(ctx, src, filepath.Join(t.TempDir(), "b"), nil); !errors.Is(err, errs.ErrFailedPrecondition) {
		t.Fatalf("got %v, want ErrFailedPrecondition", err)
	}
	src = claimsStores(t, key, graphLister{g, g})
	attestOne(t, src.Log)
	m, err := bundle.Export(ctx, src, filepath.Join(t.TempDir(), "b"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := m.Counts[bundle.KindClaims]; !ok || n != 0 {
		t.Fatalf("claims count %d (present %v), want 0", n, ok)
	}
}

type graphLister struct {
	capability.Store
	capability.Lister
}

type graphListerClaims struct {
	capability.Store
	capability.Lister
	capability.ClaimStore
}

// TestVerifyClaimsOrder: claim records out of listing order (so a
// duplicate could hide) are refused even when the manifest is signed.
func TestVerifyClaimsOrder(t *testing.T) {
	ctx := context.Background()
	key, _ := passport.GenerateEd25519()
	_, dir := claimsSource(t, key)
	lines := []capability.ClaimRecord{{ID: "c2", Digest: digest(2)}, {ID: "c1", Digest: digest(1)}, {ID: "c3", Digest: digest(3)}}
	var body []byte
	for _, l := range lines {
		b, _ := json.Marshal(l)
		body = append(append(body, b...), '\n')
	}
	resign(t, dir, key, bundle.ClaimsFile, body)
	if _, err := bundle.Verify(ctx, dir, nil); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Fatalf("got %v, want ErrInvalidArgument", err)
	}
}

// resign replaces a part and re-signs the manifest with key, as only the
// org key holder can.
func resign(t *testing.T, dir string, key passport.Signer, part string, body []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, part), body, 0o644); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, bundle.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var m bundle.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	h := sha256Hex(body)
	for i := range m.Files {
		if m.Files[i].Path == part {
			m.Files[i].SHA256, m.Files[i].Size = h, int64(len(body))
		}
	}
	raw, _ = json.MarshalIndent(&m, "", "  ")
	raw = append(raw, '\n')
	env, err := passport.Seal(bundle.PayloadType, raw, key)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := env.Marshal()
	os.WriteFile(filepath.Join(dir, bundle.ManifestFile), raw, 0o644)
	os.WriteFile(filepath.Join(dir, bundle.SignatureFile), append(sig, '\n'), 0o644)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
