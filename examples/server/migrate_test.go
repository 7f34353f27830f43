package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/humanos/human/adapters/postgres"
	"github.com/humanos/human/internal/testenv"
)

func migrateRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestMigrateUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"migrate", "--help"}, exitOK},
		{[]string{"migrate", "extra"}, exitUsage},
		{[]string{"migrate", "--no-such-flag"}, exitUsage},
		{[]string{"migrate", "--store", "postgres://u@h/db?bogus=1"}, exitUsage},
	} {
		if code, _, errOut := migrateRun(t, tc.args...); code != tc.code {
			t.Errorf("%v: exit %d, want %d (%s)", tc.args, code, tc.code, errOut)
		}
	}
}

func TestMigrateSQLite(t *testing.T) {
	code, out, errOut := migrateRun(t, "migrate", "--data-dir", t.TempDir())
	if code != exitOK || !strings.Contains(out, "schema current") {
		t.Fatalf("exit %d, out %q, err %q", code, out, errOut)
	}
}

// TestMigratePostgres migrates a fresh schema, finds nothing to do the
// second time, and checks it; --check on an unmigrated schema fails.
func TestMigratePostgres(t *testing.T) {
	ownerURL := testenv.Require(t, "HUMAN_TEST_POSTGRES_URL")
	ctx := context.Background()
	owner, err := pgxpool.New(ctx, ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "migrate_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		_, _ = owner.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	})
	store := ownerURL + "&schema=" + schema
	n := postgres.SchemaVersion()

	if code, _, errOut := migrateRun(t, "migrate", "--check", "--store", store); code != exitCheck || !strings.Contains(errOut, "human migrate") {
		t.Fatalf("--check on an empty schema: exit %d, %q", code, errOut)
	}
	code, out, errOut := migrateRun(t, "migrate", "--store", store)
	if want := fmt.Sprintf("at version %d (was 0; %d applied)", n, n); code != exitOK || !strings.Contains(out, want) {
		t.Fatalf("first migrate: exit %d, out %q, err %q; want %q", code, out, errOut, want)
	}
	code, out, _ = migrateRun(t, "migrate", "--store", store)
	if want := fmt.Sprintf("(was %d; 0 applied)", n); code != exitOK || !strings.Contains(out, want) {
		t.Fatalf("second migrate: exit %d, out %q", code, out)
	}
	if code, out, errOut := migrateRun(t, "migrate", "--check", "--store", store); code != exitOK {
		t.Fatalf("--check after migrate: exit %d, %q %q", code, out, errOut)
	}
}
