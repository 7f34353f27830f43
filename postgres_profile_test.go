package human_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/humanos/human"
	"github.com/humanos/human/adapters/postgres"
	"github.com/humanos/human/internal/testenv"
)

// postgresProfile is the "postgres" scenario profile: a fresh schema per
// call, migrated by the owner role, and a client connected as the
// application role (row-level security in force), as a production
// deployment runs. scripts/services/postgres.sh provides both URLs.
func postgresProfile(t testing.TB) human.Config {
	t.Helper()
	ownerURL := testenv.Require(t, "HUMAN_TEST_POSTGRES_URL")
	appURL := testenv.Require(t, "HUMAN_TEST_POSTGRES_APP_URL")
	ctx := context.Background()
	owner, err := pgxpool.New(ctx, ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "scenario_" + hex.EncodeToString(b[:])
	if _, err := postgres.Open(ctx, owner, &postgres.Options{Schema: schema}); err != nil {
		owner.Close()
		t.Fatalf("migrate schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		_, _ = owner.Exec(context.Background(), `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
		owner.Close()
	})
	return human.Config{
		Store:          appURL + "&migrate=check&schema=" + schema,
		DataDir:        t.TempDir(),
		ExpiryInterval: 50 * time.Millisecond,
	}
}
