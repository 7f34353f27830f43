package neo4j

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/db"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
)

// Options configure a [Store]. The zero value (or nil) uses the server's
// default database and no namespace.
type Options struct {
	// Database is the Neo4j database to use; "" for the server's default
	// (Community Edition has exactly one user database).
	Database string
	// Namespace separates several HUMAN deployments (or test runs) that
	// share one database: nodes of different namespaces never meet.
	Namespace string
}

// Store is a [capability.Store], [capability.BulkStore],
// [capability.ClaimStore] and [capability.EvidenceStore] in Neo4j.
// Each node is a (:HumanNode {key, ns, org, id, kind, name}) whose key
// joins namespace, org and ID unambiguously (a uniqueness constraint on
// key makes concurrent creation safe); each edge is a relationship of type
// HOLDS, MEMBER_OF or DELEGATES with properties level, expires (Unix
// nanoseconds, 0 for never) and issuer. Applied claims and evidence
// pointers are nodes of their own, (:HumanClaim) and (:HumanEvidence),
// outside the graph. It is safe for concurrent use.
type Store struct {
	driver neo4j.DriverWithContext
	db     string
	ns     string
	close  bool
}

var (
	_ capability.Store     = (*Store)(nil)
	_ capability.BulkStore = (*Store)(nil)
)

// Open returns a Store over driver, creating the uniqueness constraints
// and the index it needs if they do not exist (which needs the schema
// privilege once).
// A nil driver is errs.ErrInvalidArgument; an unreachable server
// errs.ErrUnavailable. Closing the Store does not close driver.
func Open(ctx context.Context, driver neo4j.DriverWithContext, opts *Options) (*Store, error) {
	if driver == nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "neo4j: nil driver")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	s := &Store{driver: driver, db: o.Database, ns: o.Namespace}
	if err := ctx.Err(); err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "neo4j: open: %w", err)
	}
	for _, q := range schema {
		if _, err := s.run(ctx, true, q, nil); err != nil {
			return nil, fmt.Errorf("neo4j: creating the schema (%s): %w", strings.Fields(q)[2], err)
		}
	}
	return s, nil
}

// Close releases the driver if the Store opened it (from a URL).
func (s *Store) Close(ctx context.Context) error {
	if !s.close {
		return nil
	}
	return mapError(ctx, "close", s.driver.Close(ctx))
}

// key is the node's unique key: length-prefixed namespace and org, then
// the ID, so no two (namespace, org, id) triples share one.
func (s *Store) key(org, id string) string {
	return fmt.Sprintf("%d:%s%d:%s%s", len(s.ns), s.ns, len(org), org, id)
}

func (s *Store) keys(org string, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = s.key(org, id)
	}
	return out
}

// relType is the relationship type of an edge kind; the type cannot be a
// Cypher parameter, so only these fixed strings are ever spliced in.
func relType(k capability.EdgeKind) (string, error) {
	switch k {
	case capability.Holds:
		return "HOLDS", nil
	case capability.MemberOf:
		return "MEMBER_OF", nil
	case capability.Delegates:
		return "DELEGATES", nil
	case capability.HasRole:
		return "HAS_ROLE", nil
	case capability.Grants:
		return "GRANTS", nil
	}
	return "", errs.Errorf(errs.ErrInvalidArgument, "neo4j: unknown edge kind %q", k)
}

// run executes one auto-retried transaction (the driver retries transient
// errors such as deadlocks) and returns its records.
func (s *Store) run(ctx context.Context, write bool, query string, params map[string]any) ([]*neo4j.Record, error) {
	opts := []neo4j.ExecuteQueryConfigurationOption{neo4j.ExecuteQueryWithDatabase(s.db)}
	if write {
		opts = append(opts, neo4j.ExecuteQueryWithWritersRouting())
	} else {
		opts = append(opts, neo4j.ExecuteQueryWithReadersRouting())
	}
	res, err := neo4j.ExecuteQuery(ctx, s.driver, query, params, neo4j.EagerResultTransformer, opts...)
	if err != nil {
		return nil, mapError(ctx, "query", err)
	}
	return res.Records, nil
}

func begin(ctx context.Context, what, org string) error {
	if err := ctx.Err(); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "neo4j: %s: %w", what, err)
	}
	if org == "" {
		return errs.Errorf(errs.ErrInvalidArgument, "neo4j: %s: empty org", what)
	}
	return nil
}

// PutNode implements [capability.Store].
func (s *Store) PutNode(ctx context.Context, org string, n capability.Node) error {
	if err := begin(ctx, "put node", org); err != nil {
		return err
	}
	recs, err := s.run(ctx, true, `
MERGE (n:HumanNode {key: $key})
  ON CREATE SET n.ns = $ns, n.org = $org, n.id = $id, n.kind = $kind, n.name = $name
WITH n, n.kind = $kind AS same
FOREACH (_ IN CASE WHEN same THEN [1] ELSE [] END | SET n.name = $name)
RETURN same`, map[string]any{"key": s.key(org, n.ID), "ns": s.ns, "org": org, "id": n.ID, "kind": string(n.Kind), "name": n.Name})
	if err != nil {
		return err
	}
	if len(recs) != 1 {
		return errs.Errorf(errs.ErrUnavailable, "neo4j: put node: %d records", len(recs))
	}
	if same, _ := recs[0].Values[0].(bool); !same {
		return errs.Errorf(errs.ErrConflict, "neo4j: node %q of %q exists with another kind", n.ID, org)
	}
	return nil
}

// Node implements [capability.Store].
func (s *Store) Node(ctx context.Context, org, id string) (capability.Node, error) {
	if err := begin(ctx, "node", org); err != nil {
		return capability.Node{}, err
	}
	ns, err := s.nodes(ctx, org, []string{id})
	if err != nil {
		return capability.Node{}, err
	}
	if len(ns) == 0 {
		return capability.Node{}, errs.Errorf(errs.ErrNotFound, "neo4j: no node %q in %q", id, org)
	}
	return ns[0], nil
}

// Nodes implements [capability.BulkStore].
func (s *Store) Nodes(ctx context.Context, org string, ids []string) ([]capability.Node, error) {
	if err := begin(ctx, "nodes", org); err != nil {
		return nil, err
	}
	return s.nodes(ctx, org, ids)
}

func (s *Store) nodes(ctx context.Context, org string, ids []string) ([]capability.Node, error) {
	recs, err := s.run(ctx, false, `
MATCH (n:HumanNode) WHERE n.key IN $keys
RETURN n.id, n.kind, n.name`, map[string]any{"keys": s.keys(org, ids)})
	if err != nil {
		return nil, err
	}
	out := make([]capability.Node, 0, len(recs))
	for _, r := range recs {
		id, _ := r.Values[0].(string)
		kind, _ := r.Values[1].(string)
		name, _ := r.Values[2].(string)
		out = append(out, capability.Node{ID: id, Kind: capability.NodeKind(kind), Name: name})
	}
	return out, nil
}

// PutEdge implements [capability.Store]; MERGE locks both end nodes, so
// concurrent writers of one edge never create two.
func (s *Store) PutEdge(ctx context.Context, org string, e capability.Edge) error {
	if err := begin(ctx, "put edge", org); err != nil {
		return err
	}
	rt, err := relType(e.Kind)
	if err != nil {
		return err
	}
	var exp int64
	if !e.Expires.IsZero() {
		exp = e.Expires.UnixNano()
	}
	recs, err := s.run(ctx, true, `
OPTIONAL MATCH (a:HumanNode {key: $from})
OPTIONAL MATCH (b:HumanNode {key: $to})
WITH a, b WHERE a IS NOT NULL AND b IS NOT NULL
MERGE (a)-[r:`+rt+`]->(b)
SET r.level = $level, r.expires = $expires, r.issuer = $issuer
RETURN count(r)`, map[string]any{"from": s.key(org, e.From), "to": s.key(org, e.To), "level": int64(e.Level), "expires": exp, "issuer": e.Issuer})
	if err != nil {
		return err
	}
	if len(recs) != 1 || recs[0].Values[0] != int64(1) {
		return errs.Errorf(errs.ErrNotFound, "neo4j: edge %s -%s-> %s: an end is not a node of %q", e.From, e.Kind, e.To, org)
	}
	return nil
}

// DeleteEdge implements [capability.Store].
func (s *Store) DeleteEdge(ctx context.Context, org, from string, kind capability.EdgeKind, to string) error {
	if err := begin(ctx, "delete edge", org); err != nil {
		return err
	}
	rt, err := relType(kind)
	if err != nil {
		return err
	}
	recs, err := s.run(ctx, true, `
MATCH (:HumanNode {key: $from})-[r:`+rt+`]->(:HumanNode {key: $to})
DELETE r
RETURN count(*)`, map[string]any{"from": s.key(org, from), "to": s.key(org, to)})
	if err != nil {
		return err
	}
	if len(recs) != 1 || recs[0].Values[0] == int64(0) {
		return errs.Errorf(errs.ErrNotFound, "neo4j: no edge %s -%s-> %s in %q", from, kind, to, org)
	}
	return nil
}

// Out implements [capability.Store].
func (s *Store) Out(ctx context.Context, org, from string, kind capability.EdgeKind) ([]capability.Edge, error) {
	if err := begin(ctx, "out", org); err != nil {
		return nil, err
	}
	rt, err := relType(kind)
	if err != nil {
		return nil, err
	}
	es, err := s.edges(ctx, kind, `
MATCH (a:HumanNode {key: $key})-[r:`+rt+`]->(b:HumanNode)
RETURN a.id, b.id, r.level, r.expires, r.issuer`, map[string]any{"key": s.key(org, from)})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(es, func(x, y capability.Edge) int { return strings.Compare(x.To, y.To) })
	return es, nil
}

// In implements [capability.Store].
func (s *Store) In(ctx context.Context, org, to string, kind capability.EdgeKind) ([]capability.Edge, error) {
	return s.InMany(ctx, org, []string{to}, kind)
}

// InMany implements [capability.BulkStore]: one query for the whole
// frontier of a traversal level.
func (s *Store) InMany(ctx context.Context, org string, to []string, kind capability.EdgeKind) ([]capability.Edge, error) {
	if err := begin(ctx, "in", org); err != nil {
		return nil, err
	}
	rt, err := relType(kind)
	if err != nil {
		return nil, err
	}
	es, err := s.edges(ctx, kind, `
MATCH (a:HumanNode)-[r:`+rt+`]->(b:HumanNode) WHERE b.key IN $keys
RETURN a.id, b.id, r.level, r.expires, r.issuer`, map[string]any{"keys": s.keys(org, to)})
	if err != nil {
		return nil, err
	}
	// Sorted here, not in Cypher: Go's byte order is the contract's, and
	// Neo4j orders strings by UTF-16 code units.
	slices.SortFunc(es, func(x, y capability.Edge) int {
		if c := strings.Compare(x.To, y.To); c != 0 {
			return c
		}
		return strings.Compare(x.From, y.From)
	})
	return es, nil
}

func (s *Store) edges(ctx context.Context, kind capability.EdgeKind, query string, params map[string]any) ([]capability.Edge, error) {
	recs, err := s.run(ctx, false, query, params)
	if err != nil {
		return nil, err
	}
	out := make([]capability.Edge, 0, len(recs))
	for _, r := range recs {
		e := capability.Edge{Kind: kind}
		e.From, _ = r.Values[0].(string)
		e.To, _ = r.Values[1].(string)
		lv, _ := r.Values[2].(int64)
		e.Level = int(lv)
		if exp, _ := r.Values[3].(int64); exp != 0 {
			e.Expires = time.Unix(0, exp).UTC()
		}
		e.Issuer, _ = r.Values[4].(string)
		out = append(out, e)
	}
	return out, nil
}

// mapError is the one place Neo4j errors become the shared vocabulary: a
// constraint violation is errs.ErrConflict; Security.Unauthorized and
// authentication failures errs.ErrUnauthenticated; Security.Forbidden
// errs.ErrPermissionDenied; other client errors (syntax, a missing
// database) errs.ErrInvalidArgument; transient, connectivity and database
// errors errs.ErrUnavailable. A cancelled ctx is errs.ErrUnavailable
// wrapping ctx.Err().
func mapError(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	if ce := ctx.Err(); ce != nil {
		return errs.Errorf(errs.ErrUnavailable, "neo4j: %s: %w", what, ce)
	}
	var ne *db.Neo4jError
	if errors.As(err, &ne) {
		switch {
		case ne.Code == "Neo.ClientError.Schema.ConstraintValidationFailed":
			return errs.Errorf(errs.ErrConflict, "neo4j: %s: %v", what, err)
		case strings.HasPrefix(ne.Code, "Neo.ClientError.Security.Unauthorized"),
			strings.HasPrefix(ne.Code, "Neo.ClientError.Security.AuthenticationRateLimit"),
			strings.HasPrefix(ne.Code, "Neo.ClientError.Security.TokenExpired"):
			return errs.Errorf(errs.ErrUnauthenticated, "neo4j: %s: %v", what, err)
		case strings.HasPrefix(ne.Code, "Neo.ClientError.Security."):
			return errs.Errorf(errs.ErrPermissionDenied, "neo4j: %s: %v", what, err)
		case strings.HasPrefix(ne.Code, "Neo.ClientError.Transaction.") || strings.HasPrefix(ne.Code, "Neo.ClientError.Cluster."):
			return errs.Errorf(errs.ErrUnavailable, "neo4j: %s: %v", what, err)
		case strings.HasPrefix(ne.Code, "Neo.ClientError."):
			return errs.Errorf(errs.ErrInvalidArgument, "neo4j: %s: %v", what, err)
		}
	}
	var ue *neo4j.UsageError
	if errors.As(err, &ue) {
		return errs.Errorf(errs.ErrInvalidArgument, "neo4j: %s: %v", what, err)
	}
	return errs.Errorf(errs.ErrUnavailable, "neo4j: %s: %v", what, err)
}
