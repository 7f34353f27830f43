package workforce

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"time"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// Strategy picks which eligible candidates a task is assigned to.
type Strategy string

// The routing strategies. Every tie is broken by the human's ID, so the
// same inputs always give the same assignees.
const (
	// RouteAll offers the task to every eligible candidate (no assignees).
	RouteAll Strategy = "all"
	// LeastLoaded assigns the candidates with the fewest open assigned
	// tasks; ties go to the higher level, then the lower ID.
	LeastLoaded Strategy = "least_loaded"
	// RoundRobin assigns candidates in turn (by ID order), with a counter
	// per org and step kept in the store.
	RoundRobin Strategy = "round_robin"
	// HighestLevel assigns the candidates holding the capability at the
	// highest level; ties go to the less loaded, then the lower ID.
	HighestLevel Strategy = "highest_level"
)

// Valid reports whether s is a known strategy (the empty strategy means the
// queue's default and is valid too).
func (s Strategy) Valid() bool {
	switch s {
	case "", RouteAll, LeastLoaded, RoundRobin, HighestLevel:
		return true
	}
	return false
}

// Candidate is an eligible approver with what routing weighs.
type Candidate struct {
	Human string `json:"human"`
	Level int    `json:"level,omitempty"`
	Load  int    `json:"load,omitempty"`
}

// Pick returns the n assignees strategy chooses among cands, which must be
// sorted by Human with no repeats. RouteAll (or "") returns nil: every
// candidate may vote. turn is the round-robin counter. Pick is
// deterministic and runs in O(n·len(cands)), without sorting.
func Pick(strategy Strategy, cands []Candidate, n int, turn uint64) []string {
	if strategy == "" || strategy == RouteAll || n <= 0 || len(cands) == 0 {
		return nil
	}
	n = min(n, len(cands))
	out := make([]string, 0, n)
	if strategy == RoundRobin {
		start := int(turn % uint64(len(cands)))
		for i := range n {
			out = append(out, cands[(start+i)%len(cands)].Human)
		}
		slices.Sort(out)
		return out
	}
	better := func(a, b *Candidate) bool { // a strictly before b
		if strategy == HighestLevel {
			if a.Level != b.Level {
				return a.Level > b.Level
			}
			if a.Load != b.Load {
				return a.Load < b.Load
			}
		} else {
			if a.Load != b.Load {
				return a.Load < b.Load
			}
			if a.Level != b.Level {
				return a.Level > b.Level
			}
		}
		return a.Human < b.Human
	}
	taken := make([]int, 0, n) // n is a quorum: small, a slice beats a map
	for range n {
		best := -1
		for i := range cands {
			if slices.Contains(taken, i) {
				continue
			}
			if best < 0 || better(&cands[i], &cands[best]) {
				best = i
			}
		}
		taken = append(taken, best)
		out = append(out, cands[best].Human)
	}
	slices.Sort(out)
	return out
}

// AvailabilityType is the DSSE payload type of a human's signed
// availability change.
const AvailabilityType = "application/vnd.humanos.availability+json"

// Availability is what a human signs to mark themselves away (until a
// time) or back. Away humans are not routed new tasks or escalations.
type Availability struct {
	Org     string    `json:"org"`
	Human   string    `json:"human"` // DID of the human, who signs
	Away    bool      `json:"away"`
	Until   time.Time `json:"until,omitzero"` // when away: required, in the future
	Created time.Time `json:"created"`
}

// maxAvailabilitySkew is how far an availability change's Created time may
// be from the queue's clock; it bounds replays of old changes.
const maxAvailabilitySkew = 5 * time.Minute

// SignAvailability seals a into a DSSE envelope signed by the human's key.
func SignAvailability(signer passport.Signer, a Availability) (*passport.Envelope, error) {
	if err := a.validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(a)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "availability: %v", err)
	}
	return passport.Seal(AvailabilityType, b, signer)
}

// DecodeAvailability parses and shape-checks an availability envelope's
// payload without verifying signatures. Anything malformed is
// errs.ErrInvalidArgument.
func DecodeAvailability(env *passport.Envelope) (Availability, error) {
	if env == nil {
		return Availability{}, errs.Errorf(errs.ErrInvalidArgument, "availability: nil envelope")
	}
	if env.PayloadType != AvailabilityType {
		return Availability{}, errs.Errorf(errs.ErrInvalidArgument, "availability: payload type %q, want %q", env.PayloadType, AvailabilityType)
	}
	if len(env.Payload) > maxVotePayload {
		return Availability{}, errs.Errorf(errs.ErrInvalidArgument, "availability: payload is %d bytes, at most %d allowed", len(env.Payload), maxVotePayload)
	}
	dec := json.NewDecoder(bytes.NewReader(env.Payload))
	dec.DisallowUnknownFields()
	var a Availability
	if err := dec.Decode(&a); err != nil {
		return Availability{}, errs.Errorf(errs.ErrInvalidArgument, "availability payload: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Availability{}, errs.Errorf(errs.ErrInvalidArgument, "availability payload: trailing data after the JSON object")
	}
	return a, a.validate()
}

func (a Availability) validate() error {
	switch {
	case a.Org == "" || a.Human == "":
		return errs.Errorf(errs.ErrInvalidArgument, "availability: org and human are required")
	case a.Created.IsZero():
		return errs.Errorf(errs.ErrInvalidArgument, "availability: missing created time")
	case a.Away && !a.Until.After(a.Created):
		return errs.Errorf(errs.ErrInvalidArgument, "availability: away needs an until time after created")
	case !a.Away && !a.Until.IsZero():
		return errs.Errorf(errs.ErrInvalidArgument, "availability: until is only for away")
	}
	return nil
}

// SetAvailability records a human's signed availability change. The
// envelope must be signed by a current key of a.Human's passport
// (errs.ErrUnauthenticated otherwise), be for org (errs.ErrPermissionDenied
// otherwise) and be fresh, Created within five minutes of the queue's clock
// (errs.ErrFailedPrecondition otherwise), so an old change cannot be
// replayed. Being away removes the human from routing of new tasks and
// escalations; tasks already routed to them are unchanged.
func (q *Queue) SetAvailability(ctx context.Context, org string, env *passport.Envelope) (Availability, error) {
	a, err := DecodeAvailability(env)
	if err != nil {
		return Availability{}, err
	}
	if a.Org != org {
		return Availability{}, errs.Errorf(errs.ErrPermissionDenied, "availability: signed for org %q, not %q", a.Org, org)
	}
	if err := q.verifiedBy(ctx, org, a.Human, env); err != nil {
		return Availability{}, err
	}
	now := q.now()
	if d := now.Sub(a.Created); d > maxAvailabilitySkew || d < -maxAvailabilitySkew {
		return Availability{}, errs.Errorf(errs.ErrFailedPrecondition, "availability: created %s is more than %v from now", a.Created.Format(time.RFC3339), maxAvailabilitySkew)
	}
	until := a.Until
	if !a.Away {
		until = time.Time{}
	}
	rs, ok := q.store.(RosterStore)
	if !ok {
		return Availability{}, errs.Errorf(errs.ErrFailedPrecondition, "availability: this task store cannot record availability")
	}
	return a, rs.PutAway(ctx, org, a.Human, until.UTC())
}

// verifiedBy checks that env is signed by a current key of did.
func (q *Queue) verifiedBy(ctx context.Context, org, did string, env *passport.Envelope) error {
	keys, err := q.keys.VerifyingKeys(ctx, org, did)
	if err != nil {
		if k := errs.Kind(err); k == errs.ErrUnavailable || k == errs.ErrPermissionDenied {
			return err
		}
		return errs.Errorf(errs.ErrUnauthenticated, "workforce: no verifying keys for %q: %v", did, err)
	}
	for _, k := range keys {
		if env.VerifiedBy(k) == nil {
			return nil
		}
	}
	return errs.Errorf(errs.ErrUnauthenticated, "workforce: envelope is not signed by any current key of %q", did)
}

// Route computes, without storing anything, who a step of s would go to
// now: the eligible candidates (holders of capability, members of team if
// set, minus the agent, the requester unless s.AllowDelegator, s.Exclude
// (humans, or teams whose members are excluded) and anyone away) and the assignees the strategy picks. Fewer candidates
// than the quorum is errs.ErrFailedPrecondition. Route is a dry run: it
// never consumes a round-robin turn.
func (q *Queue) Route(ctx context.Context, s Spec, capabilityName, team string) (Stage, error) {
	return q.route(ctx, &s, capabilityName, team, false)
}

func (q *Queue) route(ctx context.Context, s *Spec, capabilityName, team string, advance bool) (Stage, error) {
	if capabilityName == "" && team == "" {
		return Stage{}, errs.Errorf(errs.ErrInvalidArgument, "workforce: a step needs a capability or a team")
	}
	pool, err := q.pool(ctx, s.Org, capabilityName, team)
	if err != nil {
		return Stage{}, err
	}
	rs, hasRoster := q.store.(RosterStore)
	var away map[string]time.Time
	if hasRoster {
		var err error
		if away, err = rs.Away(ctx, s.Org, q.now()); err != nil {
			return Stage{}, err
		}
	}
	// An Exclude entry may name a team: its members (transitively) are
	// excluded too.
	excludedSet := map[string]bool{}
	for _, x := range s.Exclude {
		excludedSet[x] = true
		if tm, ok := q.holders.(TeamMembers); ok {
			members, err := tm.Members(ctx, s.Org, x)
			if err != nil && errs.Kind(err) != errs.ErrInvalidArgument {
				return Stage{}, err
			}
			for _, m := range members {
				excludedSet[m] = true
			}
		}
	}
	// Everyone removed, sorted, then one merge pass over the sorted pool:
	// no hashing per candidate, which matters at 10,000 of them.
	drop := make([]string, 0, len(excludedSet)+len(away)+2)
	for h := range excludedSet {
		drop = append(drop, h)
	}
	for h := range away {
		drop = append(drop, h)
	}
	drop = append(drop, s.Agent)
	if !s.AllowDelegator && s.Requester != "" {
		drop = append(drop, s.Requester)
	}
	slices.Sort(drop)
	cands := make([]Candidate, 0, len(pool))
	names := make([]string, 0, len(pool))
	j := 0
	for _, h := range pool { // sorted by subject, no repeats
		for j < len(drop) && drop[j] < h.Subject {
			j++
		}
		if j < len(drop) && drop[j] == h.Subject {
			continue
		}
		cands = append(cands, Candidate{Human: h.Subject, Level: h.Level})
		names = append(names, h.Subject)
	}
	what := capabilityName
	if team != "" {
		what = what + " in team " + team
	}
	if len(cands) == 0 {
		return Stage{}, errs.Errorf(errs.ErrFailedPrecondition, "workforce: no eligible approver for %q in org %q (%d in the pool, the agent, requester, excluded and away removed)",
			what, s.Org, len(pool))
	}
	if len(cands) < s.Quorum {
		return Stage{}, errs.Errorf(errs.ErrFailedPrecondition, "workforce: quorum %d for %q cannot be met: only %d eligible approvers in org %q",
			s.Quorum, what, len(cands), s.Org)
	}
	st := Stage{Capability: capabilityName, Team: team, Candidates: names}
	strategy := s.Routing
	if strategy == "" {
		strategy = q.routing
	}
	var turn uint64
	switch {
	case (strategy == LeastLoaded || strategy == HighestLevel) && hasRoster:
		loads, err := rs.Loads(ctx, s.Org)
		if err != nil {
			return Stage{}, err
		}
		for i := range cands {
			cands[i].Load = loads[cands[i].Human]
		}
	case strategy == RoundRobin && advance:
		key := "route/" + capabilityName + "/" + team
		if hasRoster {
			var err error
			if turn, err = rs.Turn(ctx, s.Org, key); err != nil {
				return Stage{}, err
			}
		} else {
			q.mu.Lock()
			turn = q.turns[s.Org+"\x00"+key]
			q.turns[s.Org+"\x00"+key]++
			q.mu.Unlock()
		}
	}
	st.Assignees = Pick(strategy, cands, s.Quorum, turn)
	return st, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// holderLevels is the optional path-free, cacheable form of [Holders];
// *capability.Graph implements it, and routing prefers it.
type holderLevels interface {
	HolderLevels(ctx context.Context, org, capability string) ([]capability.HolderLevel, error)
}

// pool returns who a step may go to before exclusions: the holders of
// capabilityName (with their levels), restricted to the members of team
// when set, or the members of team alone; sorted by subject, no repeats.
func (q *Queue) pool(ctx context.Context, org, capabilityName, team string) ([]capability.HolderLevel, error) {
	var pool []capability.HolderLevel
	if capabilityName != "" {
		sorted := false
		if hl, ok := q.holders.(holderLevels); ok {
			var err error
			if pool, err = hl.HolderLevels(ctx, org, capabilityName); err != nil {
				return nil, err
			}
			sorted = true // documented: sorted by subject, one entry each
		} else {
			hs, err := q.holders.Holders(ctx, org, capabilityName)
			if err != nil {
				return nil, err
			}
			pool = make([]capability.HolderLevel, len(hs))
			for i, h := range hs {
				pool[i] = capability.HolderLevel{Subject: h.Subject, Level: h.Level}
			}
		}
		if !sorted {
			// A Holders implementation that does not sort: order by subject,
			// highest level first, and keep one entry per subject.
			slices.SortFunc(pool, func(a, b capability.HolderLevel) int {
				if c := compareStrings(a.Subject, b.Subject); c != 0 {
					return c
				}
				return b.Level - a.Level
			})
			pool = slices.CompactFunc(pool, func(a, b capability.HolderLevel) bool { return a.Subject == b.Subject })
		}
	}
	if team == "" {
		return pool, nil
	}
	tm, ok := q.holders.(TeamMembers)
	if !ok {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "workforce: step names team %q but the capability graph cannot list team members", team)
	}
	members, err := tm.Members(ctx, org, team)
	if err != nil {
		return nil, err
	}
	if capabilityName == "" {
		slices.Sort(members)
		members = slices.Compact(members)
		pool = make([]capability.HolderLevel, len(members))
		for i, m := range members {
			pool[i] = capability.HolderLevel{Subject: m}
		}
		return pool, nil
	}
	in := make(map[string]bool, len(members))
	for _, m := range members {
		in[m] = true
	}
	return slices.DeleteFunc(pool, func(h capability.HolderLevel) bool { return !in[h.Subject] }), nil
}
