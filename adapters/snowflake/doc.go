// Package snowflake keeps HUMAN's ledger (ledger.Store) in Snowflake
// tables, through github.com/snowflakedb/gosnowflake, so the enterprise
// data lake can query entries, checkpoints and proof nodes with SQL.
// Verification stays HUMAN's: the rows are the signed bytes, checked by
// the ledger package on every read. Apps import it for its side effect:
//
//	import _ "github.com/humanos/human/adapters/snowflake"
//
// # URLs
//
// "snowflake://" followed by a gosnowflake DSN:
// snowflake://USER:PASSWORD@ACCOUNT/DATABASE/SCHEMA?warehouse=W&role=R,
// with every gosnowflake DSN parameter passed through, plus
// table_prefix=NAME (default HUMAN_LEDGER). It opens the ledger only:
// HUMAN_LEDGER=snowflake://...
//
// # Warehouse, role and permissions
//
// A small warehouse (X-SMALL is plenty: appends are single-row UPDATEs
// and small INSERTs) with auto-suspend, and a role with USAGE on the
// warehouse, database and schema, CREATE TABLE on the schema (once; Open
// creates the three tables if missing), and SELECT, INSERT, UPDATE on
// the tables. The adapter never deletes: grant no DELETE or TRUNCATE, and
// consider Time Travel / Fail-safe retention for audit.
//
// # Errors
//
// Login failures are errs.ErrUnauthenticated, missing privileges
// errs.ErrPermissionDenied, SQL compilation errors
// errs.ErrInvalidArgument, everything else errs.ErrUnavailable; a lost
// compare-and-swap is errs.ErrConflict.
package snowflake
