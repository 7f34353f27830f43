package human_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/adapters/remote"
	"github.com/humanos/human/passport"
)

// The hybrid profile runs the scenario suite against a control plane
// (`human serve`, SQLite for everything but the ledger) whose org ledger
// lives on a separate ledger node (`human serve --role ledger`, the
// customer's infrastructure, its own SQLite file): two real processes on
// 127.0.0.1. The control plane signs and sequences; every entry, node and
// checkpoint is written to the node, through adapters/remote's
// LedgerStore, signed by a key the node lists as the org's admin.
func init() { profiles["hybrid"] = hybridConfig }

func hybridConfig(t testing.TB) human.Config {
	var b [4]byte
	rand.Read(b[:])
	org := "org-" + hex.EncodeToString(b[:])
	cpKey, err := passport.GenerateEd25519()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "control-plane.pem")
	if err := passport.WriteKeyFile(keyFile, cpKey); err != nil {
		t.Fatal(err)
	}
	// Started first, so stopped last: the control plane flushes into it.
	node := startServer(t, "--role", "ledger", "--org-admins", org+"="+cpKey.PublicKey().String())
	ledgerURL := "human+" + node + "?key_file=" + url.QueryEscape(keyFile)
	base := startServer(t, "--ledger", ledgerURL)

	admin, err := passport.GenerateEd25519()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := remote.Enroll(ctx, base, org, admin); err != nil {
		t.Fatal(err)
	}
	return human.Config{BaseURL: base, Org: org, OrgSigner: admin}
}

// TestHybridLedgerOnNode: in the hybrid profile the org's entries are on
// the ledger node, byte for byte the control plane's log, and the node's
// head is the control plane's checkpoint.
func TestHybridLedgerOnNode(t *testing.T) {
	var b [4]byte
	rand.Read(b[:])
	org := "org-" + hex.EncodeToString(b[:])
	cpKey, _ := passport.GenerateEd25519()
	keyFile := filepath.Join(t.TempDir(), "control-plane.pem")
	if err := passport.WriteKeyFile(keyFile, cpKey); err != nil {
		t.Fatal(err)
	}
	node := startServer(t, "--role", "ledger", "--org-admins", org+"="+cpKey.PublicKey().String())
	base := startServer(t, "--ledger", "human+"+node+"?key_file="+url.QueryEscape(keyFile))
	admin, _ := passport.GenerateEd25519()
	ctx := context.Background()
	if err := remote.Enroll(ctx, base, org, admin); err != nil {
		t.Fatal(err)
	}
	c, err := human.Open(ctx, human.Config{BaseURL: base, Org: org, OrgSigner: admin})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	alice, _ := passport.GenerateEd25519()
	inc, _ := passport.NewInception(passport.KindHuman, "alice", time.Now(), alice)
	if _, err := c.RegisterPassport(ctx, inc); err != nil {
		t.Fatal(err)
	}
	rc, err := remote.New(remote.Options{BaseURL: base, KeyID: remote.AdminKeyID(org, admin.PublicKey()), Signer: admin})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := rc.Checkpoint(ctx)
	if err != nil || cp.Size == 0 {
		t.Fatalf("control plane checkpoint: %+v %v", cp, err)
	}
	store, err := remote.NewLedgerStore(remote.Options{BaseURL: node, Signer: cpKey})
	if err != nil {
		t.Fatal(err)
	}
	size, note, err := store.Head(ctx, org)
	if err != nil || size != cp.Size || string(note) != cp.Checkpoint {
		t.Fatalf("node head %d %q %v; control plane %d %q", size, note, err, cp.Size, cp.Checkpoint)
	}
	entries, err := store.Entries(ctx, org, 0, size)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		r, err := rc.Receipt(ctx, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if err := human.VerifyReceipt(r, c.LedgerKey()); err != nil || !bytes.Equal(r.Entry, e) {
			t.Errorf("entry %d on the node is not the control plane's verified entry: %v", i, err)
		}
	}
	if !strings.HasPrefix(node, "http://127.0.0.1:") {
		t.Errorf("node %q is not on loopback", node)
	}
}
