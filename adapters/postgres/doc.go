// Package postgres holds every HUMAN store in PostgreSQL (13 or later),
// through github.com/jackc/pgx/v5 and its pgxpool. It is the store for
// self-hosted deployments where several HUMAN processes share one database:
// concurrency, tenancy and durability are the database's.
//
// Apps import it for its side effect, as they import database/sql drivers:
//
//	import _ "github.com/humanos/human/adapters/postgres"
//
// or use the typed constructor [Open] over a pool they configure.
//
// # URLs
//
// "postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE?OPTIONS" and the same
// with the scheme "postgresql". The connection options pgx understands
// (sslmode, sslrootcert, sslcert, sslkey, connect_timeout,
// application_name, target_session_attrs, pool_max_conns, pool_min_conns,
// pool_max_conn_lifetime, pool_max_conn_idle_time,
// pool_health_check_period) pass through to pgxpool; this package adds:
//
//   - schema=NAME: the schema holding HUMAN's tables (default: the first
//     schema of the role's search_path, usually "public"). Open creates it
//     when it migrates.
//   - migrate=apply|check: apply (the default) migrates the schema to this
//     binary's version at start, behind an advisory lock, so replicas
//     starting at once are safe; check refuses a schema that is not at this
//     binary's version and changes nothing (run `human migrate` first).
//
// Any other option is an error.
//
// # Schema and migrations
//
// Migrations are embedded SQL files, numbered, forward-only: a released one
// never changes, a change is a new file. Each runs in its own transaction
// while the migrating session holds pg_advisory_lock on a key derived from
// the schema name, and is recorded in human_schema_migrations. A database
// whose schema is newer than this binary knows is refused with
// errs.ErrFailedPrecondition naming both versions; it is never used as is.
//
// # Tenancy
//
// Every table is keyed by org (the ledger by its log name, which is the
// org) and has row-level security enabled with the policy
//
//	USING (org = current_setting('human.org', true))
//
// Every store call runs in one transaction that first sets human.org to the
// org it was given (set_config(..., true), i.e. SET LOCAL), so a query that
// forgot its WHERE clause still sees only that org, and a transaction that
// set nothing sees nothing. The one cross-org read the contracts need,
// workforce.Store.Due (the deadline sweeper), goes through the SECURITY
// DEFINER function human_due_tasks, which returns only pending tasks past a
// deadline.
//
// Row-level security binds only roles that neither own the tables nor have
// BYPASSRLS (or superuser). Deploy with two roles:
//
//   - an owner role that runs the migrations (`human migrate`, or Open with
//     migrate=apply): it needs CREATE on the database (to create the schema)
//     or ownership of the schema, and owns every table and function;
//   - an application role for serving: LOGIN, NOSUPERUSER, NOBYPASSRLS,
//     owner of nothing, with USAGE on the schema and SELECT, INSERT,
//     UPDATE, DELETE on its tables (for example through
//     ALTER DEFAULT PRIVILEGES FOR ROLE owner GRANT ... TO app), and
//     EXECUTE on functions (granted to PUBLIC by default). Open it with
//     migrate=check.
//
// # Errors
//
// PostgreSQL errors are mapped in one function: unique and exclusion
// violations are errs.ErrConflict; foreign-key violations
// errs.ErrNotFound; check and not-null violations and bad input
// errs.ErrInvalidArgument; insufficient privilege errs.ErrPermissionDenied;
// everything else (lost connections, shutdowns, timeouts, cancelled
// contexts) errs.ErrUnavailable. Serialization failures and deadlocks are
// retried inside the adapter a bounded number of times ([Options].MaxRetries)
// before surfacing as errs.ErrUnavailable. A transaction interrupted by a
// lost connection is rolled back by the server: nothing is half-written.
package postgres
