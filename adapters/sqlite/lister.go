package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
)

// The listing interfaces export needs (package bundle).
var (
	_ passport.Lister     = (*PassportStore)(nil)
	_ capability.Lister   = (*GraphStore)(nil)
	_ policy.BudgetLister = (*BudgetStore)(nil)
)

// listCheck checks a listing's arguments (errs.CheckList).
func listCheck(ctx context.Context, org string, limit int) error {
	return errs.CheckList(ctx, "sqlite", org, limit)
}

// listRows runs query and calls scan for each row.
func listRows(ctx context.Context, db *sql.DB, query string, args []any, scan func(*sql.Rows) error) error {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return mapErr(ctx, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return mapErr(ctx, err)
		}
	}
	return mapErr(ctx, rows.Err())
}

func (s *PassportStore) listIDs(ctx context.Context, query, org, after string, limit int) ([]string, error) {
	if err := listCheck(ctx, org, limit); err != nil {
		return nil, err
	}
	var out []string
	err := listRows(ctx, s.d.db, query, []any{org, after, limit}, func(r *sql.Rows) error {
		var id string
		if err := r.Scan(&id); err != nil {
			return err
		}
		out = append(out, id)
		return nil
	})
	return out, err
}

// ListPassports implements passport.Lister.
func (s *PassportStore) ListPassports(ctx context.Context, org, after string, limit int) ([]string, error) {
	return s.listIDs(ctx, `SELECT did FROM passport_events WHERE org = ? AND did > ? AND seq = 0 ORDER BY did LIMIT ?`, org, after, limit)
}

// ListDelegations implements passport.Lister.
func (s *PassportStore) ListDelegations(ctx context.Context, org, after string, limit int) ([]string, error) {
	return s.listIDs(ctx, `SELECT id FROM passport_delegations WHERE org = ? AND id > ? ORDER BY id LIMIT ?`, org, after, limit)
}

// ListRevocations implements passport.Lister.
func (s *PassportStore) ListRevocations(ctx context.Context, org, after string, limit int) ([]string, error) {
	return s.listIDs(ctx, `SELECT id FROM passport_revocations WHERE org = ? AND id > ? ORDER BY id LIMIT ?`, org, after, limit)
}

// ListNodes implements capability.Lister.
func (s *GraphStore) ListNodes(ctx context.Context, org, after string, limit int) ([]capability.Node, error) {
	if err := listCheck(ctx, org, limit); err != nil {
		return nil, err
	}
	var out []capability.Node
	err := listRows(ctx, s.d.db, `SELECT id, kind, name FROM capability_nodes WHERE org = ? AND id > ? ORDER BY id LIMIT ?`,
		[]any{org, after, limit}, func(r *sql.Rows) error {
			var n capability.Node
			if err := r.Scan(&n.ID, &n.Kind, &n.Name); err != nil {
				return err
			}
			out = append(out, n)
			return nil
		})
	return out, err
}

// ListEdges implements capability.Lister.
func (s *GraphStore) ListEdges(ctx context.Context, org string, after capability.Edge, limit int) ([]capability.Edge, error) {
	if err := listCheck(ctx, org, limit); err != nil {
		return nil, err
	}
	var out []capability.Edge
	err := listRows(ctx, s.d.db, `SELECT from_id, kind, to_id, level, expires, issuer FROM capability_edges
		WHERE org = ? AND (from_id, kind, to_id) > (?, ?, ?) ORDER BY from_id, kind, to_id LIMIT ?`,
		[]any{org, after.From, string(after.Kind), after.To, limit}, func(r *sql.Rows) error {
			var e capability.Edge
			var expires string
			if err := r.Scan(&e.From, &e.Kind, &e.To, &e.Level, &expires, &e.Issuer); err != nil {
				return err
			}
			if expires != "" {
				t, err := time.Parse(time.RFC3339Nano, expires)
				if err != nil {
					return errs.Errorf(errs.ErrUnavailable, "sqlite graph store: edge %s -> %s: bad expiry %q: %v", e.From, e.To, expires, err)
				}
				e.Expires = t
			}
			out = append(out, e)
			return nil
		})
	return out, err
}

// Counters implements policy.BudgetLister.
func (s *BudgetStore) Counters(ctx context.Context, org string) ([]policy.Counter, error) {
	if err := listCheck(ctx, org, 1); err != nil {
		return nil, err
	}
	var out []policy.Counter
	err := listRows(ctx, s.db.db, `SELECT key, window_start, window_end, total FROM budget_counters
		WHERE org = ? AND total > 0 ORDER BY key, window_start`, []any{org}, func(r *sql.Rows) error {
		var c policy.Counter
		var start, end int64
		if err := r.Scan(&c.Key, &start, &end, &c.Total); err != nil {
			return err
		}
		c.Start, c.End = time.Unix(0, start).UTC(), time.Unix(0, end).UTC()
		out = append(out, c)
		return nil
	})
	return out, err
}
