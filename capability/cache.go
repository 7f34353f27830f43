package capability

import (
	"context"
	"slices"
	"sync"
	"time"
)

// GenerationStore is an optional extension of [Store]: a per-org write
// generation. [Graph] caches its transitive answers (who holds a
// capability, who is in a team) while the generation is unchanged, so
// repeated routing and "who can approve" questions skip the traversal.
// A store without it is simply not cached.
type GenerationStore interface {
	// Generation returns org's write generation: a number that changes
	// whenever any node or edge of org is created, changed or deleted,
	// through this store or any other process sharing its database, by
	// the time that write is visible to readers. An org never written has
	// generation 0. Contexts and errors are as for [Store].
	Generation(ctx context.Context, org string) (uint64, error)
}

// maxCached bounds the answers a Graph keeps; past it, an arbitrary one is
// dropped for each new one.
const maxCached = 4096

type cacheKey struct {
	org, what, id string
}

// cached is one transitive answer, valid while the org's generation is
// gen and (when until is set) the clock is before until, the earliest
// expiry of an edge the answer relied on.
type cached struct {
	mu      sync.Mutex // guards levels
	gen     uint64
	until   time.Time
	holders []Holder      // for "holders"; Path slices share edges
	levels  []HolderLevel // holders without paths, built on first use
	ids     []string      // for "members"
}

// answerCache is the Graph's cache of transitive answers.
type answerCache struct {
	mu sync.Mutex
	m  map[cacheKey]*cached
}

// generation returns org's write generation and whether the store has one.
func (g *Graph) generation(ctx context.Context, org string) (uint64, bool, error) {
	gs, ok := g.store.(GenerationStore)
	if !ok {
		return 0, false, nil
	}
	gen, err := gs.Generation(ctx, org)
	return gen, err == nil, err
}

func (c *answerCache) get(k cacheKey, gen uint64, now time.Time) *cached {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[k]
	if e == nil || e.gen != gen || (!e.until.IsZero() && !now.Before(e.until)) {
		return nil
	}
	return e
}

func (c *answerCache) put(k cacheKey, e *cached) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[cacheKey]*cached{}
	}
	if _, ok := c.m[k]; !ok && len(c.m) >= maxCached {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = e
}

// earliest lowers *until to t when t is set and earlier.
func earliest(until *time.Time, t time.Time) {
	if !t.IsZero() && (until.IsZero() || t.Before(*until)) {
		*until = t
	}
}

// cloneHolders deep-copies hs in two allocations, so callers may modify
// what they get without touching the cache.
func cloneHolders(hs []Holder) []Holder {
	n := 0
	for _, h := range hs {
		n += len(h.Path)
	}
	edges := make([]Edge, 0, n)
	out := slices.Clone(hs)
	for i := range out {
		start := len(edges)
		edges = append(edges, out[i].Path...)
		out[i].Path = edges[start:len(edges):len(edges)]
	}
	return out
}

// HolderLevel is a holder without its path: the cheap answer routing needs.
type HolderLevel struct {
	Subject string `json:"subject"`
	Level   int    `json:"level,omitempty"`
}

// HolderLevels is [Graph.Holders] without the paths: the same humans in the
// same order with the same levels. It is what routing asks, and with a
// [GenerationStore] a repeated question costs one generation read and a
// copy of the answer.
func (g *Graph) HolderLevels(ctx context.Context, org, capability string) ([]HolderLevel, error) {
	if e, ok := g.cachedEntry(ctx, org, "holders", capability); ok {
		if lv := e.levelsOnce(); lv != nil {
			return slices.Clone(lv), nil
		}
	}
	hs, err := g.holders(ctx, org, capability)
	if err != nil {
		return nil, err
	}
	out := make([]HolderLevel, len(hs))
	for i, h := range hs {
		out[i] = HolderLevel{Subject: h.Subject, Level: h.Level}
	}
	return out, nil
}

// cachedEntry returns the cached answer for (org, what, id) if it is still
// valid; any error just means "not cached".
func (g *Graph) cachedEntry(ctx context.Context, org, what, id string) (*cached, bool) {
	gen, ok, err := g.generation(ctx, org)
	if err != nil || !ok {
		return nil, false
	}
	e := g.cache.get(cacheKey{org: org, what: what, id: id}, gen, g.now())
	return e, e != nil
}

// levelsOnce returns the entry's holders without paths, building them on
// first use (entries are shared, hence the lock).
func (e *cached) levelsOnce() []HolderLevel {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.levels == nil && e.holders != nil {
		e.levels = make([]HolderLevel, len(e.holders))
		for i, h := range e.holders {
			e.levels[i] = HolderLevel{Subject: h.Subject, Level: h.Level}
		}
	}
	return e.levels
}
