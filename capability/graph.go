package capability

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/humanos/human/errs"
)

// NodeKind is the kind of a graph node.
type NodeKind string

// The node kinds.
const (
	Human      NodeKind = "human"
	Agent      NodeKind = "agent"
	Team       NodeKind = "team"
	Capability NodeKind = "capability"
	// Org is the org itself as a node: teams (and people) may be members
	// of it, and what it holds or what roles it has, every member has.
	Org NodeKind = "org"
	// Role is a named bundle of capabilities: it grants capabilities, and
	// humans, agents, teams and orgs have roles.
	Role NodeKind = "role"
)

// Valid reports whether k is one of the node kinds.
func (k NodeKind) Valid() bool {
	switch k {
	case Human, Agent, Team, Capability, Org, Role:
		return true
	}
	return false
}

// EdgeKind is the kind of a graph edge.
type EdgeKind string

// The edge kinds.
const (
	// Holds: subject (human, agent or team) -> capability.
	Holds EdgeKind = "holds"
	// MemberOf: human or agent -> team, or team -> team.
	MemberOf EdgeKind = "member_of"
	// Delegates: human -> agent.
	Delegates EdgeKind = "delegates"
	// HasRole: human, agent, team or org -> role.
	HasRole EdgeKind = "has_role"
	// Grants: role -> capability.
	Grants EdgeKind = "grants"
)

// Valid reports whether k is one of the edge kinds.
func (k EdgeKind) Valid() bool {
	switch k {
	case Holds, MemberOf, Delegates, HasRole, Grants:
		return true
	}
	return false
}

// Node is a vertex of an org's graph. ID is unique within the org (a DID
// for humans and agents, a dotted name such as "finance.approver" for a
// capability).
type Node struct {
	ID   string   `json:"id"`
	Kind NodeKind `json:"kind"`
	Name string   `json:"name,omitempty"`
}

// Edge is a directed, typed edge between two nodes of one org. An edge is
// identified by (From, Kind, To); writing it again replaces Level, Expires
// and Issuer.
type Edge struct {
	From    string    `json:"from"`
	To      string    `json:"to"`
	Kind    EdgeKind  `json:"kind"`
	Level   int       `json:"level,omitempty"`
	Expires time.Time `json:"expires,omitzero"` // zero: never
	Issuer  string    `json:"issuer,omitempty"` // who granted it, for audit
}

// ActiveAt reports whether the edge is in force at t: it has no expiry or
// expires after t.
func (e Edge) ActiveAt(t time.Time) bool {
	return e.Expires.IsZero() || t.Before(e.Expires)
}

// Store persists an org's nodes and edges. It keeps adjacency only; every
// query's semantics (transitive membership, expiry, validation of kinds)
// lives in [Graph]. Implementations must be safe for concurrent use.
//
// Every method takes the org namespace; data written under one org is never
// returned for another. When ctx is already cancelled, or is cancelled
// before the operation commits, a method returns an error wrapping both
// errs.ErrUnavailable and ctx.Err(), and changes nothing.
type Store interface {
	// PutNode creates n, or updates its Name when a node with the same ID
	// and Kind exists; writing an identical node again is a no-op. It
	// returns errs.ErrConflict if the ID exists with another Kind.
	PutNode(ctx context.Context, org string, n Node) error
	// Node returns the node with that ID, or errs.ErrNotFound.
	Node(ctx context.Context, org, id string) (Node, error)
	// PutEdge inserts e, or replaces Level, Expires and Issuer of the edge
	// with the same (From, Kind, To). It returns errs.ErrNotFound, and
	// writes nothing, if either end is not a node of org.
	PutEdge(ctx context.Context, org string, e Edge) error
	// DeleteEdge removes the edge (from, kind, to), or returns
	// errs.ErrNotFound if there is none.
	DeleteEdge(ctx context.Context, org string, from string, kind EdgeKind, to string) error
	// Out returns the edges of that kind leaving from, sorted by To; an
	// unknown node has no edges (empty result, no error).
	Out(ctx context.Context, org, from string, kind EdgeKind) ([]Edge, error)
	// In returns the edges of that kind entering to, sorted by From; an
	// unknown node has no edges (empty result, no error).
	In(ctx context.Context, org, to string, kind EdgeKind) ([]Edge, error)
}

// Path is a chain of edges from a subject to a capability: zero or more
// member_of and has_role edges followed by one holds edge (from the
// subject, a team or an org) or one grants edge (from a role).
type Path []Edge

// String renders the path as "alice -member_of-> treasury -holds-> finance.approver".
func (p Path) String() string {
	if len(p) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(p[0].From)
	for _, e := range p {
		b.WriteString(" -")
		b.WriteString(string(e.Kind))
		b.WriteString("-> ")
		b.WriteString(e.To)
	}
	return b.String()
}

// Holder is a human who holds a capability, with the path that grants it
// and the level of that path's holds edge.
type Holder struct {
	Subject string `json:"subject"`
	Path    Path   `json:"path"`
	Level   int    `json:"level,omitempty"`
}

// Graph answers capability questions over a [Store]. It is safe for
// concurrent use if its store is.
type Graph struct {
	store Store
	now   func() time.Time
	cache answerCache
}

// NewGraph returns a graph over store. now gives the time against which
// edge expiry is judged; nil means time.Now.
func NewGraph(store Store, now func() time.Time) *Graph {
	if now == nil {
		now = time.Now
	}
	return &Graph{store: store, now: now}
}

// maxIDLen bounds node IDs; a DID or a dotted capability name fits easily.
const maxIDLen = 512

// validID checks an org or node identifier: non-empty, bounded, no
// whitespace or control characters (they would make paths and logs
// ambiguous).
func validID(field, s string) error {
	if s == "" {
		return errs.Errorf(errs.ErrInvalidArgument, "capability: %s is empty", field)
	}
	if len(s) > maxIDLen {
		return errs.Errorf(errs.ErrInvalidArgument, "capability: %s is %d bytes, at most %d allowed", field, len(s), maxIDLen)
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar {
			return errs.Errorf(errs.ErrInvalidArgument, "capability: %s %q contains whitespace, control or invalid characters", field, s)
		}
	}
	return nil
}

// AddNode validates n and stores it in org. An invalid ID or kind is
// errs.ErrInvalidArgument; an ID already used by another kind is
// errs.ErrConflict.
func (g *Graph) AddNode(ctx context.Context, org string, n Node) error {
	if err := validID("org", org); err != nil {
		return err
	}
	if err := validID("node id", n.ID); err != nil {
		return err
	}
	if !n.Kind.Valid() {
		return errs.Errorf(errs.ErrInvalidArgument, "capability: node %q has unknown kind %q (want human, agent, team, capability, org or role)", n.ID, n.Kind)
	}
	return g.store.PutNode(ctx, org, n)
}

// GrantOption adjusts a holds edge written by [Graph.Grant].
type GrantOption func(*Edge)

// WithLevel sets the level of the grant.
func WithLevel(level int) GrantOption { return func(e *Edge) { e.Level = level } }

// WithExpiry makes the grant lapse at t.
func WithExpiry(t time.Time) GrantOption { return func(e *Edge) { e.Expires = t } }

// WithIssuer records who made the grant.
func WithIssuer(issuer string) GrantOption { return func(e *Edge) { e.Issuer = issuer } }

// Grant makes subject hold capability in org. It creates the capability
// node if needed (errs.ErrInvalidArgument if that ID names a node of
// another kind); subject must already exist (errs.ErrNotFound otherwise).
// Granting again replaces the level, expiry and issuer.
func (g *Graph) Grant(ctx context.Context, org, subject, capability string, opts ...GrantOption) error {
	if err := validID("org", org); err != nil {
		return err
	}
	if err := validID("capability", capability); err != nil {
		return err
	}
	n, err := g.store.Node(ctx, org, capability)
	switch {
	case errs.Kind(err) == errs.ErrNotFound:
		if err := g.store.PutNode(ctx, org, Node{ID: capability, Kind: Capability, Name: capability}); err != nil {
			return err
		}
	case err != nil:
		return err
	case n.Kind != Capability:
		return errs.Errorf(errs.ErrInvalidArgument, "capability: cannot grant %q: it is a %s node, not a capability", capability, n.Kind)
	}
	e := Edge{From: subject, To: capability, Kind: Holds}
	for _, o := range opts {
		o(&e)
	}
	return g.AddEdge(ctx, org, e)
}

// AddMember makes member (a human, agent or team) a member of team.
func (g *Graph) AddMember(ctx context.Context, org, member, team string) error {
	return g.AddEdge(ctx, org, Edge{From: member, To: team, Kind: MemberOf})
}

// allowedEnds lists, per edge kind, which node kinds may sit at each end.
var allowedEnds = map[EdgeKind]struct{ from, to []NodeKind }{
	Holds:     {from: []NodeKind{Human, Agent, Team, Org}, to: []NodeKind{Capability}},
	MemberOf:  {from: []NodeKind{Human, Agent, Team}, to: []NodeKind{Team, Org}},
	Delegates: {from: []NodeKind{Human}, to: []NodeKind{Agent}},
	HasRole:   {from: []NodeKind{Human, Agent, Team, Org}, to: []NodeKind{Role}},
	Grants:    {from: []NodeKind{Role}, to: []NodeKind{Capability}},
}

// AddEdge validates e against the kinds of its ends and stores it. Empty
// IDs, an unknown edge kind, a self-loop, a negative level, or ends of the
// wrong kind (a holds edge that does not end at a capability, a member_of
// edge that does not end at a team, a delegates edge that is not human ->
// agent) are errs.ErrInvalidArgument; a missing end is errs.ErrNotFound.
func (g *Graph) AddEdge(ctx context.Context, org string, e Edge) error {
	if err := validID("org", org); err != nil {
		return err
	}
	if err := validID("edge from", e.From); err != nil {
		return err
	}
	if err := validID("edge to", e.To); err != nil {
		return err
	}
	ends, ok := allowedEnds[e.Kind]
	if !ok {
		return errs.Errorf(errs.ErrInvalidArgument, "capability: edge %s -> %s has unknown kind %q (want holds, member_of, delegates, has_role or grants)", e.From, e.To, e.Kind)
	}
	if e.From == e.To {
		return errs.Errorf(errs.ErrInvalidArgument, "capability: %s edge from %q to itself", e.Kind, e.From)
	}
	if e.Level < 0 {
		return errs.Errorf(errs.ErrInvalidArgument, "capability: %s edge %s -> %s has negative level %d", e.Kind, e.From, e.To, e.Level)
	}
	if e.Issuer != "" {
		if err := validID("edge issuer", e.Issuer); err != nil {
			return err
		}
	}
	from, err := g.store.Node(ctx, org, e.From)
	if err != nil {
		return err
	}
	to, err := g.store.Node(ctx, org, e.To)
	if err != nil {
		return err
	}
	if !slices.Contains(ends.from, from.Kind) || !slices.Contains(ends.to, to.Kind) {
		return errs.Errorf(errs.ErrInvalidArgument, "capability: a %s edge cannot go from %s %q to %s %q (allowed: %v -> %v)",
			e.Kind, from.Kind, e.From, to.Kind, e.To, ends.from, ends.to)
	}
	return g.store.PutEdge(ctx, org, e)
}

// RemoveEdge deletes the edge (from, kind, to); errs.ErrNotFound if absent.
func (g *Graph) RemoveEdge(ctx context.Context, org, from string, kind EdgeKind, to string) error {
	if err := validID("org", org); err != nil {
		return err
	}
	if !kind.Valid() {
		return errs.Errorf(errs.ErrInvalidArgument, "capability: unknown edge kind %q", kind)
	}
	return g.store.DeleteEdge(ctx, org, from, kind, to)
}

// Holds reports whether subject holds capability in org, directly or
// through member_of edges (transitively; cycles are harmless), ignoring
// expired edges. When it does, the returned path is a shortest one, chosen
// deterministically. An unknown subject or capability holds nothing: the
// answer is false with a nil error.
func (g *Graph) Holds(ctx context.Context, org, subject, capability string) (Path, bool, error) {
	if err := validID("org", org); err != nil {
		return nil, false, err
	}
	if err := validID("subject", subject); err != nil {
		return nil, false, err
	}
	if err := validID("capability", capability); err != nil {
		return nil, false, err
	}
	now := g.now()
	// Breadth-first over member_of and has_role; via[n] is the edge by
	// which n was reached, so the path is rebuilt backwards. A node
	// reaches the capability by a holds edge, or (a role) by a grants
	// edge; holds is looked at first, so among equally short paths a
	// direct holding wins over a role's grant.
	via := map[string]Edge{}
	seen := map[string]bool{subject: true}
	frontier := []string{subject}
	for len(frontier) > 0 {
		var next []string
		for _, n := range frontier {
			for _, terminal := range [...]EdgeKind{Holds, Grants} {
				held, err := g.store.Out(ctx, org, n, terminal)
				if err != nil {
					return nil, false, err
				}
				for _, e := range held {
					if e.To == capability && e.ActiveAt(now) {
						return backPath(via, subject, n, e), true, nil
					}
				}
			}
			for _, step := range [...]EdgeKind{MemberOf, HasRole} {
				ups, err := g.store.Out(ctx, org, n, step)
				if err != nil {
					return nil, false, err
				}
				for _, e := range ups {
					if seen[e.To] || !e.ActiveAt(now) {
						continue
					}
					seen[e.To] = true
					via[e.To] = e
					next = append(next, e.To)
				}
			}
		}
		frontier = next
	}
	return nil, false, nil
}

// backPath rebuilds subject -> ... -> n from via, then appends last.
func backPath(via map[string]Edge, subject, n string, last Edge) Path {
	var p Path
	for n != subject {
		e := via[n]
		p = append(p, e)
		n = e.From
	}
	slices.Reverse(p)
	return append(p, last)
}

// HasCapability is [Graph.Holds] without the path: the one-method shape the
// policy engine asks for.
func (g *Graph) HasCapability(ctx context.Context, org, subject, capability string) (bool, error) {
	_, ok, err := g.Holds(ctx, org, subject, capability)
	return ok, err
}

// Checker is the yes/no view of a graph: its Holds method has the shape of
// the policy engine's one-method capability interface
// (Holds(ctx, org, subject, capability) (bool, error)).
type Checker struct{ g *Graph }

// Checker returns the yes/no view of g, for wiring into the policy engine.
func (g *Graph) Checker() Checker { return Checker{g: g} }

// Holds reports whether subject holds capability in org; see [Graph.Holds].
func (c Checker) Holds(ctx context.Context, org, subject, capability string) (bool, error) {
	return c.g.HasCapability(ctx, org, subject, capability)
}

// BulkStore is an optional extension of [Store]: adjacency and nodes for
// many IDs in one round trip. [Graph] uses it when the store has it and
// falls back to one [Store] call per node otherwise; both give identical
// answers, since the traversal stays here. Contexts and errors are as for
// [Store].
type BulkStore interface {
	// InMany returns the edges of that kind entering any node of to,
	// sorted by To then From. Unknown nodes have no edges.
	InMany(ctx context.Context, org string, to []string, kind EdgeKind) ([]Edge, error)
	// Nodes returns the nodes with those IDs that exist, in any order;
	// unknown IDs are left out.
	Nodes(ctx context.Context, org string, ids []string) ([]Node, error)
}

// inMany returns, for each node of to, its entering edges of kind sorted by
// From, through the bulk interface when the store has it.
func (g *Graph) inMany(ctx context.Context, org string, to []string, kind EdgeKind) (map[string][]Edge, error) {
	out := make(map[string][]Edge, len(to))
	if bs, ok := g.store.(BulkStore); ok {
		for chunk := range slices.Chunk(to, 500) {
			es, err := bs.InMany(ctx, org, chunk, kind)
			if err != nil {
				return nil, err
			}
			for _, e := range es {
				out[e.To] = append(out[e.To], e)
			}
		}
		return out, nil
	}
	for _, n := range to {
		es, err := g.store.In(ctx, org, n, kind)
		if err != nil {
			return nil, err
		}
		out[n] = es
	}
	return out, nil
}

// kinds returns the kind of each existing node of ids.
func (g *Graph) kinds(ctx context.Context, org string, ids []string) (map[string]NodeKind, error) {
	out := make(map[string]NodeKind, len(ids))
	if bs, ok := g.store.(BulkStore); ok {
		for chunk := range slices.Chunk(ids, 500) {
			ns, err := bs.Nodes(ctx, org, chunk)
			if err != nil {
				return nil, err
			}
			for _, n := range ns {
				out[n.ID] = n.Kind
			}
		}
		return out, nil
	}
	for _, id := range ids {
		n, err := g.store.Node(ctx, org, id)
		if errs.Kind(err) == errs.ErrNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[id] = n.Kind
	}
	return out, nil
}

// reachBack walks member_of edges backwards from the frontier, level by
// level, recording in toward the edge by which each newly reached node
// steps one closer (frontier order, then From order: the first found wins,
// so the result is deterministic and a path through it is shortest).
func (g *Graph) reachBack(ctx context.Context, org string, frontier []string, toward map[string]Edge, now time.Time, until *time.Time, kinds ...EdgeKind) error {
	for len(frontier) > 0 {
		in := map[string][]Edge{}
		for _, k := range kinds {
			ins, err := g.inMany(ctx, org, frontier, k)
			if err != nil {
				return err
			}
			for n, es := range ins {
				in[n] = append(in[n], es...)
			}
		}
		var next []string
		for _, n := range frontier {
			for _, e := range in[n] {
				if !e.ActiveAt(now) {
					continue
				}
				earliest(until, e.Expires)
				if _, ok := toward[e.From]; ok {
					continue
				}
				toward[e.From] = e
				next = append(next, e.From)
			}
		}
		frontier = next
	}
	return nil
}

// Holders returns the humans of org who hold capability, directly or
// through team membership, ignoring expired edges, sorted by Subject. Each
// holder comes with a shortest path (chosen deterministically) and the
// level of that path's holds edge. Agents and teams are never returned.
//
// When the store is a [GenerationStore], the answer is cached until the
// org's next write (by any process) or the earliest expiry of an edge it
// relied on, whichever comes first.
func (g *Graph) Holders(ctx context.Context, org, capability string) ([]Holder, error) {
	hs, err := g.holders(ctx, org, capability)
	if _, cached := g.store.(GenerationStore); err != nil || !cached {
		return hs, err
	}
	return cloneHolders(hs), nil
}

// holders is Holders sharing the cached slice: callers must not modify it.
func (g *Graph) holders(ctx context.Context, org, capability string) ([]Holder, error) {
	if err := validID("org", org); err != nil {
		return nil, err
	}
	if err := validID("capability", capability); err != nil {
		return nil, err
	}
	now := g.now()
	gen, cacheable, err := g.generation(ctx, org)
	if err != nil {
		return nil, err
	}
	key := cacheKey{org: org, what: "holders", id: capability}
	if cacheable {
		if e := g.cache.get(key, gen, now); e != nil {
			return e.holders, nil
		}
	}
	var until time.Time
	// Reverse breadth-first from the capability; toward[n] is the edge that
	// leads from n one step closer to the capability.
	toward := map[string]Edge{}
	grants, err := g.store.In(ctx, org, capability, Holds)
	if err != nil {
		return nil, err
	}
	byRole, err := g.store.In(ctx, org, capability, Grants)
	if err != nil {
		return nil, err
	}
	grants = append(grants, byRole...)
	var frontier []string
	for _, e := range grants {
		if !e.ActiveAt(now) {
			continue
		}
		earliest(&until, e.Expires)
		if _, ok := toward[e.From]; !ok {
			toward[e.From] = e
			frontier = append(frontier, e.From)
		}
	}
	if err := g.reachBack(ctx, org, frontier, toward, now, &until, MemberOf, HasRole); err != nil {
		return nil, err
	}
	subjects := make([]string, 0, len(toward))
	for s := range toward {
		subjects = append(subjects, s)
	}
	slices.Sort(subjects)
	kinds, err := g.kinds(ctx, org, subjects)
	if err != nil {
		return nil, err
	}
	out := make([]Holder, 0, len(subjects))
	for _, s := range subjects {
		if kinds[s] != Human {
			continue
		}
		var p Path
		for n := s; ; {
			e := toward[n]
			p = append(p, e)
			if e.Kind == Holds || e.Kind == Grants {
				break
			}
			n = e.To
		}
		out = append(out, Holder{Subject: s, Path: p, Level: p[len(p)-1].Level})
	}
	if cacheable {
		g.cache.put(key, &cached{gen: gen, until: until, holders: out})
	}
	return out, nil
}

// Members returns the humans of org who are members of team, directly or
// through nested teams (active edges only), sorted. An unknown team has no
// members.
func (g *Graph) Members(ctx context.Context, org, team string) ([]string, error) {
	if err := validID("org", org); err != nil {
		return nil, err
	}
	if err := validID("team", team); err != nil {
		return nil, err
	}
	now := g.now()
	gen, cacheable, err := g.generation(ctx, org)
	if err != nil {
		return nil, err
	}
	key := cacheKey{org: org, what: "members", id: team}
	if cacheable {
		if e := g.cache.get(key, gen, now); e != nil {
			return slices.Clone(e.ids), nil
		}
	}
	var until time.Time
	toward := map[string]Edge{team: {}}
	if err := g.reachBack(ctx, org, []string{team}, toward, now, &until, MemberOf); err != nil {
		return nil, err
	}
	delete(toward, team)
	ids := make([]string, 0, len(toward))
	for id := range toward {
		ids = append(ids, id)
	}
	kinds, err := g.kinds(ctx, org, ids)
	if err != nil {
		return nil, err
	}
	out := ids[:0]
	for _, id := range ids {
		if kinds[id] == Human {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	if cacheable {
		g.cache.put(key, &cached{gen: gen, until: until, ids: slices.Clone(out)})
	}
	return out, nil
}
