package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExportImportUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"export", "--help"}, exitOK},
		{[]string{"import", "--help"}, exitOK},
		{[]string{"export"}, exitUsage},
		{[]string{"import", "--in"}, exitUsage},
		{[]string{"import", "--in", "x", "extra"}, exitUsage},
	} {
		if code, _, errOut := migrateRun(t, tc.args...); code != tc.code {
			t.Errorf("%v: exit %d, want %d (%s)", tc.args, code, tc.code, errOut)
		}
	}
}

// TestExportImportCommands moves an org between two SQLite deployments
// with the commands, then shows a tampered bundle is refused (exit 1).
func TestExportImportCommands(t *testing.T) {
	src, dst, tmp := t.TempDir(), t.TempDir(), t.TempDir()
	key := filepath.Join(src, "keys", "default.pem")
	// A ledger entry in the source: an export of an empty org is fine too,
	// but a policy publish makes the ledger non-empty.
	code, out, errOut := migrateRun(t, "export", "--data-dir", src, "--out", filepath.Join(tmp, "b"))
	if code != exitOK {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "exported org default") {
		t.Fatalf("export output: %s", out)
	}
	code, out, errOut = migrateRun(t, "import", "--data-dir", dst, "--org-key-file", key, "--in", filepath.Join(tmp, "b"))
	if code != exitOK {
		t.Fatalf("import: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "imported org default") {
		t.Fatalf("import output: %s", out)
	}
	// Tampered: a foreign deployment (its own key) refuses it.
	code, _, errOut = migrateRun(t, "import", "--data-dir", t.TempDir(), "--in", filepath.Join(tmp, "b"))
	if code != exitCheck || !strings.Contains(errOut, "foreign signature") {
		t.Fatalf("foreign import: exit %d: %s", code, errOut)
	}
	os.WriteFile(filepath.Join(tmp, "b", "nodes.jsonl"), []byte("{}\n"), 0o644)
	if code, _, _ = migrateRun(t, "import", "--data-dir", dst, "--org-key-file", key, "--in", filepath.Join(tmp, "b")); code != exitCheck {
		t.Fatalf("tampered import: exit %d", code)
	}
}
