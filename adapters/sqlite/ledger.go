package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
)

func init() {
	migrations = append(migrations, migration{store: "ledger", version: 1, stmts: []string{
		`CREATE TABLE ledger_heads (
			log TEXT NOT NULL PRIMARY KEY,
			size INTEGER NOT NULL,
			checkpoint BLOB NOT NULL)`,
		`CREATE TABLE ledger_entries (
			log TEXT NOT NULL,
			idx INTEGER NOT NULL,
			entry BLOB NOT NULL,
			PRIMARY KEY (log, idx)) WITHOUT ROWID`,
		`CREATE TABLE ledger_nodes (
			log TEXT NOT NULL,
			level INTEGER NOT NULL,
			idx INTEGER NOT NULL,
			hash BLOB NOT NULL,
			PRIMARY KEY (log, level, idx)) WITHOUT ROWID`,
	}})
	// The query index (ledger.IndexStore): one row per indexed entry, and
	// one term row per kind, action, actor and subject value, so a query
	// walks the rarest term's rows in index order.
	migrations = append(migrations, migration{store: "ledger", version: 2, stmts: []string{
		`CREATE TABLE ledger_index (
			log TEXT NOT NULL,
			idx INTEGER NOT NULL,
			time INTEGER,
			kind TEXT NOT NULL,
			org TEXT NOT NULL,
			action TEXT NOT NULL,
			PRIMARY KEY (log, idx)) WITHOUT ROWID`,
		`CREATE TABLE ledger_terms (
			log TEXT NOT NULL,
			term TEXT NOT NULL,
			idx INTEGER NOT NULL,
			PRIMARY KEY (log, term, idx)) WITHOUT ROWID`,
	}})
	// Version 3 reshapes the tables for group-commit throughput:
	//
	// Entries move to a rowid table (with a unique index on (log, idx)). A
	// WITHOUT ROWID table keeps at most ~1000 bytes of a row in its B-tree
	// page and spills the rest to an overflow page of its own, and a
	// signed attestation is ~1100 bytes: every entry cost a whole extra
	// page. A rowid table keeps rows up to ~4000 bytes in the page. The
	// query fields of an indexed entry (time, kind, org, action; kind NULL
	// for an entry that is not an attestation) join it in the same row,
	// which drops the separate ledger_index row.
	//
	// Term rows become posting lists: one row per term per append (group
	// commit batch) holding every index of the batch that carries the
	// term, instead of one row per term per entry. A batch of decisions
	// shares its kind, action and actor terms, so an append writes a few
	// posting rows plus one per distinct value. Old term rows become
	// one-index postings.
	migrations = append(migrations, migration{store: "ledger", version: 3, stmts: []string{
		`CREATE TABLE ledger_entries_v3 (
			log TEXT NOT NULL,
			idx INTEGER NOT NULL,
			entry BLOB NOT NULL,
			time INTEGER,
			kind TEXT,
			org TEXT,
			action TEXT)`,
		`INSERT INTO ledger_entries_v3 (log, idx, entry, time, kind, org, action)
			SELECT e.log, e.idx, e.entry, i.time, i.kind, i.org, i.action
			FROM ledger_entries e LEFT JOIN ledger_index i ON i.log = e.log AND i.idx = e.idx
			ORDER BY e.log, e.idx`,
		`DROP TABLE ledger_entries`,
		`DROP TABLE ledger_index`,
		`ALTER TABLE ledger_entries_v3 RENAME TO ledger_entries`,
		`CREATE UNIQUE INDEX ledger_entries_at ON ledger_entries (log, idx)`,
		`CREATE TABLE ledger_postings (
			log TEXT NOT NULL,
			term TEXT NOT NULL,
			first INTEGER NOT NULL,
			last INTEGER NOT NULL,
			idxs BLOB NOT NULL,
			PRIMARY KEY (log, term, first)) WITHOUT ROWID`,
		`INSERT INTO ledger_postings (log, term, first, last, idxs)
			SELECT log, term, idx, idx, x'' FROM ledger_terms`,
		`DROP TABLE ledger_terms`,
	}})
	// Version 4 takes the postings off the append path (ledger_merge.go):
	// an append writes one ledger_recent row with all the postings of its
	// batch (ledger_recent.go); a merger folds them into ledger_postings
	// in the index database file next to this one. A file database's
	// ledger_postings (version 3's rows) moves there when it is opened; an
	// in-memory database keeps it and writes postings as version 3 did.
	migrations = append(migrations, migration{store: "ledger", version: 4, stmts: []string{
		`CREATE TABLE ledger_recent (
			log TEXT NOT NULL,
			first INTEGER NOT NULL,
			last INTEGER NOT NULL,
			postings BLOB NOT NULL,
			PRIMARY KEY (log, first)) WITHOUT ROWID`,
	}})
	// Version 5 cuts the pages a group commit writes (ledger_nodes.go):
	//
	// Entries are keyed by a rowid computed from the log's number
	// (ledger_logs) and the entry's index, k = id<<43 | idx, so one log's
	// entries sit in index order at the end of its key range and an
	// append touches the last leaf pages only; the unique (log, idx)
	// index, a second B-tree every append wrote, is gone (log and idx stay
	// as plain columns, so a row still says what it is).
	//
	// The Merkle nodes an entry completes move into its own row (the
	// nodes column): appending leaf i completes the nodes
	// (l, ((i+1)>>l)-1) for l = 0 .. trailing zeros of i+1, so node
	// (l, n) lives in the row of entry ((n+1)<<l)-1. The ledger_nodes
	// B-tree, keyed by (log, level, idx), had each level's new nodes on
	// a leaf page of its own: ~60% of a small batch's WAL frames. It
	// keeps the nodes written before version 5 and any node an append
	// names outside its own entries.
	migrations = append(migrations, migration{store: "ledger", version: 5, stmts: []string{
		`CREATE TABLE ledger_logs (
			id INTEGER PRIMARY KEY,
			name TEXT NOT NULL UNIQUE)`,
		`INSERT INTO ledger_logs (name) SELECT log FROM ledger_heads UNION SELECT log FROM ledger_entries`,
		`CREATE TABLE ledger_entries_v5 (
			k INTEGER PRIMARY KEY,
			log TEXT NOT NULL,
			idx INTEGER NOT NULL CHECK (idx >= 0 AND idx < 8796093022208),
			entry BLOB NOT NULL,
			nodes BLOB,
			time INTEGER,
			kind TEXT,
			org TEXT,
			action TEXT)`,
		`INSERT INTO ledger_entries_v5 (k, log, idx, entry, nodes, time, kind, org, action)
			SELECT (l.id << 43) | e.idx, e.log, e.idx, e.entry, NULL, e.time, e.kind, e.org, e.action
			FROM ledger_entries e JOIN ledger_logs l ON l.name = e.log
			ORDER BY 1`,
		`DROP TABLE ledger_entries`,
		`ALTER TABLE ledger_entries_v5 RENAME TO ledger_entries`,
	}})
}

// LedgerStore is the SQLite ledger.Store. Each Append is one BEGIN
// IMMEDIATE transaction that checks the head's size before writing, so
// writers in several processes sharing the file never fork a log. The
// query index's postings are written by the append as one row and merged
// into the index database file off the append path (ledger_merge.go).
type LedgerStore struct {
	db *DB
}

var _ ledger.IndexStore = (*LedgerStore)(nil)

// NewLedgerStore returns the ledger store of db.
func NewLedgerStore(db *DB) *LedgerStore { return &LedgerStore{db: db} }

// ledgerIndex converts a tree index to SQLite's signed 64-bit integers.
func ledgerIndex(what string, v uint64) (int64, error) {
	if v > math.MaxInt64 {
		return 0, errs.Errorf(errs.ErrInvalidArgument, "sqlite ledger: %s %d is too large", what, v)
	}
	return int64(v), nil
}

// ledgerBlob keeps an empty entry an empty BLOB rather than NULL.
func ledgerBlob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// ledgerRows is how many rows one INSERT statement writes (SQLite allows
// 32766 parameters per statement).
const ledgerRows = 256

// ledgerInserts caches the text of multi-row INSERT statements by shape.
var ledgerInserts sync.Map

// ledgerInsert returns "INSERT INTO table VALUES (?,..),(?,..)..." for rows
// rows of cols columns.
func ledgerInsert(table string, cols, rows int) string {
	type shape struct {
		table      string
		cols, rows int
	}
	k := shape{table, cols, rows}
	if q, ok := ledgerInserts.Load(k); ok {
		return q.(string)
	}
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " VALUES ")
	row := "(" + strings.Repeat("?, ", cols-1) + "?)"
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	q := b.String()
	ledgerInserts.Store(k, q)
	return q
}

// Append implements ledger.Store.
func (s *LedgerStore) Append(ctx context.Context, log string, size uint64, entries [][]byte, nodes []ledger.Node, checkpoint []byte) error {
	return s.AppendIndexed(ctx, log, size, entries, make([]*ledger.Fields, len(entries)), nodes, checkpoint)
}

// AppendIndexed implements ledger.IndexStore.
func (s *LedgerStore) AppendIndexed(ctx context.Context, log string, size uint64, entries [][]byte, fields []*ledger.Fields, nodes []ledger.Node, checkpoint []byte) error {
	if err := ctx.Err(); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "sqlite ledger: %w", err)
	}
	if fields == nil {
		fields = make([]*ledger.Fields, len(entries))
	}
	start, newSize, err := ledger.CheckAppend(log, size, entries, fields)
	if err != nil {
		return err
	}
	if newSize > ledgerMaxIndex {
		return errs.Errorf(errs.ErrInvalidArgument, "sqlite ledger %q: %d entries, the most one log holds is %d", log, newSize, int64(ledgerMaxIndex))
	}
	inRow, inTable, err := ledgerSplitNodes(log, start, newSize, nodes)
	if err != nil {
		return err
	}
	x := s.db.ledger
	var drop int64 // recent rows below it deleted by this transaction
	var id int64   // the log's number, cached once the transaction commits
	err = s.db.tx(ctx, func(tx *sql.Tx) error {
		var cur int64
		err := s.db.txQueryRow(ctx, tx, `SELECT size FROM ledger_heads WHERE log = ?`, log).Scan(&cur)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if cur != start {
			return errs.Errorf(errs.ErrConflict, "sqlite ledger %q: append at size %d, log has %d entries", log, size, cur)
		}
		if id, err = s.db.ledgerLogID(ctx, tx, log, true); err != nil {
			return err
		}
		// Multi-row INSERTs: a few statements per table instead of one per
		// row, the main cost of a group commit.
		args := make([]any, 0, 9*len(entries))
		for i, e := range entries {
			idx := start + int64(i)
			args = append(args, id<<ledgerIndexBits|idx, log, idx, ledgerBlob(e), inRow[i])
			if f := fields[i]; f != nil {
				args = append(args, ledgerTime(f.Time), f.Kind, f.Org, f.Action)
			} else {
				args = append(args, nil, nil, nil, nil)
			}
		}
		if err := ledgerExecRows(ctx, s.db, tx, "ledger_entries (k, log, idx, entry, nodes, time, kind, org, action)", 9, args); err != nil {
			return err
		}
		if len(inTable) > 0 {
			args = make([]any, 0, 4*len(inTable))
			for _, n := range inTable {
				idx, err := ledgerIndex("node index", n.ID.Index)
				if err != nil {
					return err
				}
				args = append(args, log, int64(n.ID.Level), idx, ledgerBlob(n.Hash))
			}
			if err := ledgerExecRows(ctx, s.db, tx, "ledger_nodes (log, level, idx, hash)", 4, args); err != nil {
				return err
			}
		}
		if !x.file {
			if err := ledgerWritePostings(ctx, s.db, tx, log, start, fields); err != nil {
				return err
			}
		} else {
			// The batch's postings in one row; the merger moves them to
			// the index database. Rows it has merged go in the same
			// transaction.
			if _, err := s.db.txExec(ctx, tx, `INSERT INTO ledger_recent (log, first, last, postings) VALUES (?, ?, ?, ?)`,
				log, start, newSize-1, recentEncode(start, recentTerms(start, fields))); err != nil {
				return err
			}
			if drop = x.deletable(log); drop > 0 {
				if _, err := s.db.txExec(ctx, tx, `DELETE FROM ledger_recent WHERE log = ? AND first < ?`, log, drop); err != nil {
					return err
				}
			}
		}
		_, err = s.db.txExec(ctx, tx, `INSERT INTO ledger_heads (log, size, checkpoint) VALUES (?, ?, ?)
			ON CONFLICT (log) DO UPDATE SET size = excluded.size, checkpoint = excluded.checkpoint`,
			log, newSize, ledgerBlob(checkpoint))
		return err
	})
	if err == nil {
		s.db.ledgerIDs.Store(log, id)
		if x.file {
			if drop > 0 {
				x.markDeleted(log, drop)
			}
			x.appended(log, len(entries))
		}
	}
	return err
}

// Head implements ledger.Store.
func (s *LedgerStore) Head(ctx context.Context, log string) (uint64, []byte, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, errs.Errorf(errs.ErrUnavailable, "sqlite ledger: %w", err)
	}
	var size int64
	var cp []byte
	err := s.db.db.QueryRowContext(ctx, `SELECT size, checkpoint FROM ledger_heads WHERE log = ?`, log).Scan(&size, &cp)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, mapErr(ctx, err)
	}
	return uint64(size), cp, nil
}

// Entries implements ledger.Store.
func (s *LedgerStore) Entries(ctx context.Context, log string, start, end uint64) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "sqlite ledger: %w", err)
	}
	lo, hi, err := ledger.CheckRange(log, start, end)
	if err != nil {
		return nil, err
	}
	if lo == hi {
		return [][]byte{}, nil
	}
	if hi > ledgerMaxIndex {
		return nil, errs.Errorf(errs.ErrNotFound, "sqlite ledger %q: entries [%d, %d): past the end", log, start, end)
	}
	id, err := s.db.ledgerLogID(ctx, nil, log, false)
	if err != nil {
		return nil, err
	}
	if id < 0 {
		return nil, errs.Errorf(errs.ErrNotFound, "sqlite ledger %q: entries [%d, %d): the log is empty", log, start, end)
	}
	rows, err := s.db.db.QueryContext(ctx, `SELECT idx, entry FROM ledger_entries WHERE k >= ? AND k < ? ORDER BY k`,
		id<<ledgerIndexBits|lo, id<<ledgerIndexBits|hi)
	if err != nil {
		return nil, mapErr(ctx, err)
	}
	defer rows.Close()
	out := make([][]byte, 0, hi-lo)
	for rows.Next() {
		var idx int64
		var e []byte
		if err := rows.Scan(&idx, &e); err != nil {
			return nil, mapErr(ctx, err)
		}
		if idx != lo+int64(len(out)) {
			return nil, errs.Errorf(errs.ErrNotFound, "sqlite ledger %q: entry %d is missing", log, lo+int64(len(out)))
		}
		if e == nil {
			e = []byte{}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(ctx, err)
	}
	if int64(len(out)) != hi-lo {
		return nil, errs.Errorf(errs.ErrNotFound, "sqlite ledger %q: entries [%d, %d): entry %d is missing or past the end", log, start, end, lo+int64(len(out)))
	}
	return out, nil
}

// ledgerTime is a time as stored in ledger_entries.time: Unix nanoseconds
// (clamped to int64), NULL for the zero time.
func ledgerTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return int64(math.MinInt64)
	case t.After(time.Unix(0, math.MaxInt64)):
		return int64(math.MaxInt64)
	}
	return t.UnixNano()
}

// ledgerExecRows inserts the rows whose values are args (cols per row)
// into table, in statements of 256, 128, ..., 2 or 1 rows: at most nine
// statement shapes per table, so that all of them stay prepared in the
// DB's statement cache whatever the batch sizes (statements of every row
// count would overflow it and be parsed anew on every use).
func ledgerExecRows(ctx context.Context, d *DB, tx *sql.Tx, table string, cols int, args []any) error {
	n := len(args) / cols
	for chunk := ledgerRows; n > 0; chunk /= 2 {
		for n >= chunk {
			if _, err := d.txExec(ctx, tx, ledgerInsert(table, cols, chunk), args[:chunk*cols]...); err != nil {
				return err
			}
			args, n = args[chunk*cols:], n-chunk
		}
	}
	return nil
}

// Find implements ledger.IndexStore. With a kind, action, actor or
// subject in the filter it walks the postings of the most selective of
// them in index order and checks the others' postings; otherwise it walks
// the index rows.
func (s *LedgerStore) Find(ctx context.Context, log string, f *ledger.Filter, from uint64, limit int) ([]ledger.Found, error) {
	if err := ctx.Err(); err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "sqlite ledger: %w", err)
	}
	if f == nil || limit < 1 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "sqlite ledger %q: find needs a filter and a limit >= 1", log)
	}
	out := []ledger.Found{}
	if from >= ledgerMaxIndex {
		return out, nil
	}
	id, err := s.db.ledgerLogID(ctx, nil, log, false)
	if err != nil || id < 0 {
		return out, err
	}
	if terms := f.Terms(); len(terms) > 0 {
		return s.ledgerFindTerms(ctx, log, id, terms, f, int64(from), limit)
	}
	var q strings.Builder
	q.WriteString(`SELECT idx, entry FROM ledger_entries
		WHERE k >= ? AND k < ? AND kind IS NOT NULL`)
	args := ledgerFilterConds(&q, []any{id<<ledgerIndexBits | int64(from), (id + 1) << ledgerIndexBits}, f)
	q.WriteString(` ORDER BY k LIMIT ?`)
	args = append(args, limit)
	found, err := s.ledgerFound(ctx, q.String(), args)
	if err != nil {
		return nil, err
	}
	return append(out, found...), nil
}
