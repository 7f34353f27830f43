package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/humanos/human/adapters/postgres"
	"github.com/humanos/human/errs"
)

// freshSchemaName returns a schema name that does not exist yet, dropped
// at the end of the test if something created it.
func freshSchemaName(t *testing.T) string {
	t.Helper()
	schema := newSchema(t) + "_x"
	owner := sharedPool(t, ownerURLEnv)
	t.Cleanup(func() {
		_, _ = owner.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	})
	return schema
}

// TestMigrateConcurrentReplicas: many replicas starting at once on an
// empty schema migrate it once, behind the advisory lock; all of them open.
func TestMigrateConcurrentReplicas(t *testing.T) {
	ctx := context.Background()
	schema := freshSchemaName(t)
	owner := sharedPool(t, ownerURLEnv)
	const replicas = 6
	var wg sync.WaitGroup
	for range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := postgres.Open(ctx, owner, &postgres.Options{Schema: schema, Migrate: postgres.MigrateApply})
			if err != nil {
				t.Error(err)
				return
			}
			res, err := d.Migrate(ctx, nil)
			if err != nil || res.Applied != 0 || res.To != postgres.SchemaVersion() {
				t.Errorf("Migrate after Open = %+v, %v", res, err)
			}
		}()
	}
	wg.Wait()
	var rows int
	if err := owner.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{schema, "human_schema_migrations"}.Sanitize()).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != postgres.SchemaVersion() {
		t.Fatalf("%d migration rows, want %d (each migration applied once)", rows, postgres.SchemaVersion())
	}
}

// TestMigrateProgressAndResult: Migrate reports each applied migration.
func TestMigrateProgressAndResult(t *testing.T) {
	ctx := context.Background()
	schema := freshSchemaName(t)
	owner := sharedPool(t, ownerURLEnv)
	// Open with check mode fails and changes nothing; the DB value is not
	// returned, so migrate through a second Open in apply mode.
	if _, err := postgres.Open(ctx, owner, &postgres.Options{Schema: schema, Migrate: postgres.MigrateCheck}); !errors.Is(err, errs.ErrFailedPrecondition) {
		t.Fatalf("check on an empty schema = %v, want ErrFailedPrecondition", err)
	}
	var exists bool
	if err := owner.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&exists); err != nil || exists {
		t.Fatalf("check mode created the schema (%v, %v)", exists, err)
	}
	var calls [][2]int
	d, err := postgres.Open(ctx, owner, &postgres.Options{Schema: schema, Migrate: postgres.MigrateCheck + "x"})
	if !errors.Is(err, errs.ErrInvalidArgument) || d != nil {
		t.Fatalf("bad mode = %v", err)
	}
	d, err = postgres.Open(ctx, owner, &postgres.Options{Schema: schema, Migrate: postgres.MigrateNone})
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.Migrate(ctx, func(done, total int) { calls = append(calls, [2]int{done, total}) })
	if err != nil {
		t.Fatal(err)
	}
	n := postgres.SchemaVersion()
	if res.From != 0 || res.To != n || res.Applied != n || res.Schema != schema || len(calls) != n || calls[n-1] != [2]int{n, n} {
		t.Fatalf("Migrate = %+v, progress %v", res, calls)
	}
	if err := d.CheckSchema(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestMigrateRefusesNewerSchema: a database migrated by a newer binary is
// refused, in both modes, and left as it is.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	schema := newSchema(t)
	owner := sharedPool(t, ownerURLEnv)
	future := postgres.SchemaVersion() + 1
	if _, err := owner.Exec(ctx, `INSERT INTO `+pgx.Identifier{schema, "human_schema_migrations"}.Sanitize()+` (version, name) VALUES ($1, 'future')`, future); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{postgres.MigrateApply, postgres.MigrateCheck} {
		_, err := postgres.Open(ctx, owner, &postgres.Options{Schema: schema, Migrate: mode})
		if !errors.Is(err, errs.ErrFailedPrecondition) {
			t.Errorf("Open(%s) of a newer schema = %v, want ErrFailedPrecondition", mode, err)
		}
	}
}

// TestMigrateNeedsOwner: the application role cannot migrate an empty
// schema; the error says so, and it changes nothing.
func TestMigrateNeedsOwner(t *testing.T) {
	ctx := context.Background()
	schema := freshSchemaName(t)
	_, err := postgres.Open(ctx, sharedPool(t, appURLEnv), &postgres.Options{Schema: schema})
	if !errors.Is(err, errs.ErrPermissionDenied) {
		t.Fatalf("Open as the application role on an empty schema = %v, want ErrPermissionDenied", err)
	}
}
