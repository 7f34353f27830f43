package sqlite

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
)

// Layout of a log in the main database since version 5 (see the migration
// in ledger.go):
//
//   - ledger_logs numbers each log once (id, never reused);
//   - an entry's row is keyed k = id<<ledgerIndexBits | idx;
//   - the row's nodes column holds the Merkle nodes that appending the
//     entry completed, so that a batch's nodes land on the pages its
//     entries are written to anyway.
//
// Appending leaf i (0-based) completes node (l, ((i+1)>>l)-1) for every l
// from 0 to the number of trailing zero bits of i+1; node (l, n) is
// therefore completed by leaf ((n+1)<<l)-1. The nodes column is
//
//	per node, in increasing level order:
//	    byte level
//	    byte length of the hash (at most 255)
//	    the hash
//
// A node an append names that is not completed by one of its own entries
// (the ledger package never does this; the Store contract allows it), or
// whose hash is longer than 255 bytes, goes to ledger_nodes as before
// version 5, which also keeps every node written before it. Nodes looks
// in the rows first and in ledger_nodes for what they lack.

const (
	// ledgerIndexBits is how many low bits of an entry's key hold its
	// index: 2^43 entries per log (over 13 years at 20,000 a second).
	ledgerIndexBits = 43
	// ledgerMaxIndex bounds a log's size.
	ledgerMaxIndex = 1 << ledgerIndexBits
	// ledgerMaxLogs bounds the number of logs (orgs) one database holds,
	// so that every key stays a positive int64.
	ledgerMaxLogs = 1 << (63 - ledgerIndexBits)
)

// ledgerNodeLeaf returns the index of the leaf whose append completes node
// id, and false when that is beyond any log's size.
func ledgerNodeLeaf(id ledger.NodeID) (int64, bool) {
	if id.Level >= ledgerIndexBits || id.Index >= ledgerMaxIndex>>id.Level {
		return 0, false
	}
	return int64((id.Index+1)<<id.Level) - 1, true
}

// ledgerRowLeaf returns the entry in [start, end) whose row holds node n,
// and false when n goes to ledger_nodes instead.
func ledgerRowLeaf(n ledger.Node, start, end int64) (int64, bool) {
	leaf, ok := ledgerNodeLeaf(n.ID)
	return leaf, ok && leaf >= start && leaf < end && len(n.Hash) <= 255
}

// ledgerSplitNodes sorts the nodes of an append of the entries [start,
// end): the nodes column of each entry's row (nil when it completes none)
// and the nodes that go to ledger_nodes. A node named twice is
// errs.ErrInvalidArgument.
func ledgerSplitNodes(log string, start, end int64, nodes []ledger.Node) ([]any, []ledger.Node, error) {
	// Nodes usually come in the order the tree completes them (by leaf,
	// then level); anything else is sorted so, and packed again.
	cols, table, bad := ledgerPackNodes(start, end, nodes)
	if bad < 0 {
		return cols, table, nil
	}
	sorted := slices.Clone(nodes)
	slices.SortStableFunc(sorted, func(a, b ledger.Node) int {
		la, _ := ledgerNodeLeaf(a.ID)
		lb, _ := ledgerNodeLeaf(b.ID)
		return cmp.Or(cmp.Compare(la, lb), cmp.Compare(a.ID.Level, b.ID.Level))
	})
	if cols, table, bad = ledgerPackNodes(start, end, sorted); bad >= 0 {
		// Sorted, only a repeat follows a node of its own level.
		n := sorted[bad].ID
		return nil, nil, errs.Errorf(errs.ErrInvalidArgument, "sqlite ledger %q: node (%d, %d) is named twice", log, n.Level, n.Index)
	}
	return cols, table, nil
}

// ledgerPackNodes is ledgerSplitNodes for nodes in completion order: it
// returns the position of the first node whose level is not above the
// last one packed into its entry's column (-1 when there is none).
func ledgerPackNodes(start, end int64, nodes []ledger.Node) ([]any, []ledger.Node, int) {
	cols := make([]any, end-start)
	var table []ledger.Node
	for i, n := range nodes {
		leaf, ok := ledgerRowLeaf(n, start, end)
		if !ok {
			table = append(table, n)
			continue
		}
		k := leaf - start
		col, _ := cols[k].([]byte)
		if len(col) > 0 && uint(ledgerLastLevel(col)) >= n.ID.Level {
			return nil, nil, i
		}
		col = append(col, byte(n.ID.Level), byte(len(n.Hash)))
		cols[k] = append(col, n.Hash...)
	}
	return cols, table, -1
}

// ledgerLastLevel returns the level of the last node in a nodes column.
func ledgerLastLevel(col []byte) byte {
	var last byte
	for len(col) >= 2 {
		last = col[0]
		col = col[2+int(col[1]):]
	}
	return last
}

// ledgerColumnNode returns the hash of the node at level in a nodes
// column. A malformed column is errs.ErrUnauthenticated: only a changed
// database holds one.
func ledgerColumnNode(log string, leaf int64, col []byte, level uint) ([]byte, bool, error) {
	for len(col) > 0 {
		if len(col) < 2 || len(col) < 2+int(col[1]) {
			return nil, false, errs.Errorf(errs.ErrUnauthenticated, "sqlite ledger %q: the nodes of entry %d are malformed", log, leaf)
		}
		if uint(col[0]) == level {
			return col[2 : 2+int(col[1])], true, nil
		}
		col = col[2+int(col[1]):]
	}
	return nil, false, nil
}

// ledgerLogID returns log's number, assigning the next one when create is
// set (in tx, which must then commit before the caller caches it), or -1
// when the log has none. q is tx, or the database when tx is nil.
func (d *DB) ledgerLogID(ctx context.Context, tx *sql.Tx, log string, create bool) (int64, error) {
	if v, ok := d.ledgerIDs.Load(log); ok {
		return v.(int64), nil
	}
	const get = `SELECT id FROM ledger_logs WHERE name = ?`
	var row *sql.Row
	if tx != nil {
		row = d.txQueryRow(ctx, tx, get, log)
	} else {
		row = d.queryRow(ctx, get, log)
	}
	var id int64
	err := row.Scan(&id)
	switch {
	case err == nil:
		if tx == nil {
			d.ledgerIDs.Store(log, id)
		}
		return id, nil
	case !errors.Is(err, sql.ErrNoRows):
		return 0, mapErr(ctx, err)
	case !create:
		return -1, nil
	}
	if err := d.txQueryRow(ctx, tx, `INSERT INTO ledger_logs (name) VALUES (?) RETURNING id`, log).Scan(&id); err != nil {
		return 0, mapErr(ctx, err)
	}
	if id >= ledgerMaxLogs {
		return 0, errs.Errorf(errs.ErrFailedPrecondition, "sqlite ledger %q: the database holds the most logs it can (%d)", log, ledgerMaxLogs)
	}
	return id, nil
}

// Nodes implements ledger.Store: the nodes are read from the rows of the
// entries that completed them, then from ledger_nodes for any they lack.
// Each statement covers a chunk of ids; a proof needs well under one
// chunk, so its hashes come from one snapshot.
func (s *LedgerStore) Nodes(ctx context.Context, log string, ids []ledger.NodeID) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "sqlite ledger: %w", err)
	}
	for _, id := range ids {
		if _, err := ledgerIndex("node index", id.Index); err != nil {
			return nil, err
		}
	}
	out := make([][]byte, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	id, err := s.db.ledgerLogID(ctx, nil, log, false)
	if err != nil {
		return nil, err
	}
	const chunk = 256
	var rest []int // positions of ids not found in rows
	if id < 0 {
		for i := range ids {
			rest = append(rest, i)
		}
	} else {
		for lo := 0; lo < len(ids); lo += chunk {
			part := ids[lo:min(lo+chunk, len(ids))]
			if rest, err = s.ledgerRowNodes(ctx, log, id, part, lo, out, rest); err != nil {
				return nil, err
			}
		}
	}
	for lo := 0; lo < len(rest); lo += chunk {
		if err := s.ledgerTableNodes(ctx, log, ids, rest[lo:min(lo+chunk, len(rest))], out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ledgerRowNodes reads the nodes part (ids[off:off+len(part)]) from entry
// rows into out, and returns rest with the positions it did not find.
func (s *LedgerStore) ledgerRowNodes(ctx context.Context, log string, id int64, part []ledger.NodeID, off int, out [][]byte, rest []int) ([]int, error) {
	var q strings.Builder
	q.WriteString(`SELECT idx, nodes FROM ledger_entries WHERE k IN (`)
	args := make([]any, 0, len(part))
	for _, n := range part {
		leaf, ok := ledgerNodeLeaf(n)
		if !ok {
			continue
		}
		if len(args) > 0 {
			q.WriteString(", ")
		}
		q.WriteString("?")
		args = append(args, id<<ledgerIndexBits|leaf)
	}
	q.WriteString(")")
	cols := map[int64][]byte{}
	if len(args) > 0 {
		rows, err := s.db.db.QueryContext(ctx, q.String(), args...)
		if err != nil {
			return nil, mapErr(ctx, err)
		}
		for rows.Next() {
			var idx int64
			var col []byte
			if err := rows.Scan(&idx, &col); err != nil {
				rows.Close()
				return nil, mapErr(ctx, err)
			}
			cols[idx] = col
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, mapErr(ctx, err)
		}
	}
	for i, n := range part {
		leaf, ok := ledgerNodeLeaf(n)
		if ok {
			h, found, err := ledgerColumnNode(log, leaf, cols[leaf], n.Level)
			if err != nil {
				return nil, err
			}
			if found {
				out[off+i] = bytes.Clone(h)
				continue
			}
		}
		rest = append(rest, off+i)
	}
	return rest, nil
}

// ledgerTableNodes reads the nodes ids[at...] from ledger_nodes into out;
// a missing one is errs.ErrNotFound.
func (s *LedgerStore) ledgerTableNodes(ctx context.Context, log string, ids []ledger.NodeID, at []int, out [][]byte) error {
	var q strings.Builder
	q.WriteString(`SELECT level, idx, hash FROM ledger_nodes WHERE log = ? AND (`)
	args := make([]any, 0, 1+2*len(at))
	args = append(args, log)
	for i, k := range at {
		if i > 0 {
			q.WriteString(" OR ")
		}
		q.WriteString("(level = ? AND idx = ?)")
		args = append(args, int64(ids[k].Level), int64(ids[k].Index))
	}
	q.WriteString(")")
	rows, err := s.db.db.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return mapErr(ctx, err)
	}
	found := make(map[ledger.NodeID][]byte, len(at))
	for rows.Next() {
		var level, idx int64
		var h []byte
		if err := rows.Scan(&level, &idx, &h); err != nil {
			rows.Close()
			return mapErr(ctx, err)
		}
		found[ledger.NodeID{Level: uint(level), Index: uint64(idx)}] = h
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return mapErr(ctx, err)
	}
	for _, k := range at {
		h, ok := found[ids[k]]
		if !ok {
			return errs.Errorf(errs.ErrNotFound, "sqlite ledger %q: no node (%d, %d)", log, ids[k].Level, ids[k].Index)
		}
		if h == nil {
			h = []byte{}
		}
		out[k] = bytes.Clone(h)
	}
	return nil
}
