package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"math"
	"strings"
	"sync"

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
}

// LedgerStore is the SQLite ledger.Store. Each Append is one BEGIN
// IMMEDIATE transaction that checks the head's size before writing, so
// writers in several processes sharing the file never fork a log.
type LedgerStore struct {
	db *DB
}

var _ ledger.Store = (*LedgerStore)(nil)

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
	if err := ctx.Err(); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "sqlite ledger: %w", err)
	}
	if log == "" {
		return errs.Errorf(errs.ErrInvalidArgument, "sqlite ledger: empty log name")
	}
	if len(entries) == 0 {
		return errs.Errorf(errs.ErrInvalidArgument, "sqlite ledger %q: append of no entries", log)
	}
	start, err := ledgerIndex("size", size)
	if err != nil {
		return err
	}
	newSize, err := ledgerIndex("size", size+uint64(len(entries)))
	if err != nil {
		return err
	}
	return s.db.tx(ctx, func(tx *sql.Tx) error {
		var cur int64
		err := tx.QueryRowContext(ctx, `SELECT size FROM ledger_heads WHERE log = ?`, log).Scan(&cur)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if cur != start {
			return errs.Errorf(errs.ErrConflict, "sqlite ledger %q: append at size %d, log has %d entries", log, size, cur)
		}
		// Multi-row INSERTs: one statement per ledgerRows rows instead of
		// one per row, the main cost of a group commit.
		args := make([]any, 0, 4*ledgerRows)
		for lo := 0; lo < len(entries); lo += ledgerRows {
			part := entries[lo:min(lo+ledgerRows, len(entries))]
			args = args[:0]
			for i, e := range part {
				args = append(args, log, start+int64(lo+i), ledgerBlob(e))
			}
			if _, err := tx.ExecContext(ctx, ledgerInsert("ledger_entries (log, idx, entry)", 3, len(part)), args...); err != nil {
				return err
			}
		}
		for lo := 0; lo < len(nodes); lo += ledgerRows {
			part := nodes[lo:min(lo+ledgerRows, len(nodes))]
			args = args[:0]
			for _, n := range part {
				idx, err := ledgerIndex("node index", n.ID.Index)
				if err != nil {
					return err
				}
				args = append(args, log, int64(n.ID.Level), idx, ledgerBlob(n.Hash))
			}
			if _, err := tx.ExecContext(ctx, ledgerInsert("ledger_nodes (log, level, idx, hash)", 4, len(part)), args...); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO ledger_heads (log, size, checkpoint) VALUES (?, ?, ?)
			ON CONFLICT (log) DO UPDATE SET size = excluded.size, checkpoint = excluded.checkpoint`,
			log, newSize, ledgerBlob(checkpoint))
		return err
	})
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
	if start > end {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "sqlite ledger %q: entries [%d, %d): start after end", log, start, end)
	}
	lo, err := ledgerIndex("index", start)
	if err != nil {
		return nil, err
	}
	hi, err := ledgerIndex("index", end)
	if err != nil {
		return nil, err
	}
	if lo == hi {
		return [][]byte{}, nil
	}
	rows, err := s.db.db.QueryContext(ctx, `SELECT idx, entry FROM ledger_entries WHERE log = ? AND idx >= ? AND idx < ? ORDER BY idx`, log, lo, hi)
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

// Nodes implements ledger.Store.
func (s *LedgerStore) Nodes(ctx context.Context, log string, ids []ledger.NodeID) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "sqlite ledger: %w", err)
	}
	found := make(map[ledger.NodeID][]byte, len(ids))
	// One statement per chunk of ids; a proof needs well under one chunk,
	// so its hashes come from one snapshot.
	const chunk = 256
	for lo := 0; lo < len(ids); lo += chunk {
		part := ids[lo:min(lo+chunk, len(ids))]
		var q strings.Builder
		q.WriteString(`SELECT level, idx, hash FROM ledger_nodes WHERE log = ? AND (`)
		args := make([]any, 0, 1+2*len(part))
		args = append(args, log)
		for i, id := range part {
			idx, err := ledgerIndex("node index", id.Index)
			if err != nil {
				return nil, err
			}
			if i > 0 {
				q.WriteString(" OR ")
			}
			q.WriteString("(level = ? AND idx = ?)")
			args = append(args, int64(id.Level), idx)
		}
		q.WriteString(")")
		rows, err := s.db.db.QueryContext(ctx, q.String(), args...)
		if err != nil {
			return nil, mapErr(ctx, err)
		}
		for rows.Next() {
			var level, idx int64
			var h []byte
			if err := rows.Scan(&level, &idx, &h); err != nil {
				rows.Close()
				return nil, mapErr(ctx, err)
			}
			found[ledger.NodeID{Level: uint(level), Index: uint64(idx)}] = h
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, mapErr(ctx, err)
		}
	}
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h, ok := found[id]
		if !ok {
			return nil, errs.Errorf(errs.ErrNotFound, "sqlite ledger %q: no node (%d, %d)", log, id.Level, id.Index)
		}
		out[i] = bytes.Clone(h)
	}
	return out, nil
}
