package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/humanos/human/adapters/postgres"
	"github.com/humanos/human/internal/testenv"
)

// The two roles scripts/services/postgres.sh creates: the owner runs
// migrations; the application role is bound by row-level security.
const (
	ownerURLEnv = "HUMAN_TEST_POSTGRES_URL"
	appURLEnv   = "HUMAN_TEST_POSTGRES_APP_URL"
)

var (
	poolsMu sync.Mutex
	pools   = map[string]*pgxpool.Pool{}
)

// sharedPool returns one pool per URL for the whole test binary; each test
// gets its own schema, so sharing connections is safe.
func sharedPool(t testing.TB, env string) *pgxpool.Pool {
	t.Helper()
	url := testenv.Require(t, env)
	poolsMu.Lock()
	defer poolsMu.Unlock()
	if p := pools[url]; p != nil {
		return p
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 16
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	pools[url] = p
	return p
}

// newSchema creates a fresh, migrated schema as the owner, dropped when
// the test ends, and returns its name.
func newSchema(t testing.TB) string {
	t.Helper()
	owner := sharedPool(t, ownerURLEnv)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := postgres.Open(context.Background(), owner, &postgres.Options{Schema: schema}); err != nil {
		t.Fatalf("migrate schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		_, _ = owner.Exec(context.Background(), `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	})
	return schema
}

// newDB returns the stores of a fresh schema, connected as the application
// role (so every conformance test also runs under row-level security).
func newDB(t testing.TB) *postgres.DB {
	t.Helper()
	return openApp(t, newSchema(t))
}

// openApp opens schema as the application role, checking (not applying)
// migrations.
func openApp(t testing.TB, schema string) *postgres.DB {
	t.Helper()
	d, err := postgres.Open(context.Background(), sharedPool(t, appURLEnv), &postgres.Options{Schema: schema, Migrate: postgres.MigrateCheck})
	if err != nil {
		t.Fatalf("open %s as the application role: %v", schema, err)
	}
	return d
}

// openOwner opens schema as the owner role.
func openOwner(t testing.TB, schema string) *postgres.DB {
	t.Helper()
	d, err := postgres.Open(context.Background(), sharedPool(t, ownerURLEnv), &postgres.Options{Schema: schema, Migrate: postgres.MigrateCheck})
	if err != nil {
		t.Fatalf("open %s as the owner: %v", schema, err)
	}
	return d
}
