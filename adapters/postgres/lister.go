package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

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
	return errs.CheckList(ctx, "postgres", org, limit)
}

func (s *PassportStore) listIDs(ctx context.Context, query, org, after string, limit int) ([]string, error) {
	if err := listCheck(ctx, org, limit); err != nil {
		return nil, err
	}
	var out []string
	err := s.d.read(ctx, org, query, []any{org, after, limit}, func(r pgx.Rows) error {
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
	return s.listIDs(ctx, `SELECT did FROM {S}.passport_events WHERE org = $1 AND did > $2 AND seq = 0 ORDER BY did LIMIT $3`, org, after, limit)
}

// ListDelegations implements passport.Lister.
func (s *PassportStore) ListDelegations(ctx context.Context, org, after string, limit int) ([]string, error) {
	return s.listIDs(ctx, `SELECT id FROM {S}.passport_delegations WHERE org = $1 AND id > $2 ORDER BY id LIMIT $3`, org, after, limit)
}

// ListRevocations implements passport.Lister.
func (s *PassportStore) ListRevocations(ctx context.Context, org, after string, limit int) ([]string, error) {
	return s.listIDs(ctx, `SELECT id FROM {S}.passport_revocations WHERE org = $1 AND id > $2 ORDER BY id LIMIT $3`, org, after, limit)
}

// ListNodes implements capability.Lister.
func (s *GraphStore) ListNodes(ctx context.Context, org, after string, limit int) ([]capability.Node, error) {
	if err := listCheck(ctx, org, limit); err != nil {
		return nil, err
	}
	var out []capability.Node
	err := s.d.read(ctx, org, `SELECT id, kind, name FROM {S}.capability_nodes WHERE org = $1 AND id > $2 ORDER BY id LIMIT $3`,
		[]any{org, after, limit}, func(r pgx.Rows) error {
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
	err := s.d.read(ctx, org, `SELECT from_id, kind, to_id, level, expires, issuer FROM {S}.capability_edges
		WHERE org = $1 AND (from_id, kind, to_id) > ($2, $3, $4) ORDER BY from_id, kind, to_id LIMIT $5`,
		[]any{org, after.From, string(after.Kind), after.To, limit}, func(r pgx.Rows) error {
			var e capability.Edge
			var kind, expires string
			if err := r.Scan(&e.From, &kind, &e.To, &e.Level, &expires, &e.Issuer); err != nil {
				return err
			}
			e.Kind = capability.EdgeKind(kind)
			if expires != "" {
				t, err := time.Parse(time.RFC3339Nano, expires)
				if err != nil {
					return errs.Errorf(errs.ErrUnavailable, "postgres graph store: edge %s -> %s: bad expiry %q: %v", e.From, e.To, expires, err)
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
	err := s.d.read(ctx, org, `SELECT key, window_start, window_end, total FROM {S}.budget_counters
		WHERE org = $1 AND total > 0 ORDER BY key COLLATE "C", window_start`, []any{org}, func(r pgx.Rows) error {
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
