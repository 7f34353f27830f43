package postgres

import (
	"context"
	"errors"
	"math"

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

var _ ledger.Store = (*LedgerStore)(nil)

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
	if err := ctx.Err(); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "postgres ledger: %w", err)
	}
	if log == "" {
		return errs.Errorf(errs.ErrInvalidArgument, "postgres ledger: empty log name")
	}
	if len(entries) == 0 {
		return errs.Errorf(errs.ErrInvalidArgument, "postgres ledger %q: append of no entries", log)
	}
	start, err := ledgerIndex("size", size)
	if err != nil {
		return err
	}
	newSize, err := ledgerIndex("size", size+uint64(len(entries)))
	if err != nil || newSize < start {
		return errs.Errorf(errs.ErrInvalidArgument, "postgres ledger %q: size %d + %d entries overflows", log, size, len(entries))
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
	if start > end {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "postgres ledger %q: entries [%d, %d): start after end", log, start, end)
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
