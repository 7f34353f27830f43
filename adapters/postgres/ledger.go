package postgres

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
)

// LedgerStore is the PostgreSQL ledger.Store. Each Append is one
// transaction that locks the log's head row (SELECT ... FOR UPDATE),
// compares its size with the expected one, inserts the entries and nodes
// and moves the head: a compare-and-swap, so any number of processes
// appending to one log produce one linear log.
type LedgerStore struct{ d *DB }

var _ ledger.IndexStore = (*LedgerStore)(nil)

// NewLedgerStore returns the ledger store over d.
func NewLedgerStore(d *DB) *LedgerStore { return &LedgerStore{d: d} }

func ledgerIndex(what string, v uint64) (int64, error) {
	if v > math.MaxInt64 {
		return 0, errs.Errorf(errs.ErrInvalidArgument, "postgres ledger: %s %d is too large", what, v)
	}
	return int64(v), nil
}

// ledgerBytes keeps an empty entry an empty bytea rather than NULL.
func ledgerBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Append implements ledger.Store.
func (s *LedgerStore) Append(ctx context.Context, log string, size uint64, entries [][]byte, nodes []ledger.Node, checkpoint []byte) error {
	return s.AppendIndexed(ctx, log, size, entries, make([]*ledger.Fields, len(entries)), nodes, checkpoint)
}

// AppendIndexed implements ledger.IndexStore: the index and term rows go
// in the same transaction as the entries.
func (s *LedgerStore) AppendIndexed(ctx context.Context, log string, size uint64, entries [][]byte, fields []*ledger.Fields, nodes []ledger.Node, checkpoint []byte) error {
	if err := ctx.Err(); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "postgres ledger: %w", err)
	}
	if fields == nil {
		fields = make([]*ledger.Fields, len(entries))
	}
	start, newSize, err := ledger.CheckAppend(log, size, entries, fields)
	if err != nil {
		return err
	}
	idxs := make([]int64, len(entries))
	blobs := make([][]byte, len(entries))
	for i, e := range entries {
		idxs[i], blobs[i] = start+int64(i), ledgerBytes(e)
	}
	levels := make([]int16, len(nodes))
	nidx := make([]int64, len(nodes))
	hashes := make([][]byte, len(nodes))
	for i, n := range nodes {
		if n.ID.Level > math.MaxInt16 {
			return errs.Errorf(errs.ErrInvalidArgument, "postgres ledger %q: node level %d", log, n.ID.Level)
		}
		if nidx[i], err = ledgerIndex("node index", n.ID.Index); err != nil {
			return err
		}
		levels[i], hashes[i] = int16(n.ID.Level), ledgerBytes(n.Hash)
	}
	return s.d.tx(ctx, log, func(tx txn) error {
		var cur int64
		err := tx.QueryRow(ctx, `SELECT size FROM {S}.ledger_heads WHERE org = $1 FOR UPDATE`, log).Scan(&cur)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			cur = 0
		case err != nil:
			return err
		}
		if cur != start {
			return errs.Errorf(errs.ErrConflict, "postgres ledger %q: append at size %d, log has %d entries", log, size, cur)
		}
		// A log without a head row has no lock to take: two first appends
		// race on the entries' primary key instead, and the loser's
		// unique_violation is the conflict.
		qs := []string{`INSERT INTO {S}.ledger_entries (org, idx, entry) SELECT $1, i, e FROM unnest($2::bigint[], $3::bytea[]) AS t(i, e)`}
		args := [][]any{{log, idxs, blobs}}
		if len(nodes) > 0 {
			qs = append(qs, `INSERT INTO {S}.ledger_nodes (org, level, idx, hash) SELECT $1, l, i, h FROM unnest($2::smallint[], $3::bigint[], $4::bytea[]) AS t(l, i, h)`)
			args = append(args, []any{log, levels, nidx, hashes})
		}
		if ix := ledgerIndexRows(start, fields); ix.n > 0 {
			qs = append(qs, `INSERT INTO {S}.ledger_index (org, idx, time, kind, pred_org, action)
				SELECT $1, i, t, k, o, a FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[]) AS x(i, t, k, o, a)`,
				`INSERT INTO {S}.ledger_terms (org, term, idx) SELECT $1, t, i FROM unnest($2::text[], $3::bigint[]) AS x(t, i)`)
			args = append(args, []any{log, ix.idx, ix.time, ix.kind, ix.org, ix.action}, []any{log, ix.terms, ix.termIdx})
		}
		qs = append(qs, `INSERT INTO {S}.ledger_heads (org, size, checkpoint) VALUES ($1, $2, $3)
			ON CONFLICT (org) DO UPDATE SET size = excluded.size, checkpoint = excluded.checkpoint`)
		args = append(args, []any{log, newSize, ledgerBytes(checkpoint)})
		return tx.Batch(ctx, qs, args)
	})
}

// Head implements ledger.Store.
func (s *LedgerStore) Head(ctx context.Context, log string) (uint64, []byte, error) {
	var (
		size  int64
		cp    []byte
		found bool
	)
	err := s.d.read(ctx, log, `SELECT size, checkpoint FROM {S}.ledger_heads WHERE org = $1`, []any{log}, func(r pgx.Rows) error {
		found = true
		return r.Scan(&size, &cp)
	})
	if err != nil {
		return 0, nil, err
	}
	if !found {
		return 0, nil, nil
	}
	return uint64(size), cp, nil
}

// Entries implements ledger.Store.
func (s *LedgerStore) Entries(ctx context.Context, log string, start, end uint64) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "postgres ledger: %w", err)
	}
	lo, hi, err := ledger.CheckRange(log, start, end)
	if err != nil {
		return nil, err
	}
	if lo == hi {
		return [][]byte{}, nil
	}
	out := make([][]byte, 0, min(hi-lo, 4096))
	err = s.d.read(ctx, log, `SELECT idx, entry FROM {S}.ledger_entries WHERE org = $1 AND idx >= $2 AND idx < $3 ORDER BY idx`,
		[]any{log, lo, hi}, func(r pgx.Rows) error {
			var idx int64
			var e []byte
			if err := r.Scan(&idx, &e); err != nil {
				return err
			}
			if idx != lo+int64(len(out)) {
				return errs.Errorf(errs.ErrNotFound, "postgres ledger %q: entry %d is missing", log, lo+int64(len(out)))
			}
			out = append(out, ledgerBytes(e))
			return nil
		})
	if err != nil {
		return nil, err
	}
	if int64(len(out)) != hi-lo {
		return nil, errs.Errorf(errs.ErrNotFound, "postgres ledger %q: entries [%d, %d): entry %d is missing or past the end", log, start, end, lo+int64(len(out)))
	}
	return out, nil
}

// Nodes implements ledger.Store.
func (s *LedgerStore) Nodes(ctx context.Context, log string, ids []ledger.NodeID) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "postgres ledger: %w", err)
	}
	if len(ids) == 0 {
		return [][]byte{}, nil
	}
	levels := make([]int16, len(ids))
	idxs := make([]int64, len(ids))
	for i, id := range ids {
		if id.Level > math.MaxInt16 {
			return nil, errs.Errorf(errs.ErrNotFound, "postgres ledger %q: no node (%d, %d)", log, id.Level, id.Index)
		}
		v, err := ledgerIndex("node index", id.Index)
		if err != nil {
			return nil, err
		}
		levels[i], idxs[i] = int16(id.Level), v
	}
	found := make(map[ledger.NodeID][]byte, len(ids))
	err := s.d.read(ctx, log, `SELECT n.level, n.idx, n.hash FROM unnest($2::smallint[], $3::bigint[]) AS w(l, i)
		JOIN {S}.ledger_nodes n ON n.org = $1 AND n.level = w.l AND n.idx = w.i`,
		[]any{log, levels, idxs}, func(r pgx.Rows) error {
			var level int16
			var idx int64
			var h []byte
			if err := r.Scan(&level, &idx, &h); err != nil {
				return err
			}
			found[ledger.NodeID{Level: uint(level), Index: uint64(idx)}] = h
			return nil
		})
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h, ok := found[id]
		if !ok {
			return nil, errs.Errorf(errs.ErrNotFound, "postgres ledger %q: no node (%d, %d)", log, id.Level, id.Index)
		}
		out[i] = ledgerBytes(h)
	}
	return out, nil
}

// ledgerTime is a time as stored in ledger_index.time: Unix nanoseconds
// (clamped to int64), NULL for the zero time.
func ledgerTime(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	var v int64
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		v = math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		v = math.MaxInt64
	default:
		v = t.UnixNano()
	}
	return &v
}

// ledgerIndexBatch is the index and term rows of a batch, as columns for
// unnest.
type ledgerIndexBatch struct {
	n                 int
	idx               []int64
	time              []*int64
	kind, org, action []string
	terms             []string
	termIdx           []int64
}

// ledgerIndexRows lays out the index rows of the entries from index start
// on; a nil fields[i] is not indexed.
func ledgerIndexRows(start int64, fields []*ledger.Fields) ledgerIndexBatch {
	var b ledgerIndexBatch
	term := func(idx int64, t string) {
		b.terms = append(b.terms, t)
		b.termIdx = append(b.termIdx, idx)
	}
	for i, f := range fields {
		if f == nil {
			continue
		}
		idx := start + int64(i)
		b.n++
		b.idx = append(b.idx, idx)
		b.time = append(b.time, ledgerTime(f.Time))
		b.kind = append(b.kind, f.Kind)
		b.org = append(b.org, f.Org)
		b.action = append(b.action, f.Action)
		for _, t := range f.Terms() {
			term(idx, t)
		}
	}
	return b
}

// Find implements ledger.IndexStore. With a kind, action, actor or
// subject in the filter it walks that term's rows (subject, then actor,
// action, kind: the most selective first) in index order on the terms'
// primary key and checks the others; otherwise it walks the index rows.
// Either way it reads only index rows at or after from, never the log.
func (s *LedgerStore) Find(ctx context.Context, log string, f *ledger.Filter, from uint64, limit int) ([]ledger.Found, error) {
	if err := ctx.Err(); err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "postgres ledger: %w", err)
	}
	if f == nil || limit < 1 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "postgres ledger %q: find needs a filter and a limit >= 1", log)
	}
	out := []ledger.Found{}
	if from > math.MaxInt64 {
		return out, nil
	}
	terms := f.Terms()
	var q strings.Builder
	args := []any{log, int64(from)}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(terms) > 0 {
		q.WriteString(`SELECT t0.idx, e.entry FROM {S}.ledger_terms t0
			JOIN {S}.ledger_index i ON i.org = t0.org AND i.idx = t0.idx
			JOIN {S}.ledger_entries e ON e.org = t0.org AND e.idx = t0.idx
			WHERE t0.org = $1 AND t0.idx >= $2 AND t0.term = ` + arg(terms[0]))
		for _, t := range terms[1:] {
			q.WriteString(` AND EXISTS (SELECT 1 FROM {S}.ledger_terms t WHERE t.org = t0.org AND t.term = ` + arg(t) + ` AND t.idx = t0.idx)`)
		}
	} else {
		q.WriteString(`SELECT i.idx, e.entry FROM {S}.ledger_index i
			JOIN {S}.ledger_entries e ON e.org = i.org AND e.idx = i.idx
			WHERE i.org = $1 AND i.idx >= $2`)
	}
	if f.Org != "" {
		q.WriteString(` AND i.pred_org = ` + arg(f.Org))
	}
	if !f.Since.IsZero() {
		q.WriteString(` AND i.time >= ` + arg(ledgerTime(f.Since)))
	}
	if !f.Until.IsZero() {
		q.WriteString(` AND i.time < ` + arg(ledgerTime(f.Until)))
	}
	if len(terms) > 0 {
		q.WriteString(` ORDER BY t0.idx`)
	} else {
		q.WriteString(` ORDER BY i.idx`)
	}
	q.WriteString(` LIMIT ` + arg(int64(limit)))
	err := s.d.readWith(ctx, setupCustomPlan, log, q.String(), args, func(r pgx.Rows) error {
		var idx int64
		var e []byte
		if err := r.Scan(&idx, &e); err != nil {
			return err
		}
		out = append(out, ledger.Found{Index: uint64(idx), Entry: ledgerBytes(e)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
