package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
)

// GraphStore is the PostgreSQL capability.Store: one row per node and per
// edge, indexed both ways.
type GraphStore struct{ d *DB }

var (
	_ capability.Store           = (*GraphStore)(nil)
	_ capability.GenerationStore = (*GraphStore)(nil)
)

// NewGraphStore returns the graph store over d.
func NewGraphStore(d *DB) *GraphStore { return &GraphStore{d: d} }

// PutNode implements capability.Store.
func (s *GraphStore) PutNode(ctx context.Context, org string, n capability.Node) error {
	return s.d.tx(ctx, org, func(tx txn) error {
		var kind string
		err := tx.QueryRow(ctx, `INSERT INTO {S}.capability_nodes (org, id, kind, name) VALUES ($1, $2, $3, $4)
			ON CONFLICT (org, id) DO UPDATE SET name = CASE WHEN capability_nodes.kind = excluded.kind
				THEN excluded.name ELSE capability_nodes.name END
			RETURNING kind`, org, n.ID, string(n.Kind), n.Name).Scan(&kind)
		if err != nil {
			return err
		}
		if kind != string(n.Kind) {
			return errs.Errorf(errs.ErrConflict, "node %q exists as a %s, not a %s", n.ID, kind, n.Kind)
		}
		return nil
	})
}

// Node implements capability.Store.
func (s *GraphStore) Node(ctx context.Context, org, id string) (capability.Node, error) {
	n := capability.Node{ID: id}
	found := false
	err := s.d.read(ctx, org, `SELECT kind, name FROM {S}.capability_nodes WHERE org = $1 AND id = $2`, []any{org, id},
		func(r pgx.Rows) error {
			found = true
			return r.Scan(&n.Kind, &n.Name)
		})
	if err != nil {
		return capability.Node{}, err
	}
	if !found {
		return capability.Node{}, errs.Errorf(errs.ErrNotFound, "node %q in org %q", id, org)
	}
	return n, nil
}

// PutEdge implements capability.Store.
func (s *GraphStore) PutEdge(ctx context.Context, org string, e capability.Edge) error {
	expires, expiresAt := "", (*time.Time)(nil)
	if !e.Expires.IsZero() {
		expires = e.Expires.UTC().Format(time.RFC3339Nano)
		// Truncated, never rounded up: SQL filters then treat an edge as
		// expired up to a microsecond early, never late.
		t := e.Expires.Truncate(time.Microsecond)
		expiresAt = &t
	}
	err := s.d.tx(ctx, org, func(tx txn) error {
		_, err := tx.Exec(ctx, `INSERT INTO {S}.capability_edges (org, from_id, kind, to_id, level, expires, expires_at, issuer)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (org, from_id, kind, to_id) DO UPDATE
			SET level = excluded.level, expires = excluded.expires, expires_at = excluded.expires_at, issuer = excluded.issuer`,
			org, e.From, string(e.Kind), e.To, e.Level, expires, expiresAt, e.Issuer)
		return err
	})
	if errors.Is(err, errs.ErrNotFound) { // the foreign key to capability_nodes
		return errs.Errorf(errs.ErrNotFound, "edge %s -%s-> %s: an end is not a node of org %q", e.From, e.Kind, e.To, org)
	}
	return err
}

// DeleteEdge implements capability.Store.
func (s *GraphStore) DeleteEdge(ctx context.Context, org string, from string, kind capability.EdgeKind, to string) error {
	return s.d.tx(ctx, org, func(tx txn) error {
		tag, err := tx.Exec(ctx, `DELETE FROM {S}.capability_edges WHERE org = $1 AND from_id = $2 AND kind = $3 AND to_id = $4`,
			org, from, string(kind), to)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return errs.Errorf(errs.ErrNotFound, "edge %s -%s-> %s in org %q", from, kind, to, org)
		}
		return nil
	})
}

// Out implements capability.Store.
func (s *GraphStore) Out(ctx context.Context, org, from string, kind capability.EdgeKind) ([]capability.Edge, error) {
	return s.edges(ctx, org, `SELECT from_id, to_id, level, expires, issuer FROM {S}.capability_edges
		WHERE org = $1 AND from_id = $2 AND kind = $3 ORDER BY to_id`, from, kind)
}

// In implements capability.Store.
func (s *GraphStore) In(ctx context.Context, org, to string, kind capability.EdgeKind) ([]capability.Edge, error) {
	return s.edges(ctx, org, `SELECT from_id, to_id, level, expires, issuer FROM {S}.capability_edges
		WHERE org = $1 AND to_id = $2 AND kind = $3 ORDER BY from_id`, to, kind)
}

func (s *GraphStore) edges(ctx context.Context, org, query string, node any, kind capability.EdgeKind) ([]capability.Edge, error) {
	var out []capability.Edge
	err := s.d.read(ctx, org, query, []any{org, node, string(kind)}, func(r pgx.Rows) error {
		e := capability.Edge{Kind: kind}
		var expires string
		if err := r.Scan(&e.From, &e.To, &e.Level, &expires, &e.Issuer); err != nil {
			return err
		}
		if expires != "" {
			var err error
			if e.Expires, err = time.Parse(time.RFC3339Nano, expires); err != nil {
				return errs.Errorf(errs.ErrUnavailable, "postgres graph store: edge %s -> %s: bad expiry %q: %v", e.From, e.To, expires, err)
			}
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// Holder is a subject found by [GraphStore.Holders], with the length of a
// shortest path to the capability (1 for a direct holds edge).
type Holder struct {
	Subject string
	Kind    capability.NodeKind
	Depth   int
}

// Holders returns every human of org that holds capability at time at,
// directly or through member_of chains (at most maxDepth edges; 0 means
// 16), ignoring expired edges, sorted by Subject: the "who can approve"
// question in one recursive query. capability.Graph.Holders answers the
// same over any Store with one In per visited node; this is the
// PostgreSQL-native form of it, for large graphs.
func (s *GraphStore) Holders(ctx context.Context, org, capabilityID string, at time.Time, maxDepth int) ([]Holder, error) {
	if maxDepth <= 0 {
		maxDepth = 16
	}
	var out []Holder
	err := s.d.readWith(ctx, setupCustomPlan, org, `WITH RECURSIVE reach(node, depth) AS (
			SELECT e.from_id, 1 FROM {S}.capability_edges e
			WHERE e.org = $1 AND e.to_id = $2 AND e.kind = 'holds' AND (e.expires_at IS NULL OR e.expires_at > $3)
			UNION
			SELECT e.from_id, r.depth + 1 FROM reach r
			JOIN {S}.capability_edges e ON e.org = $1 AND e.to_id = r.node AND e.kind = 'member_of'
			WHERE r.depth < $4 AND (e.expires_at IS NULL OR e.expires_at > $3)
		)
		SELECT r.node, n.kind, r.depth FROM (SELECT node, min(depth) AS depth FROM reach GROUP BY node) r
		-- LATERAL: one primary-key probe per reached node, whatever the
		-- planner guesses about the size of reach.
		JOIN LATERAL (SELECT kind FROM {S}.capability_nodes WHERE org = $1 AND id = r.node) n ON true
		WHERE n.kind = 'human'
		ORDER BY r.node`,
		[]any{org, capabilityID, at, maxDepth}, func(r pgx.Rows) error {
			var h Holder
			if err := r.Scan(&h.Subject, &h.Kind, &h.Depth); err != nil {
				return err
			}
			out = append(out, h)
			return nil
		})
	return out, err
}

var _ capability.BulkStore = (*GraphStore)(nil)

// InMany implements capability.BulkStore: one query for the entering
// edges of many nodes, through the (org, to_id, kind, from_id) index.
func (s *GraphStore) InMany(ctx context.Context, org string, to []string, kind capability.EdgeKind) ([]capability.Edge, error) {
	if to == nil {
		to = []string{}
	}
	return s.edges(ctx, org, `SELECT from_id, to_id, level, expires, issuer FROM {S}.capability_edges
		WHERE org = $1 AND to_id = ANY($2) AND kind = $3 ORDER BY to_id, from_id`, to, kind)
}

// Nodes implements capability.BulkStore.
func (s *GraphStore) Nodes(ctx context.Context, org string, ids []string) ([]capability.Node, error) {
	if ids == nil {
		ids = []string{}
	}
	var out []capability.Node
	err := s.d.read(ctx, org, `SELECT id, kind, name FROM {S}.capability_nodes WHERE org = $1 AND id = ANY($2)`,
		[]any{org, ids}, func(r pgx.Rows) error {
			var n capability.Node
			if err := r.Scan(&n.ID, &n.Kind, &n.Name); err != nil {
				return err
			}
			out = append(out, n)
			return nil
		})
	return out, err
}

// Generation implements capability.GenerationStore: the counter that the
// schema version 2 triggers bump in every writing transaction.
func (s *GraphStore) Generation(ctx context.Context, org string) (uint64, error) {
	var gen int64
	err := s.d.read(ctx, org, `SELECT gen FROM {S}.capability_generations WHERE org = $1`, []any{org}, func(r pgx.Rows) error {
		return r.Scan(&gen)
	})
	return uint64(gen), err
}
