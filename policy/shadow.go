package policy

import (
	"context"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Shadow evaluates a candidate policy beside the active one on live
// traffic, without enforcing it, and counts where their decisions differ.
// The caller hands it each live request with the active decision
// (Observe); the candidate is evaluated in the background, so the live
// path pays only for a non-blocking queue send. It is safe for concurrent
// use.
type Shadow struct {
	engine    *Engine
	candidate *Policy
	samples   int
	queue     chan shadowItem
	running   atomic.Bool
	idle      sync.Cond

	mu     sync.Mutex
	report ShadowReport
	groups map[diffKey]*DiffGroup
	busy   int
}

type shadowItem struct {
	in     Input
	active Decision
}

type diffKey struct {
	active, candidate         Effect
	activeRule, candidateRule string
}

// ShadowReport is what a Shadow has seen so far.
type ShadowReport struct {
	// CandidateVersion and CandidateDigest identify the candidate.
	CandidateVersion int
	CandidateDigest  string
	// Observed counts the requests compared; Same those decided alike;
	// Different those decided otherwise (a different effect, or a
	// different approval requirement); Errors the candidate evaluations
	// that failed; Dropped the requests not compared because the queue was
	// full.
	Observed, Same, Different, Errors, Dropped int
	// Diffs groups the differences by (active effect and rule, candidate
	// effect and rule), most frequent first, each with a few samples.
	Diffs []DiffGroup
}

// DiffGroup counts one kind of difference.
type DiffGroup struct {
	// ActiveEffect and ActiveRule are what the live policy decided.
	ActiveEffect Effect
	ActiveRule   string
	// CandidateEffect and CandidateRule are what the candidate would have.
	CandidateEffect Effect
	CandidateRule   string
	// Count is how many requests differed this way.
	Count int
	// Samples are the first few such requests.
	Samples []DiffSample
}

// DiffSample is one request whose decisions differed.
type DiffSample struct {
	Agent, Action, Resource           string
	Time                              time.Time
	ActiveReason, CandidateReason     string
	ActiveApproval, CandidateApproval *Approval `json:",omitempty"`
}

// ShadowOption configures a Shadow.
type ShadowOption func(*Shadow)

// WithSamples sets how many samples each DiffGroup keeps (default 5).
func WithSamples(n int) ShadowOption { return func(s *Shadow) { s.samples = n } }

// WithQueue sets how many observed requests may wait for the candidate
// (default 1024); past it requests are dropped and counted.
func WithQueue(n int) ShadowOption {
	return func(s *Shadow) { s.queue = make(chan shadowItem, max(n, 1)) }
}

// NewShadow returns a Shadow of candidate, evaluated with e.
func NewShadow(e *Engine, candidate *Policy, opts ...ShadowOption) *Shadow {
	s := &Shadow{engine: e, candidate: candidate, samples: 5, groups: map[diffKey]*DiffGroup{}}
	for _, o := range opts {
		o(s)
	}
	if s.queue == nil {
		s.queue = make(chan shadowItem, 1024)
	}
	s.idle.L = &s.mu
	s.report.CandidateVersion, s.report.CandidateDigest = candidate.Version, candidate.Digest
	return s
}

// Candidate is the policy being shadowed.
func (s *Shadow) Candidate() *Policy { return s.candidate }

// Observe queues a live request and the active policy's decision for
// comparison. It never blocks: when the queue is full the request is
// dropped and counted.
func (s *Shadow) Observe(in Input, active Decision) {
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	in.Attributes = maps.Clone(in.Attributes) // the caller may reuse its map
	s.mu.Lock()
	s.busy++
	s.mu.Unlock()
	select {
	case s.queue <- shadowItem{in: in, active: active}:
		if s.running.CompareAndSwap(false, true) {
			go s.drain()
		}
	default:
		s.mu.Lock()
		s.report.Dropped++
		s.done()
		s.mu.Unlock()
	}
}

// drain compares queued requests until the queue is empty, then exits, so
// an idle Shadow holds no goroutine.
func (s *Shadow) drain() {
	for {
		select {
		case it := <-s.queue:
			s.Compare(context.Background(), it.in, it.active)
			s.mu.Lock()
			s.done()
			s.mu.Unlock()
		default:
			s.running.Store(false)
			// An Observe may have queued after the empty check but seen
			// running still true; take that work over.
			if len(s.queue) > 0 && s.running.CompareAndSwap(false, true) {
				continue
			}
			return
		}
	}
}

// done marks one observed request handled; s.mu is held.
func (s *Shadow) done() {
	s.busy--
	if s.busy == 0 {
		s.idle.Broadcast()
	}
}

// Compare evaluates in against the candidate now and records the
// difference from active. It returns the candidate's decision.
func (s *Shadow) Compare(ctx context.Context, in Input, active Decision) (Decision, error) {
	cand, err := s.engine.Evaluate(ctx, s.candidate, in)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.report.Observed++
	if err != nil {
		s.report.Errors++
		return Decision{}, err
	}
	if sameDecision(active, cand) {
		s.report.Same++
		return cand, nil
	}
	s.report.Different++
	k := diffKey{active.Effect, cand.Effect, active.Rule, cand.Rule}
	g := s.groups[k]
	if g == nil {
		g = &DiffGroup{ActiveEffect: active.Effect, ActiveRule: active.Rule, CandidateEffect: cand.Effect, CandidateRule: cand.Rule}
		s.groups[k] = g
	}
	g.Count++
	if len(g.Samples) < s.samples {
		g.Samples = append(g.Samples, DiffSample{
			Agent: in.Agent, Action: in.Action, Resource: in.Resource, Time: in.Now,
			ActiveReason: active.Reason, CandidateReason: cand.Reason,
			ActiveApproval: active.Approval, CandidateApproval: cand.Approval,
		})
	}
	return cand, nil
}

// sameDecision reports whether two decisions have the same effect and,
// for approvals, the same requirement.
func sameDecision(a, b Decision) bool {
	if a.Effect != b.Effect {
		return false
	}
	if a.Effect != RequireApproval || a.Approval == nil || b.Approval == nil {
		return true
	}
	x, y := a.Approval, b.Approval
	return x.Capability == y.Capability && x.Quorum == y.Quorum && x.Timeout == y.Timeout &&
		x.OnTimeout == y.OnTimeout && x.AllowDelegator == y.AllowDelegator &&
		slices.Equal(x.Escalation, y.Escalation) && slices.Equal(x.Exclude, y.Exclude)
}

// Flush waits until every observed request has been compared, or ctx is
// done.
func (s *Shadow) Flush(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.idle.Broadcast()
		s.mu.Unlock()
	})
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.busy > 0 && ctx.Err() == nil {
		s.idle.Wait()
	}
	return ctx.Err()
}

// Report returns a copy of the counts so far, groups most frequent first.
func (s *Shadow) Report() ShadowReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.report
	r.Diffs = nil
	for _, g := range s.groups {
		c := *g
		c.Samples = slices.Clone(g.Samples)
		r.Diffs = append(r.Diffs, c)
	}
	slices.SortFunc(r.Diffs, func(a, b DiffGroup) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		if a.ActiveRule != b.ActiveRule {
			if a.ActiveRule < b.ActiveRule {
				return -1
			}
			return 1
		}
		if a.CandidateRule < b.CandidateRule {
			return -1
		}
		if a.CandidateRule > b.CandidateRule {
			return 1
		}
		return 0
	})
	return r
}
