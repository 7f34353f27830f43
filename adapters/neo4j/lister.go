package neo4j

import (
	"context"
	"time"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
)

var _ capability.Lister = (*Store)(nil)

// ListNodes implements [capability.Lister]. Keyset pages are compared and
// ordered by Neo4j, which orders strings by UTF-16 code units: the same as
// byte order for every ID outside U+E000..U+FFFF paired with supplementary
// characters (all DIDs and names the SDK makes), and always consistent
// from page to page.
func (s *Store) ListNodes(ctx context.Context, org, after string, limit int) ([]capability.Node, error) {
	if err := begin(ctx, "list nodes", org); err != nil {
		return nil, err
	}
	if limit < 1 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "neo4j: list nodes: limit %d", limit)
	}
	recs, err := s.run(ctx, false, `
MATCH (n:HumanNode) WHERE n.ns = $ns AND n.org = $org AND n.id > $after
RETURN n.id, n.kind, n.name ORDER BY n.id LIMIT $limit`,
		map[string]any{"ns": s.ns, "org": org, "after": after, "limit": int64(limit)})
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

// ListEdges implements [capability.Lister], ordered by (From, Kind, To)
// with the same string order as ListNodes.
func (s *Store) ListEdges(ctx context.Context, org string, after capability.Edge, limit int) ([]capability.Edge, error) {
	if err := begin(ctx, "list edges", org); err != nil {
		return nil, err
	}
	if limit < 1 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "neo4j: list edges: limit %d", limit)
	}
	recs, err := s.run(ctx, false, `
MATCH (a:HumanNode)-[r]->(b:HumanNode) WHERE a.ns = $ns AND a.org = $org
WITH a, r, b, CASE type(r) WHEN 'HOLDS' THEN 'holds' WHEN 'MEMBER_OF' THEN 'member_of' WHEN 'DELEGATES' THEN 'delegates'
  WHEN 'HAS_ROLE' THEN 'has_role' WHEN 'GRANTS' THEN 'grants' END AS kind
WHERE kind IS NOT NULL AND (a.id > $from OR (a.id = $from AND (kind > $kind OR (kind = $kind AND b.id > $to))))
RETURN a.id, b.id, r.level, r.expires, r.issuer, kind ORDER BY a.id, kind, b.id LIMIT $limit`,
		map[string]any{"ns": s.ns, "org": org, "from": after.From, "kind": string(after.Kind), "to": after.To, "limit": int64(limit)})
	if err != nil {
		return nil, err
	}
	out := make([]capability.Edge, 0, len(recs))
	for _, r := range recs {
		kind, _ := r.Values[5].(string)
		e := capability.Edge{Kind: capability.EdgeKind(kind)}
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
