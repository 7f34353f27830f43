package memory

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
)

// GraphStore is an in-memory capability.Store, safe for concurrent use.
type GraphStore struct {
	mu    sync.RWMutex
	orgs  map[string]*graphOrg
	extra graphExtra // signed-claim record and evidence (capability_claims below)
}

var (
	_ capability.Store           = (*GraphStore)(nil)
	_ capability.GenerationStore = (*GraphStore)(nil)
)

// graphOrg is one org's namespace; out and in index edges by their ends.
type graphOrg struct {
	nodes map[string]capability.Node
	out   map[graphKey]map[string]capability.Edge // (from, kind) -> to -> edge
	in    map[graphKey]map[string]capability.Edge // (to, kind) -> from -> edge
	gen   uint64                                  // bumped by every write
}

type graphKey struct {
	node string
	kind capability.EdgeKind
}

// NewGraphStore returns an empty graph store.
func NewGraphStore() *GraphStore {
	return &GraphStore{orgs: map[string]*graphOrg{}}
}

func graphCtxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "memory graph store: %w", err)
	}
	return nil
}

// org returns the namespace, creating it when create is set; mu must be held.
func (s *GraphStore) org(org string, create bool) *graphOrg {
	o := s.orgs[org]
	if o == nil && create {
		o = &graphOrg{
			nodes: map[string]capability.Node{},
			out:   map[graphKey]map[string]capability.Edge{},
			in:    map[graphKey]map[string]capability.Edge{},
		}
		s.orgs[org] = o
	}
	return o
}

// PutNode implements capability.Store.
func (s *GraphStore) PutNode(ctx context.Context, org string, n capability.Node) error {
	if err := graphCtxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.org(org, true)
	if old, ok := o.nodes[n.ID]; ok && old.Kind != n.Kind {
		return errs.Errorf(errs.ErrConflict, "node %q exists as a %s, not a %s", n.ID, old.Kind, n.Kind)
	}
	o.nodes[n.ID] = n
	o.gen++
	return nil
}

// Node implements capability.Store.
func (s *GraphStore) Node(ctx context.Context, org, id string) (capability.Node, error) {
	if err := graphCtxErr(ctx); err != nil {
		return capability.Node{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if o := s.org(org, false); o != nil {
		if n, ok := o.nodes[id]; ok {
			return n, nil
		}
	}
	return capability.Node{}, errs.Errorf(errs.ErrNotFound, "node %q in org %q", id, org)
}

// PutEdge implements capability.Store.
func (s *GraphStore) PutEdge(ctx context.Context, org string, e capability.Edge) error {
	if err := graphCtxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.org(org, false)
	for _, id := range []string{e.From, e.To} {
		if o == nil {
			return errs.Errorf(errs.ErrNotFound, "edge end %q: no such node in org %q", id, org)
		}
		if _, ok := o.nodes[id]; !ok {
			return errs.Errorf(errs.ErrNotFound, "edge end %q: no such node in org %q", id, org)
		}
	}
	graphIndex(o.out, graphKey{e.From, e.Kind}, e.To, e)
	graphIndex(o.in, graphKey{e.To, e.Kind}, e.From, e)
	o.gen++
	return nil
}

func graphIndex(m map[graphKey]map[string]capability.Edge, k graphKey, other string, e capability.Edge) {
	if m[k] == nil {
		m[k] = map[string]capability.Edge{}
	}
	m[k][other] = e
}

// DeleteEdge implements capability.Store.
func (s *GraphStore) DeleteEdge(ctx context.Context, org string, from string, kind capability.EdgeKind, to string) error {
	if err := graphCtxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.org(org, false)
	if o == nil {
		return errs.Errorf(errs.ErrNotFound, "edge %s -%s-> %s in org %q", from, kind, to, org)
	}
	if _, ok := o.out[graphKey{from, kind}][to]; !ok {
		return errs.Errorf(errs.ErrNotFound, "edge %s -%s-> %s in org %q", from, kind, to, org)
	}
	delete(o.out[graphKey{from, kind}], to)
	delete(o.in[graphKey{to, kind}], from)
	o.gen++
	return nil
}

// Out implements capability.Store.
func (s *GraphStore) Out(ctx context.Context, org, from string, kind capability.EdgeKind) ([]capability.Edge, error) {
	return s.edges(ctx, org, from, kind, true)
}

// In implements capability.Store.
func (s *GraphStore) In(ctx context.Context, org, to string, kind capability.EdgeKind) ([]capability.Edge, error) {
	return s.edges(ctx, org, to, kind, false)
}

func (s *GraphStore) edges(ctx context.Context, org, node string, kind capability.EdgeKind, out bool) ([]capability.Edge, error) {
	if err := graphCtxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	o := s.org(org, false)
	if o == nil {
		return nil, nil
	}
	idx := o.in
	if out {
		idx = o.out
	}
	m := idx[graphKey{node, kind}]
	res := make([]capability.Edge, 0, len(m))
	for _, e := range m {
		res = append(res, e)
	}
	slices.SortFunc(res, func(a, b capability.Edge) int {
		if out {
			return cmp.Compare(a.To, b.To)
		}
		return cmp.Compare(a.From, b.From)
	})
	return res, nil
}

var _ capability.BulkStore = (*GraphStore)(nil)

// InMany implements capability.BulkStore.
func (s *GraphStore) InMany(ctx context.Context, org string, to []string, kind capability.EdgeKind) ([]capability.Edge, error) {
	if err := graphCtxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	o := s.org(org, false)
	var res []capability.Edge
	if o != nil {
		for _, n := range to {
			for _, e := range o.in[graphKey{n, kind}] {
				res = append(res, e)
			}
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(res, func(a, b capability.Edge) int { return cmp.Or(cmp.Compare(a.To, b.To), cmp.Compare(a.From, b.From)) })
	return res, nil
}

// Nodes implements capability.BulkStore.
func (s *GraphStore) Nodes(ctx context.Context, org string, ids []string) ([]capability.Node, error) {
	if err := graphCtxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	o := s.org(org, false)
	if o == nil {
		return nil, nil
	}
	out := make([]capability.Node, 0, len(ids))
	for _, id := range ids {
		if n, ok := o.nodes[id]; ok {
			out = append(out, n)
		}
	}
	return out, nil
}

// Generation implements capability.GenerationStore.
func (s *GraphStore) Generation(ctx context.Context, org string) (uint64, error) {
	if err := graphCtxErr(ctx); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if o := s.org(org, false); o != nil {
		return o.gen, nil
	}
	return 0, nil
}

var (
	_ capability.ClaimStore    = (*GraphStore)(nil)
	_ capability.EvidenceStore = (*GraphStore)(nil)
)

// graphExtra holds the claim record and evidence of all orgs; it lives
// beside the graph, guarded by the same lock.
type graphExtra struct {
	claims   map[[2]string]string                         // (org, id) -> digest
	evidence map[[3]string]map[string]capability.Evidence // (org, subject, capability) -> ref -> evidence
}

// RecordClaim implements capability.ClaimStore.
func (s *GraphStore) RecordClaim(ctx context.Context, org, id, digest string) error {
	if err := graphCtxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.extra.claims == nil {
		s.extra.claims = map[[2]string]string{}
	}
	k := [2]string{org, id}
	if _, ok := s.extra.claims[k]; ok {
		return errs.Errorf(errs.ErrConflict, "claim %q of org %q is already recorded", id, org)
	}
	s.extra.claims[k] = digest
	return nil
}

// AddEvidence implements capability.EvidenceStore.
func (s *GraphStore) AddEvidence(ctx context.Context, org, subject, capabilityID string, ev capability.Evidence) error {
	if err := graphCtxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.extra.evidence == nil {
		s.extra.evidence = map[[3]string]map[string]capability.Evidence{}
	}
	k := [3]string{org, subject, capabilityID}
	if s.extra.evidence[k] == nil {
		s.extra.evidence[k] = map[string]capability.Evidence{}
	}
	if _, ok := s.extra.evidence[k][ev.Ref]; !ok {
		s.extra.evidence[k][ev.Ref] = ev
	}
	return nil
}

// Evidence implements capability.EvidenceStore.
func (s *GraphStore) Evidence(ctx context.Context, org, subject, capabilityID string) ([]capability.Evidence, error) {
	if err := graphCtxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	m := s.extra.evidence[[3]string{org, subject, capabilityID}]
	out := make([]capability.Evidence, 0, len(m))
	for _, ev := range m {
		out = append(out, ev)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b capability.Evidence) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Ref, b.Ref))
	})
	return out, nil
}

var (
	_ capability.ClaimLister    = (*GraphStore)(nil)
	_ capability.EvidenceLister = (*GraphStore)(nil)
)

// ListClaims implements capability.ClaimLister.
func (s *GraphStore) ListClaims(ctx context.Context, org, after string, limit int) ([]capability.ClaimRecord, error) {
	if err := listCheck(ctx, org, limit); err != nil {
		return nil, err
	}
	s.mu.RLock()
	var out []capability.ClaimRecord
	for k, digest := range s.extra.claims {
		if k[0] == org && k[1] > after {
			out = append(out, capability.ClaimRecord{ID: k[1], Digest: digest})
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b capability.ClaimRecord) int { return cmp.Compare(a.ID, b.ID) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// ListEvidence implements capability.EvidenceLister.
func (s *GraphStore) ListEvidence(ctx context.Context, org string, after capability.EvidenceRecord, limit int) ([]capability.EvidenceRecord, error) {
	if err := listCheck(ctx, org, limit); err != nil {
		return nil, err
	}
	s.mu.RLock()
	var out []capability.EvidenceRecord
	for k, refs := range s.extra.evidence {
		if k[0] != org {
			continue
		}
		for _, ev := range refs {
			r := capability.EvidenceRecord{Subject: k[1], Capability: k[2], Evidence: ev}
			if capability.EvidenceLess(after, r) {
				out = append(out, r)
			}
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b capability.EvidenceRecord) int {
		return cmp.Or(cmp.Compare(a.Subject, b.Subject), cmp.Compare(a.Capability, b.Capability), cmp.Compare(a.Ref, b.Ref))
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
