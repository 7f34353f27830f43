package human_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/humanos/human"
	"github.com/humanos/human/adapters/remote"
	"github.com/humanos/human/bundle"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/workforce"
)

// drillCall is one step of the drill's scenario and the status it must get
// on every deployment.
type drillCall struct {
	action, resource string
	amount           float64
	want             human.Status
}

var drillScenario = []drillCall{
	{"payments.send", "invoice:d-small", 20, human.Allowed},
	{"payments.send", "invoice:d-large", 700, human.Pending},
	{"ledger.delete", "ledger:d", 0, human.Denied},
	{"mail.send", "invoice:d", 1, human.Denied}, // outside the delegation's scope
}

// runDrill runs the scenario on w, checks each status, waits until every
// opened task's events are attested, and returns the receipts and tasks.
func runDrill(t *testing.T, w *world, tag string) ([]*ledger.Receipt, []string) {
	t.Helper()
	var receipts []*ledger.Receipt
	var tasks []string
	for _, c := range drillScenario {
		out := w.call(t, c.action, c.resource+"-"+tag, c.amount)
		if out.Status != c.want {
			t.Fatalf("%s %s on %s: %s (%s), want %s", c.action, c.resource, tag, out.Status, out.Reason, c.want)
		}
		receipts = append(receipts, out.Receipts...)
		if out.Task != nil {
			tasks = append(tasks, out.Task.ID)
			waitDelivered(t, w.c, out.Task.ID)
		}
	}
	return receipts, tasks
}

// humanCmd runs the reference binary with a clean HUMAN_ environment.
func humanCmd(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(humanBinary(t), args...)
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "HUMAN_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("human %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestMigrationDrill is issue 10's drill: an app runs the scenario on the
// hosted profile (a real `human serve` on SQLite), the org is exported on
// the server and imported into a self-hosted deployment (PostgreSQL, plus
// the Neo4j graph and S3 policies when their test services are up), the
// app runs with the destination as its shadow and sees zero divergence, a
// final export/import catches up, the app is cut over by changing
// environment variables only, runs the same scenario again, and every
// receipt issued before the move verifies after it, with equal counts per
// kind.
func TestMigrationDrill(t *testing.T) {
	ctx := context.Background()
	pg := profiles["postgres"](t) // skips locally without the service

	// 1. Hosted: a server on SQLite, an enrolled org, the app's admin key.
	srvDir := t.TempDir()
	base := startServer(t, "--data-dir", srvDir, "--store", "sqlite://"+filepath.ToSlash(filepath.Join(srvDir, "human.db")))
	var b [4]byte
	rand.Read(b[:])
	org := "drill-" + hex.EncodeToString(b[:])
	admin, _ := passport.GenerateEd25519()
	adminFile := filepath.Join(t.TempDir(), "admin.pem")
	if err := passport.WriteKeyFile(adminFile, admin); err != nil {
		t.Fatal(err)
	}
	if err := remote.Enroll(ctx, base, org, admin); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"HUMAN_BASE_URL": base, "HUMAN_ORG": org, "HUMAN_ORG_KEY_FILE": adminFile,
		"HUMAN_STORE": "", "HUMAN_GRAPH": "", "HUMAN_POLICIES": "", "HUMAN_LEDGER": "", "HUMAN_DATA_DIR": "",
		"HUMAN_SHADOW_STORE": "", "HUMAN_SHADOW_GRAPH": "", "HUMAN_SHADOW_POLICIES": "", "HUMAN_SHADOW_ORG_KEY_FILE": "", "HUMAN_SHADOW_DATA_DIR": "", "HUMAN_SHADOW_LEDGER": ""} {
		t.Setenv(k, v)
	}
	hosted, err := human.FromEnv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := setup(t, human.Config{BaseURL: base, Org: org, OrgSigner: admin})
	w.c.Close()
	w.c = hosted
	before, pendingBefore := runDrill(t, w, "hosted")
	hostedKey := hosted.LedgerKey()

	// 2. Export on the server's data dir; import into self-hosted.
	dest := map[string]string{"--store": pg.Store}
	if os.Getenv("HUMAN_TEST_NEO4J_URL") != "" {
		dest["--graph"] = neo4jGraphURL(t)
	}
	if os.Getenv("HUMAN_TEST_S3_ENDPOINT") != "" {
		dest["--policies"] = s3BucketURL(t)
	}
	ledgerKey := filepath.Join(srvDir, "keys", org+".pem") // the org key moves with the org
	destDir := t.TempDir()
	destArgs := []string{"--org", org, "--data-dir", destDir, "--org-key-file", ledgerKey}
	for k, v := range dest {
		destArgs = append(destArgs, k, v)
	}
	srcArgs := []string{"--org", org, "--data-dir", srvDir, "--store", "sqlite://" + filepath.ToSlash(filepath.Join(srvDir, "human.db"))}
	b1 := filepath.Join(t.TempDir(), "b1")
	t.Log(humanCmd(t, append([]string{"export", "--out", b1}, srcArgs...)...))
	t.Log(humanCmd(t, append([]string{"import", "--in", b1}, destArgs...)...))

	// 3. Shadow traffic: the app, still hosted, with the destination as
	// its shadow (environment only).
	t.Setenv("HUMAN_SHADOW_STORE", dest["--store"])
	t.Setenv("HUMAN_SHADOW_GRAPH", dest["--graph"])
	t.Setenv("HUMAN_SHADOW_POLICIES", dest["--policies"])
	t.Setenv("HUMAN_SHADOW_DATA_DIR", destDir)
	t.Setenv("HUMAN_SHADOW_ORG_KEY_FILE", ledgerKey)
	shadowed, err := human.FromEnv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.c = shadowed
	during, _ := runDrill(t, w, "shadow")
	before = append(before, during...)
	if err := shadowed.ShadowFlush(ctx); err != nil {
		t.Fatal(err)
	}
	rep := shadowed.ShadowReport()
	t.Logf("shadow: %s", rep)
	if !rep.Zero() || rep.Agreed != uint64(len(drillScenario)) {
		t.Fatalf("shadow traffic diverged: %s %+v", rep, rep.Recent)
	}
	shadowed.Close()
	hosted.Close()

	// 4. Final sync (writers stopped): export again, import again; the
	// destination's log extends to the hosted one.
	b2 := filepath.Join(t.TempDir(), "b2")
	t.Log(humanCmd(t, append([]string{"export", "--out", b2}, srcArgs...)...))
	t.Log(humanCmd(t, append([]string{"import", "--in", b2}, destArgs...)...))
	m, err := bundle.Verify(ctx, b2, nil)
	if err != nil {
		t.Fatal(err)
	}

	// 5. Cut-over: environment variables only.
	for k, v := range map[string]string{"HUMAN_BASE_URL": "", "HUMAN_STORE": dest["--store"], "HUMAN_GRAPH": dest["--graph"],
		"HUMAN_POLICIES": dest["--policies"], "HUMAN_DATA_DIR": destDir, "HUMAN_ORG_KEY_FILE": ledgerKey,
		"HUMAN_SHADOW_STORE": "", "HUMAN_SHADOW_GRAPH": "", "HUMAN_SHADOW_POLICIES": "", "HUMAN_SHADOW_DATA_DIR": "", "HUMAN_SHADOW_ORG_KEY_FILE": ""} {
		t.Setenv(k, v)
	}
	self, err := human.FromEnv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()

	// Zero lost records: the destination's own export counts the same.
	m2, err := self.Export(ctx, filepath.Join(t.TempDir(), "b3"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, n := range m.Counts {
		if m2.Counts[k] != n {
			t.Errorf("%s: %d on self-hosted, %d exported from hosted", k, m2.Counts[k], n)
		}
	}
	if m2.Checkpoint != m.Checkpoint || self.LedgerKey() != hostedKey {
		t.Fatal("self-hosted does not continue the hosted log")
	}
	t.Logf("counts per kind, hosted = self-hosted: %v", m.Counts)

	// 6. The same scenario on self-hosted; a task opened before the move
	// is approved after it.
	w.c = self
	after, _ := runDrill(t, w, "self-hosted")
	d, err := w.vote(t, w.bobKey, w.bob, mustTask(t, self, pendingBefore[0]), "approve")
	if err != nil {
		t.Fatalf("approving a pre-move task on self-hosted: %v", err)
	}
	if d.Task.State != workforce.Approved {
		t.Fatalf("pre-move task is %s after approval", d.Task.State)
	}

	// 7. Every receipt from before the move verifies after it, and the new
	// log is consistent with the last exported checkpoint.
	for _, r := range append(before, after...) {
		if err := human.VerifyReceipt(r, self.LedgerKey()); err != nil {
			t.Fatalf("receipt %d: %v", r.Index, err)
		}
	}
	cp, signed, err := self.Ledger().Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := self.Ledger().ConsistencyProof(ctx, m.Size, cp.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger.VerifyConsistency([]byte(m.Checkpoint), signed, proof, self.Ledger().Verifier()); err != nil {
		t.Fatalf("self-hosted checkpoint not consistent with the hosted one: %v", err)
	}
	t.Logf("drill: %d receipts from hosted verify on self-hosted; log %d -> %d, consistent", len(before), m.Size, cp.Size)
}

func mustTask(t *testing.T, c *human.Client, id string) *workforce.Task {
	t.Helper()
	tk, err := c.Task(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}
