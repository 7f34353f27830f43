package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/humanos/human/errs"
)

// migrationFiles are the schema steps, "NNNN_name.sql", applied in order.
// A released file never changes; a schema change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one forward-only schema step.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations is the parsed, ordered list of migrationFiles.
var migrations = mustLoadMigrations()

func mustLoadMigrations() []migration {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		panic(err)
	}
	return ms
}

// loadMigrations reads "migrations/NNNN_name.sql" files: versions must run
// 1, 2, 3, ... without gap or duplicate.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, n := range names {
		base := path.Base(n)
		num, name, ok := strings.Cut(strings.TrimSuffix(base, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 || name == "" {
			return nil, fmt.Errorf("postgres: migration file %s: want NNNN_name.sql", n)
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("postgres: migration versions must run 1, 2, ...: found %d at position %d", m.version, i+1)
		}
	}
	return out, nil
}

// SchemaVersion is the schema version this binary needs: the number of its
// embedded migrations.
func SchemaVersion() int { return len(migrations) }

// Progress is told, after each migration applied, how many of the pending
// ones are done and how many there are in all.
type Progress func(done, total int)

// MigrateResult says what Migrate did.
type MigrateResult struct {
	Schema  string // the schema migrated
	From    int    // its version before
	To      int    // its version after (SchemaVersion on success)
	Applied int    // migrations applied by this call
}

// Migrate brings d's schema to SchemaVersion: it creates the schema if
// needed, takes a session advisory lock keyed by the schema's name (so
// replicas migrating at once wait for each other and the later ones find
// nothing to do), and applies each pending migration in its own
// transaction, recording it in human_schema_migrations. A schema newer than
// this binary is errs.ErrFailedPrecondition and is left alone. progress
// may be nil.
func (d *DB) Migrate(ctx context.Context, progress Progress) (MigrateResult, error) {
	if err := ctx.Err(); err != nil {
		return MigrateResult{}, errs.Errorf(errs.ErrUnavailable, "postgres: %w", err)
	}
	// The fast path: a current schema needs no lock and no privilege.
	if schema, v, err := d.version(ctx, d.pool); err == nil && v == len(migrations) {
		return MigrateResult{Schema: schema, From: v, To: v}, nil
	}
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return MigrateResult{}, mapErr(ctx, err)
	}
	defer conn.Release()
	if d.schema != "" {
		var exists bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, d.schema).Scan(&exists); err != nil {
			return MigrateResult{}, mapErr(ctx, err)
		}
		if !exists {
			// Concurrent creators: IF NOT EXISTS may still race on the
			// catalog's unique index; the loser's error is harmless.
			if _, err := conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{d.schema}.Sanitize()); err != nil {
				if e := mapErr(ctx, err); errs.Kind(e) != errs.ErrConflict {
					return MigrateResult{}, e
				}
			}
		}
	}
	schema, err := d.resolveSchema(ctx, conn)
	if err != nil {
		return MigrateResult{}, err
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended('human.migrate:' || $1, 0))`, schema); err != nil {
		return MigrateResult{}, mapErr(ctx, err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock(hashtextextended('human.migrate:' || $1, 0))`, schema); err != nil {
			// A session we cannot unlock must not go back to the pool
			// holding the lock: closing it releases the lock.
			_ = conn.Conn().Close(uctx)
		}
	}()
	searchPath := pgx.Identifier{schema}.Sanitize() + ", pg_temp"
	if _, err := conn.Exec(ctx, `SELECT set_config('search_path', $1, false)`, searchPath); err != nil {
		return MigrateResult{}, mapErr(ctx, err)
	}
	// The session's search_path must not outlive this call in the pool.
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `RESET search_path`); err != nil {
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS human_schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return MigrateResult{}, mapErr(ctx, err)
	}
	_, from, err := d.version(ctx, conn)
	if err != nil {
		return MigrateResult{}, err
	}
	res := MigrateResult{Schema: schema, From: from, To: from}
	if from > len(migrations) {
		return res, newerSchemaErr(schema, from)
	}
	pending := migrations[from:]
	for i, m := range pending {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO human_schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
			return err
		})
		if err != nil {
			e := mapErr(ctx, err)
			return res, errs.Errorf(errs.Kind(e), "postgres: schema %s: migration %04d_%s: %w", schema, m.version, m.name, e)
		}
		res.To, res.Applied = m.version, res.Applied+1
		if progress != nil {
			progress(i+1, len(pending))
		}
	}
	return res, nil
}

// CheckSchema returns nil if d's schema is at SchemaVersion, and
// errs.ErrFailedPrecondition saying what to do otherwise.
func (d *DB) CheckSchema(ctx context.Context) error {
	schema, v, err := d.version(ctx, d.pool)
	if err != nil {
		return err
	}
	switch {
	case v > len(migrations):
		return newerSchemaErr(schema, v)
	case v < len(migrations):
		return errs.Errorf(errs.ErrFailedPrecondition,
			"postgres: schema %q is at version %d, this binary needs %d: run `human migrate` (as the owner role) first", schema, v, len(migrations))
	}
	return nil
}

func newerSchemaErr(schema string, v int) error {
	return errs.Errorf(errs.ErrFailedPrecondition,
		"postgres: schema %q is at version %d, newer than this binary knows (%d): upgrade the binary; refusing to use it", schema, v, len(migrations))
}

// querier is what version needs of a pool or a connection.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// resolveSchema names the schema d uses: Options.Schema, else the
// connection's current schema.
func (d *DB) resolveSchema(ctx context.Context, q querier) (string, error) {
	if d.schema != "" {
		return d.schema, nil
	}
	var s *string
	if err := q.QueryRow(ctx, `SELECT current_schema()`).Scan(&s); err != nil {
		return "", mapErr(ctx, err)
	}
	if s == nil {
		return "", errs.Errorf(errs.ErrFailedPrecondition, "postgres: no schema of the search_path exists; set the schema option")
	}
	return *s, nil
}

// version returns the schema's name and its applied version (0 when it has
// no migrations table yet).
func (d *DB) version(ctx context.Context, q querier) (string, int, error) {
	schema, err := d.resolveSchema(ctx, q)
	if err != nil {
		return "", 0, err
	}
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass(format('%I.human_schema_migrations', $1::text)) IS NOT NULL`, schema).Scan(&exists); err != nil {
		return schema, 0, mapErr(ctx, err)
	}
	if !exists {
		return schema, 0, nil
	}
	var v int
	if err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+pgx.Identifier{schema, "human_schema_migrations"}.Sanitize()).Scan(&v); err != nil {
		return schema, 0, mapErr(ctx, err)
	}
	return schema, v, nil
}

var _ querier = (*pgxpool.Pool)(nil)
