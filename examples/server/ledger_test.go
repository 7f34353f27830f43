package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/humanos/human"
	"github.com/humanos/human/ledger"
)

// ledgerTestData fills a fresh data dir's ledger with n attestations through
// the library, as an app would, and returns the dir and the log's key.
func ledgerTestData(t *testing.T, n int) (dataDir, vkey string, early []byte) {
	t.Helper()
	ctx := context.Background()
	dataDir = t.TempDir()
	c, err := human.Open(ctx, human.Config{DataDir: dataDir, Org: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l := c.Ledger()
	for i := range n {
		st, err := ledger.NewStatement(ledger.PredicateDecision, map[string]any{"i": i}, ledger.SubjectFor("call", fmt.Appendf(nil, "%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		p, err := l.Attest(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if i == n/2 {
			_, early, err = l.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return dataDir, c.LedgerKey(), early
}

func runHuman(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestLedgerExportVerify(t *testing.T) {
	dataDir, vkey, early := ledgerTestData(t, 300)
	earlyFile := filepath.Join(t.TempDir(), "early.checkpoint")
	if err := os.WriteFile(earlyFile, early, 0o644); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "log.vkey")
	if err := os.WriteFile(keyFile, []byte(vkey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "export")
	code, stdout, stderr := runHuman(t, "ledger", "export", "--data-dir", dataDir, "--org", "acme", "--out", out)
	if code != exitOK || !strings.Contains(stdout, "exported entries [0, 300)") {
		t.Fatalf("export: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{out}, exitOK, "NOTE: the key came from the export"},
		{[]string{"--key", vkey, out}, exitOK, "OK: entries [0, 300)"},
		{[]string{"--key-file", keyFile, "--since", earlyFile, out}, exitOK, "consistent with the earlier checkpoint of size 151"},
		{[]string{}, exitUsage, ""},
		{[]string{"--key", vkey, "--key-file", keyFile, out}, exitUsage, ""},
		{[]string{filepath.Join(out, "missing")}, exitUsage, ""},
		{[]string{"--help"}, exitOK, ""},
	} {
		code, stdout, stderr := runHuman(t, append([]string{"ledger", "verify"}, tc.args...)...)
		if code != tc.code || !strings.Contains(stdout, tc.want) {
			t.Errorf("verify %v: exit %d (want %d), stdout %q, stderr %q", tc.args, code, tc.code, stdout, stderr)
		}
	}

	// A range export verifies too.
	part := filepath.Join(t.TempDir(), "part")
	if code, stdout, stderr := runHuman(t, "ledger", "export", "--data-dir", dataDir, "--org", "acme", "--out", part, "--from", "260", "--to", "290"); code != exitOK {
		t.Fatalf("range export: exit %d, %q, %q", code, stdout, stderr)
	}
	if code, stdout, _ := runHuman(t, "ledger", "verify", "--key", vkey, part); code != exitOK || !strings.Contains(stdout, "[256, 290)") {
		t.Errorf("range verify: exit %d, %q", code, stdout)
	}

	// One changed byte: exit 1 naming the entry.
	bundle := filepath.Join(out, filepath.FromSlash(ledger.EntryBundlePath(1, 300-256)))
	data, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-5] ^= 1
	if err := os.WriteFile(bundle, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = runHuman(t, "ledger", "verify", "--key", vkey, out)
	if code != exitCheck || !strings.Contains(stdout, "FAIL: entry 299:") {
		t.Errorf("tampered verify: exit %d, stdout %q; want exit 1 naming entry 299", code, stdout)
	}
}

func TestLedgerUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"ledger"}, exitUsage},
		{[]string{"ledger", "--help"}, exitOK},
		{[]string{"ledger", "nope"}, exitUsage},
		{[]string{"ledger", "export"}, exitUsage},
		{[]string{"ledger", "export", "--help"}, exitOK},
		{[]string{"ledger", "export", "--out", "x", "extra"}, exitUsage},
		{[]string{"ledger", "verify", "--bogus"}, exitUsage},
	} {
		code, _, stderr := runHuman(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, "human ledger") {
			t.Errorf("%v: exit %d (want %d), stderr %q", tc.args, code, tc.code, stderr)
		}
	}
}
