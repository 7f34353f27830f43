package memory

import (
	"cmp"
	"context"
	"slices"
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
	return errs.CheckList(ctx, "memory", org, limit)
}

// listNames returns the sorted names of org in keys greater than after.
func listNames[V any](m map[passportKey]V, org, after string, limit int) []string {
	var out []string
	for k := range m {
		if k.org == org && k.name > after {
			out = append(out, k.name)
		}
	}
	slices.Sort(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// listPassportNames is the three passport listings over one of the
// store's maps.
func listPassportNames[V any](ctx context.Context, s *PassportStore, m map[passportKey]V, org, after string, limit int) ([]string, error) {
	if err := listCheck(ctx, org, limit); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return listNames(m, org, after, limit), nil
}

// ListPassports implements passport.Lister.
func (s *PassportStore) ListPassports(ctx context.Context, org, after string, limit int) ([]string, error) {
	return listPassportNames(ctx, s, s.events, org, after, limit)
}

// ListDelegations implements passport.Lister.
func (s *PassportStore) ListDelegations(ctx context.Context, org, after string, limit int) ([]string, error) {
	return listPassportNames(ctx, s, s.delegations, org, after, limit)
}

// ListRevocations implements passport.Lister.
func (s *PassportStore) ListRevocations(ctx context.Context, org, after string, limit int) ([]string, error) {
	return listPassportNames(ctx, s, s.revocations, org, after, limit)
}

// ListNodes implements capability.Lister.
func (s *GraphStore) ListNodes(ctx context.Context, org, after string, limit int) ([]capability.Node, error) {
	if err := listCheck(ctx, org, limit); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	g := s.orgs[org]
	if g == nil {
		return nil, nil
	}
	var out []capability.Node
	for id, n := range g.nodes {
		if id > after {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b capability.Node) int { return cmp.Compare(a.ID, b.ID) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// ListEdges implements capability.Lister.
func (s *GraphStore) ListEdges(ctx context.Context, org string, after capability.Edge, limit int) ([]capability.Edge, error) {
	if err := listCheck(ctx, org, limit); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	g := s.orgs[org]
	if g == nil {
		return nil, nil
	}
	var out []capability.Edge
	for _, tos := range g.out {
		for _, e := range tos {
			if capability.EdgeLess(after, e) {
				out = append(out, e)
			}
		}
	}
	slices.SortFunc(out, func(a, b capability.Edge) int {
		switch {
		case capability.EdgeLess(a, b):
			return -1
		case capability.EdgeLess(b, a):
			return 1
		}
		return 0
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Counters implements policy.BudgetLister.
func (s *BudgetStore) Counters(ctx context.Context, org string) ([]policy.Counter, error) {
	if err := listCheck(ctx, org, 1); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []policy.Counter
	for k, c := range s.counters {
		if k.org == org && c.total > 0 {
			out = append(out, policy.Counter{Key: k.key, Start: time.Unix(0, k.start).UTC(), End: c.end.UTC(), Total: c.total})
		}
	}
	slices.SortFunc(out, func(a, b policy.Counter) int {
		return cmp.Or(cmp.Compare(a.Key, b.Key), a.Start.Compare(b.Start))
	})
	return out, nil
}
