package snowflake

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"

	sf "github.com/snowflakedb/gosnowflake"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
)

// Options configure a [LedgerStore]. The zero value (or nil) uses tables
// named HUMAN_LEDGER_* in the connection's current schema.
type Options struct {
	// TablePrefix replaces "HUMAN_LEDGER" in the table names (letters,
	// digits and '_'), so several deployments can share a schema.
	TablePrefix string
}

// LedgerStore is a [ledger.Store] in three Snowflake tables, queryable
// with SQL by the data lake:
//
//	PREFIX_HEADS   (LOG, SIZE, CHECKPOINT)   one row per log: its size and signed checkpoint
//	PREFIX_ENTRIES (LOG, IDX, ENTRY)         the DSSE-signed attestations, by index
//	PREFIX_NODES   (LOG, LEVEL, IDX, HASH)   Merkle node hashes, for proofs
//
// Snowflake does not enforce primary keys, so Append's compare-and-swap is
// an UPDATE of the head row conditioned on the expected size, inside the
// same transaction as the inserts: Snowflake serializes DML on a table,
// and only the writer whose UPDATE matched a row commits. Bytes are bound
// as hex and stored with TO_BINARY, which behaves the same on every
// Snowflake endpoint.
type LedgerStore struct {
	db                    *sql.DB
	heads, entries, nodes string
}

var _ ledger.Store = (*LedgerStore)(nil)

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,200}$`)

// Open returns a LedgerStore over db (a gosnowflake connection), creating
// its tables if they do not exist. A bad TablePrefix is
// errs.ErrInvalidArgument; an unreachable account errs.ErrUnavailable.
func Open(ctx context.Context, db *sql.DB, opts *Options) (*LedgerStore, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.TablePrefix == "" {
		o.TablePrefix = "HUMAN_LEDGER"
	}
	if db == nil || !identRE.MatchString(o.TablePrefix) {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "snowflake: nil db or bad table prefix %q", o.TablePrefix)
	}
	p := strings.ToUpper(o.TablePrefix)
	s := &LedgerStore{db: db, heads: p + "_HEADS", entries: p + "_ENTRIES", nodes: p + "_NODES"}
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS ` + s.heads + ` (LOG VARCHAR NOT NULL, SIZE NUMBER(20,0) NOT NULL, CHECKPOINT BINARY, PRIMARY KEY (LOG))`,
		`CREATE TABLE IF NOT EXISTS ` + s.entries + ` (LOG VARCHAR NOT NULL, IDX NUMBER(20,0) NOT NULL, ENTRY BINARY NOT NULL, PRIMARY KEY (LOG, IDX))`,
		`CREATE TABLE IF NOT EXISTS ` + s.nodes + ` (LOG VARCHAR NOT NULL, LEVEL NUMBER(3,0) NOT NULL, IDX NUMBER(20,0) NOT NULL, HASH BINARY NOT NULL, PRIMARY KEY (LOG, LEVEL, IDX))`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return nil, mapError(ctx, "create tables", err)
		}
	}
	return s, nil
}

func begin(ctx context.Context, what string) error {
	if err := ctx.Err(); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "snowflake: %s: %w", what, err)
	}
	return nil
}

// Append implements [ledger.Store].
func (s *LedgerStore) Append(ctx context.Context, log string, size uint64, entries [][]byte, nodes []ledger.Node, checkpoint []byte) error {
	if err := begin(ctx, "ledger append"); err != nil {
		return err
	}
	if log == "" || len(entries) == 0 {
		return errs.Errorf(errs.ErrInvalidArgument, "snowflake: ledger append: empty log name or no entries")
	}
	if size == 0 {
		// Make sure a head row exists to compare against; a duplicate from
		// a concurrent creator is harmless (both say size 0), and the CAS
		// below then updates exactly one of them or none.
		if _, err := s.db.ExecContext(ctx, `INSERT INTO `+s.heads+` (LOG, SIZE, CHECKPOINT) SELECT ?, 0, NULL WHERE NOT EXISTS (SELECT 1 FROM `+s.heads+` WHERE LOG = ?)`, log, log); err != nil {
			return mapError(ctx, "ledger append", err)
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return mapError(ctx, "ledger append", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE `+s.heads+` SET SIZE = ?, CHECKPOINT = TO_BINARY(?, 'HEX') WHERE LOG = ? AND SIZE = ?`,
		size+uint64(len(entries)), hex.EncodeToString(checkpoint), log, size)
	if err != nil {
		return mapError(ctx, "ledger append", err)
	}
	// Duplicate head rows (two first appends racing past the NOT EXISTS)
	// always hold equal values and move together, so one or more is a win.
	if n, err := res.RowsAffected(); err != nil || n < 1 {
		return errs.Errorf(errs.ErrConflict, "snowflake: ledger %q does not hold %d entries", log, size)
	}
	var q strings.Builder
	args := make([]any, 0, 3*len(entries))
	q.WriteString(`INSERT INTO ` + s.entries + ` (LOG, IDX, ENTRY) VALUES `)
	for i, e := range entries {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, TO_BINARY(?, 'HEX'))")
		args = append(args, log, size+uint64(i), hex.EncodeToString(e))
	}
	if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
		return mapError(ctx, "ledger append entries", err)
	}
	if len(nodes) > 0 {
		q.Reset()
		args = args[:0]
		q.WriteString(`INSERT INTO ` + s.nodes + ` (LOG, LEVEL, IDX, HASH) VALUES `)
		for i, n := range nodes {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, TO_BINARY(?, 'HEX'))")
			args = append(args, log, uint64(n.ID.Level), n.ID.Index, hex.EncodeToString(n.Hash))
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return mapError(ctx, "ledger append nodes", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return mapError(ctx, "ledger append commit", err)
	}
	return nil
}

// Head implements [ledger.Store].
func (s *LedgerStore) Head(ctx context.Context, log string) (uint64, []byte, error) {
	if err := begin(ctx, "ledger head"); err != nil {
		return 0, nil, err
	}
	var size uint64
	var cp []byte
	err := s.db.QueryRowContext(ctx, `SELECT SIZE, CHECKPOINT FROM `+s.heads+` WHERE LOG = ? ORDER BY SIZE DESC LIMIT 1`, log).Scan(&size, &cp)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, mapError(ctx, "ledger head", err)
	}
	if size == 0 {
		cp = nil
	}
	return size, cp, nil
}

// Entries implements [ledger.Store].
func (s *LedgerStore) Entries(ctx context.Context, log string, start, end uint64) ([][]byte, error) {
	if err := begin(ctx, "ledger entries"); err != nil {
		return nil, err
	}
	if start > end {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "snowflake: ledger entries: start %d > end %d", start, end)
	}
	out := make([][]byte, 0, end-start)
	if start == end {
		return out, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT IDX, ENTRY FROM `+s.entries+` WHERE LOG = ? AND IDX >= ? AND IDX < ? ORDER BY IDX`, log, start, end)
	if err != nil {
		return nil, mapError(ctx, "ledger entries", err)
	}
	defer rows.Close()
	for rows.Next() {
		var idx uint64
		var e []byte
		if err := rows.Scan(&idx, &e); err != nil {
			return nil, mapError(ctx, "ledger entries", err)
		}
		if idx != start+uint64(len(out)) {
			break
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, mapError(ctx, "ledger entries", err)
	}
	if uint64(len(out)) != end-start {
		return nil, errs.Errorf(errs.ErrNotFound, "snowflake: ledger %q has no entry %d", log, start+uint64(len(out)))
	}
	return out, nil
}

// Nodes implements [ledger.Store].
func (s *LedgerStore) Nodes(ctx context.Context, log string, ids []ledger.NodeID) ([][]byte, error) {
	if err := begin(ctx, "ledger nodes"); err != nil {
		return nil, err
	}
	out := make([][]byte, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var q strings.Builder
	args := []any{log}
	q.WriteString(`SELECT LEVEL, IDX, HASH FROM ` + s.nodes + ` WHERE LOG = ? AND (`)
	for i, id := range ids {
		if i > 0 {
			q.WriteString(" OR ")
		}
		q.WriteString("(LEVEL = ? AND IDX = ?)")
		args = append(args, uint64(id.Level), id.Index)
	}
	q.WriteString(")")
	rows, err := s.db.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, mapError(ctx, "ledger nodes", err)
	}
	defer rows.Close()
	got := map[ledger.NodeID][]byte{}
	for rows.Next() {
		var lv, idx uint64
		var h []byte
		if err := rows.Scan(&lv, &idx, &h); err != nil {
			return nil, mapError(ctx, "ledger nodes", err)
		}
		got[ledger.NodeID{Level: uint(lv), Index: idx}] = h
	}
	if err := rows.Err(); err != nil {
		return nil, mapError(ctx, "ledger nodes", err)
	}
	for i, id := range ids {
		h, ok := got[id]
		if !ok {
			return nil, errs.Errorf(errs.ErrNotFound, "snowflake: ledger %q has no node %d/%d", log, id.Level, id.Index)
		}
		out[i] = h
	}
	return out, nil
}

// mapError is the one place Snowflake errors become the shared
// vocabulary: login failures (390100, 390144, ...) are
// errs.ErrUnauthenticated; insufficient privileges (003001) and missing
// objects the role cannot see (002003) errs.ErrPermissionDenied; SQL
// compilation errors errs.ErrInvalidArgument; everything else (network,
// warehouse suspended, lock timeouts 000625) errs.ErrUnavailable. A
// cancelled ctx is errs.ErrUnavailable wrapping ctx.Err().
func mapError(ctx context.Context, what string, err error) error {
	if ce := ctx.Err(); ce != nil {
		return errs.Errorf(errs.ErrUnavailable, "snowflake: %s: %w", what, ce)
	}
	var se *sf.SnowflakeError
	if errors.As(err, &se) {
		switch {
		case se.Number >= 390100 && se.Number < 390200:
			return errs.Errorf(errs.ErrUnauthenticated, "snowflake: %s: %v", what, err)
		case se.Number == 3001 || se.Number == 2003:
			return errs.Errorf(errs.ErrPermissionDenied, "snowflake: %s: %v", what, err)
		case se.Number >= 1000 && se.Number < 3000:
			return errs.Errorf(errs.ErrInvalidArgument, "snowflake: %s: %v", what, err)
		}
	}
	return errs.Errorf(errs.ErrUnavailable, "snowflake: %s: %v", what, fmt.Sprint(err))
}
