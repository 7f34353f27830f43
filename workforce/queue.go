package workforce

import (
	"bytes"
	"context"
	"crypto/rand"
	"slices"
	"sync"
	"time"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// Keys gives the current verifying keys of a human passport. It returns an
// error if did is unknown in org, revoked, or not a human passport; an
// error wrapping errs.ErrUnavailable means the lookup itself failed.
type Keys interface {
	VerifyingKeys(ctx context.Context, org, did string) ([]passport.PublicKey, error)
}

// Holders lists the humans of org who hold a capability;
// *capability.Graph implements it.
type Holders interface {
	Holders(ctx context.Context, org, capability string) ([]capability.Holder, error)
}

// TeamMembers is an optional extension of [Holders], needed by escalation
// steps that name a team: the humans who are members of team, directly or
// through nested teams, sorted. *capability.Graph implements it.
type TeamMembers interface {
	Members(ctx context.Context, org, team string) ([]string, error)
}

// holdsChecker is the optional one-subject question a Holders may answer
// faster than listing every holder; *capability.Graph implements it.
type holdsChecker interface {
	HasCapability(ctx context.Context, org, subject, capability string) (bool, error)
}

// Recorder attests a vote (v non-nil) or a resolution without a vote (v
// nil, e.g. a timeout) on the ledger.
type Recorder interface {
	Record(ctx context.Context, t *Task, v *Vote) error
}

// pollEvery is how often Wait re-reads the store, so that a decision made
// by another process sharing the store is seen.
const pollEvery = 50 * time.Millisecond

// maxCASRetries bounds compare-and-swap retries under contention.
const maxCASRetries = 64

// defaultLease is how long a queue's claim on delivering an event lasts.
const defaultLease = 30 * time.Second

// maxNotifyAttempts bounds how often one event's notification is retried
// across sweeps before it is given up (the record on the ledger stays).
const maxNotifyAttempts = 5

// Queue is the approval queue: it opens tasks, routes them to capability
// holders, accepts signed votes, fires deadlines, warnings and escalations,
// and delivers every task event to the recorder and notifier. It is safe
// for concurrent use; several Queues (in one process or several) may share
// a store, and each timer fires once among them.
type Queue struct {
	store    Store
	keys     Keys
	holders  Holders
	rec      Recorder
	now      func() time.Time
	notifier Notifier
	routing  Strategy
	lease    time.Duration
	id       string

	mu      sync.Mutex
	changed chan struct{}     // closed and replaced whenever this queue changes a task
	turns   map[string]uint64 // round-robin turns when the store keeps none
}

// Option configures a Queue.
type Option func(*Queue)

// WithNotifier makes the queue tell people about task events through n.
func WithNotifier(n Notifier) Option { return func(q *Queue) { q.notifier = n } }

// WithRouting sets the strategy for specs that name none (default RouteAll).
func WithRouting(s Strategy) Option { return func(q *Queue) { q.routing = s } }

// WithLease sets how long this queue's claim on delivering an event lasts
// before another queue may take over (default 30 s).
func WithLease(d time.Duration) Option { return func(q *Queue) { q.lease = d } }

// WithID names this queue in event claims (default: random). Two live
// queues must never share an ID.
func WithID(id string) Option { return func(q *Queue) { q.id = id } }

// NewQueue returns a queue over store. keys verifies approvers' signatures,
// holders routes tasks, rec (may be nil) attests votes and resolutions, and
// now (nil: time.Now) is the clock for deadlines.
func NewQueue(store Store, keys Keys, holders Holders, rec Recorder, now func() time.Time, opts ...Option) *Queue {
	if now == nil {
		now = time.Now
	}
	q := &Queue{store: store, keys: keys, holders: holders, rec: rec, now: now, changed: make(chan struct{}),
		routing: RouteAll, lease: defaultLease, id: "queue_" + rand.Text(), turns: map[string]uint64{}}
	for _, o := range opts {
		o(q)
	}
	return q
}

// ID is the name this queue claims events under.
func (q *Queue) ID() string { return q.id }

func (q *Queue) notify() {
	q.mu.Lock()
	close(q.changed)
	q.changed = make(chan struct{})
	q.mu.Unlock()
}

func (q *Queue) subscribe() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.changed
}

func required(field, v string) error {
	if v == "" {
		return errs.Errorf(errs.ErrInvalidArgument, "workforce: %s is empty", field)
	}
	return nil
}

// warnBefore is how long before a deadline of a step of timeout d the
// warning fires.
func (s *Spec) warnBefore(d time.Duration) time.Duration {
	if s.WarnBefore > 0 && s.WarnBefore < d {
		return s.WarnBefore
	}
	return d / 5
}

// Open creates a task for s and routes its first step. The candidates are
// the humans holding s.Capability, minus s.Agent, minus s.Requester unless
// s.AllowDelegator, minus s.Exclude and anyone away; a routing strategy
// then assigns the task to s.Quorum of them (state Assigned) or offers it
// to all (state Pending). A quorum of 0 means 1. It returns
// errs.ErrInvalidArgument for a malformed spec, and
// errs.ErrFailedPrecondition ("no eligible approver") when fewer candidates
// than the quorum remain: the caller must then deny, failing closed.
//
// The task's opened event is delivered (to the notifier and event
// recorder) by the next [Queue.ExpireDue] sweep, so Open never waits on a
// webhook.
func (q *Queue) Open(ctx context.Context, s Spec) (*Task, error) {
	for _, f := range []struct{ name, v string }{
		{"spec org", s.Org}, {"spec agent", s.Agent}, {"spec action", s.Action}, {"spec capability", s.Capability},
	} {
		if err := required(f.name, f.v); err != nil {
			return nil, err
		}
	}
	if s.Quorum < 0 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "workforce: spec quorum %d is negative", s.Quorum)
	}
	s.Quorum = max(s.Quorum, 1)
	if s.Timeout <= 0 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "workforce: spec timeout %v must be positive", s.Timeout)
	}
	if s.WarnBefore < 0 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "workforce: spec warn_before %v is negative", s.WarnBefore)
	}
	switch s.OnTimeout {
	case "":
		s.OnTimeout = OnTimeoutDeny
	case OnTimeoutDeny, OnTimeoutEscalate:
	default:
		return nil, errs.Errorf(errs.ErrInvalidArgument, "workforce: spec on_timeout %q, want %q or %q", s.OnTimeout, OnTimeoutDeny, OnTimeoutEscalate)
	}
	if !s.Routing.Valid() {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "workforce: spec routing %q, want %q, %q, %q or %q", s.Routing, RouteAll, LeastLoaded, RoundRobin, HighestLevel)
	}
	total := s.Timeout
	for i, st := range s.Escalation {
		if st.Capability == "" && st.Team == "" {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "workforce: escalation step %d names neither a capability nor a team", i+1)
		}
		if st.Timeout <= 0 {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "workforce: escalation step %d timeout %v must be positive", i+1, st.Timeout)
		}
		total += st.Timeout
	}
	for _, h := range s.Exclude {
		if h == "" {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "workforce: spec exclude has an empty entry")
		}
	}
	_, attrs, err := canonicalAttributes(s.Attributes)
	if err != nil {
		return nil, err
	}
	s.Attributes = attrs

	st, err := q.route(ctx, &s, s.Capability, "", true)
	if err != nil {
		return nil, err
	}
	now := q.now().UTC()
	st.Started, st.Deadline = now, now.Add(s.Timeout)
	st.WarnAt = st.Deadline.Add(-s.warnBefore(s.Timeout))
	t := &Task{
		ID: "tsk_" + rand.Text(), Spec: s, Candidates: st.Candidates, Assignees: st.Assignees, State: Pending,
		CreatedAt: now, Deadline: now.Add(total), Version: 1, Stages: []Stage{st},
	}
	if len(st.Assignees) > 0 {
		t.State = Assigned
	}
	t.addEvent(Event{Type: EventOpened, At: now, Recipients: st.Voters()})
	t.Wake = t.nextWake()
	if t.Digest, err = t.ComputeDigest(); err != nil {
		return nil, err
	}
	if err := q.store.Create(ctx, t); err != nil {
		return nil, err
	}
	q.notify()
	return t, nil
}

// Get returns the task after verifying it: its digest must match its
// content and every stored vote must verify, as in Decide, and back its
// state. A task that fails is errs.ErrUnauthenticated. Get never changes a
// task; an overdue task stays open until Wait, Decide or ExpireDue fires
// its timers.
func (q *Queue) Get(ctx context.Context, org, taskID string) (*Task, error) {
	if err := required("org", org); err != nil {
		return nil, err
	}
	if err := required("task id", taskID); err != nil {
		return nil, err
	}
	t, err := q.store.Get(ctx, org, taskID)
	if err != nil {
		return nil, err
	}
	if err := q.verify(ctx, t); err != nil {
		return nil, err
	}
	return t, nil
}

// verify checks a task read from the store.
func (q *Queue) verify(ctx context.Context, t *Task) error {
	d, err := t.ComputeDigest()
	if err != nil {
		return err
	}
	if !bytes.Equal(d, t.Digest) {
		return errs.Errorf(errs.ErrUnauthenticated, "workforce: task %s: stored content does not match its digest", t.ID)
	}
	if len(t.Stages) == 0 || t.Step < 0 || t.Step >= len(t.Stages) || len(t.Stages) > 1+len(t.Escalation) ||
		!slices.Equal(t.Candidates, t.Stages[t.Step].Candidates) || !slices.Equal(t.Assignees, t.Stages[t.Step].Assignees) {
		return errs.Errorf(errs.ErrUnauthenticated, "workforce: task %s: stored stages are inconsistent", t.ID)
	}
	seen := map[string]bool{}
	for i, v := range t.Approvals {
		if v.Step < 0 || v.Step >= len(t.Stages) {
			return errs.Errorf(errs.ErrUnauthenticated, "workforce: task %s: stored vote %d names step %d", t.ID, i, v.Step)
		}
		a, err := q.checkVote(ctx, t, v.Envelope, v.Step)
		if err != nil {
			if errs.Kind(err) == errs.ErrUnavailable {
				return err
			}
			return errs.Errorf(errs.ErrUnauthenticated, "workforce: task %s: stored vote %d does not verify: %v", t.ID, i, err)
		}
		if a.Approver != v.Approver || a.Verdict != v.Verdict || seen[a.Approver] {
			return errs.Errorf(errs.ErrUnauthenticated, "workforce: task %s: stored vote %d does not match its envelope or repeats an approver", t.ID, i)
		}
		seen[a.Approver] = true
	}
	want := t.tally()
	ok := t.State == want
	if want == Pending {
		ok = t.State.Open() || t.State == TimedOut || t.State == Cancelled
	}
	if !ok {
		return errs.Errorf(errs.ErrUnauthenticated, "workforce: task %s: stored state %s is not what its %d verified votes give (%s)",
			t.ID, t.State, len(t.Approvals), want)
	}
	return nil
}

// checkVote decodes env and checks it is a vote on t, signed under one of
// the approver's current keys, by someone allowed to decide t at step.
func (q *Queue) checkVote(ctx context.Context, t *Task, env *passport.Envelope, step int) (Approval, error) {
	a, err := DecodeVote(env)
	if err != nil {
		return Approval{}, err
	}
	if a.Task != t.ID {
		return Approval{}, errs.Errorf(errs.ErrUnauthenticated, "workforce: vote is for task %q, not %q", a.Task, t.ID)
	}
	if a.Digest != t.DigestHex() {
		return Approval{}, errs.Errorf(errs.ErrUnauthenticated, "workforce: vote signs digest %s, but task %s has digest %s (the task changed or the vote is for other content)",
			a.Digest, t.ID, t.DigestHex())
	}
	if err := q.verifiedBy(ctx, t.Org, a.Approver, env); err != nil {
		return Approval{}, err
	}
	switch {
	case a.Approver == t.Agent:
		return Approval{}, errs.Errorf(errs.ErrPermissionDenied, "workforce: %q is the requesting agent and cannot approve its own task", a.Approver)
	case a.Approver == t.Requester && !t.AllowDelegator:
		return Approval{}, errs.Errorf(errs.ErrPermissionDenied, "workforce: %q delegated to the requesting agent and the policy does not let them approve", a.Approver)
	case slices.Contains(t.Exclude, a.Approver):
		return Approval{}, errs.Errorf(errs.ErrPermissionDenied, "workforce: the policy excludes %q from approving task %s", a.Approver, t.ID)
	}
	if !slices.Contains(t.Stages[step].Voters(), a.Approver) {
		for i := range step {
			if slices.Contains(t.Stages[i].Voters(), a.Approver) {
				return Approval{}, errs.Errorf(errs.ErrFailedPrecondition, "workforce: %q was an approver of step %d of task %s, whose deadline passed; the task escalated to step %d",
					a.Approver, i, t.ID, step)
			}
		}
		return Approval{}, errs.Errorf(errs.ErrPermissionDenied, "workforce: %q is not an approver of task %s at step %d", a.Approver, t.ID, step)
	}
	return a, nil
}

// stillQualified checks that approver still holds what step st asks.
func (q *Queue) stillQualified(ctx context.Context, org, approver string, st Stage) error {
	if st.Capability != "" {
		var ok bool
		if hc, isChecker := q.holders.(holdsChecker); isChecker {
			var err error
			if ok, err = hc.HasCapability(ctx, org, approver, st.Capability); err != nil {
				return err
			}
		} else {
			hs, err := q.holders.Holders(ctx, org, st.Capability)
			if err != nil {
				return err
			}
			ok = slices.ContainsFunc(hs, func(h capability.Holder) bool { return h.Subject == approver })
		}
		if !ok {
			return errs.Errorf(errs.ErrPermissionDenied, "workforce: %q no longer holds %q in org %q", approver, st.Capability, org)
		}
	}
	if st.Team != "" {
		tm, ok := q.holders.(TeamMembers)
		if !ok {
			return errs.Errorf(errs.ErrFailedPrecondition, "workforce: cannot check membership of team %q", st.Team)
		}
		members, err := tm.Members(ctx, org, st.Team)
		if err != nil {
			return err
		}
		if !slices.Contains(members, approver) {
			return errs.Errorf(errs.ErrPermissionDenied, "workforce: %q is no longer a member of team %q in org %q", approver, st.Team, org)
		}
	}
	return nil
}

// Decide records a signed vote on a task and returns the updated task.
//
// A vote that is malformed is errs.ErrInvalidArgument; one that does not
// verify under the approver's current keys, or is for another task or other
// content, errs.ErrUnauthenticated; one by the agent, by the requester
// (unless allowed), by an excluded human, by a non-candidate or by a
// candidate who no longer holds the capability, errs.ErrPermissionDenied; a
// second vote (or a replay) by the same approver, errs.ErrConflict. A task
// that is no longer open is errs.ErrFailedPrecondition; so is a vote after
// its step's deadline: Decide fires the task's due timers first (escalating
// or timing it out), and a vote by an approver of a step that has passed is
// refused. A refused vote changes nothing and, when the Recorder is an
// [EventRecorder], is attested as refused.
//
// Any valid deny resolves the task Denied; approvals by distinct approvers
// reaching the quorum resolve it Approved. If the Recorder fails after the
// vote is stored, Decide returns the task and that error; the vote's record
// is retried by a later sweep ([Queue.ExpireDue]) once this queue's claim
// lapses, so a crash between "quorum reached" and "outcome recorded" is
// resumed with the same outcome.
func (q *Queue) Decide(ctx context.Context, org, taskID string, vote *passport.Envelope) (*Task, error) {
	t, err := q.Get(ctx, org, taskID)
	if err != nil {
		return nil, err
	}
	for range maxCASRetries {
		// Due timers fire first: a vote after its step's deadline must meet
		// the escalated or timed-out task, whoever else is sweeping.
		if t.timerDue(q.now()) {
			if t, err = q.fire(ctx, t); err != nil {
				return t, err
			}
		}
		if !t.State.Open() {
			return t, q.refuse(ctx, t, vote, errs.Errorf(errs.ErrFailedPrecondition, "workforce: task %s is already %s", t.ID, t.State))
		}
		a, err := q.checkVote(ctx, t, vote, t.Step)
		if err != nil {
			if errs.Kind(err) == errs.ErrUnavailable {
				return nil, err
			}
			return nil, q.refuse(ctx, t, vote, err)
		}
		if err := q.stillQualified(ctx, org, a.Approver, t.stage()); err != nil {
			if errs.Kind(err) == errs.ErrUnavailable {
				return nil, err
			}
			return nil, q.refuse(ctx, t, vote, err)
		}
		if t.hasVoted(a.Approver) {
			return nil, q.refuse(ctx, t, vote, errs.Errorf(errs.ErrConflict, "workforce: %q has already voted on task %s", a.Approver, t.ID))
		}
		now := q.now().UTC()
		nt := t.Clone()
		nt.Approvals = append(nt.Approvals, Vote{Approver: a.Approver, Verdict: a.Verdict, Envelope: vote, At: now, Step: t.Step})
		state := nt.tally()
		if state != Pending {
			nt.State, nt.ResolvedAt = state, now
		}
		nt.addEvent(Event{Type: EventVote, At: now, Vote: len(nt.Approvals), Owner: q.id, Until: now.Add(q.lease)})
		nt.Wake = nt.nextWake()
		err = q.store.Update(ctx, nt, t.Version)
		if errs.Kind(err) == errs.ErrConflict {
			if t, err = q.Get(ctx, org, taskID); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		q.notify()
		return q.deliver(ctx, nt, map[int]bool{len(nt.Events): true})
	}
	return nil, errs.Errorf(errs.ErrUnavailable, "workforce: task %s: too much contention, vote not recorded; retry", taskID)
}

// refuse attests a refused vote (when the recorder can) and returns reason.
func (q *Queue) refuse(ctx context.Context, t *Task, vote *passport.Envelope, reason error) error {
	if er, ok := q.rec.(EventRecorder); ok && vote != nil {
		if _, err := DecodeVote(vote); err == nil {
			if err := er.RecordRefusal(ctx, t, vote, reason); err != nil {
				return errs.Errorf(errs.Kind(reason), "%w (and the refusal was not attested: %v)", reason, err)
			}
		}
	}
	return reason
}

// Cancel withdraws an open task (the requesting side no longer needs the
// action). The task resolves Cancelled, which never lets the action
// proceed. A task already final is errs.ErrFailedPrecondition.
func (q *Queue) Cancel(ctx context.Context, org, taskID, reason string) (*Task, error) {
	t, err := q.Get(ctx, org, taskID)
	if err != nil {
		return nil, err
	}
	for range maxCASRetries {
		if !t.State.Open() {
			return t, errs.Errorf(errs.ErrFailedPrecondition, "workforce: task %s is already %s", t.ID, t.State)
		}
		now := q.now().UTC()
		nt := t.Clone()
		nt.State, nt.ResolvedAt, nt.Resolution = Cancelled, now, reason
		nt.addEvent(Event{Type: EventCancelled, At: now, Detail: reason, Recipients: nt.Voters(), Owner: q.id, Until: now.Add(q.lease)})
		nt.Wake = nt.nextWake()
		err := q.store.Update(ctx, nt, t.Version)
		if errs.Kind(err) == errs.ErrConflict {
			if t, err = q.Get(ctx, org, taskID); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		q.notify()
		return q.deliver(ctx, nt, map[int]bool{len(nt.Events): true})
	}
	return nil, errs.Errorf(errs.ErrUnavailable, "workforce: task %s: too much contention to cancel; retry", taskID)
}

// Wait blocks until the task is final and returns it. Deadlines passing
// escalate the task or resolve it TimedOut (fail closed). Decisions by
// this queue wake Wait at once; decisions by other processes sharing the
// store are seen by polling every 50 ms. If ctx ends first, Wait returns an
// error wrapping errs.ErrUnavailable and ctx.Err().
func (q *Queue) Wait(ctx context.Context, org, taskID string) (*Task, error) {
	for {
		changed := q.subscribe()
		t, err := q.Get(ctx, org, taskID)
		if err != nil {
			return nil, err
		}
		if t.due(q.now()) {
			if t, err = q.fire(ctx, t); err != nil {
				return t, err
			}
		}
		if t.State.Final() {
			return t, nil
		}
		timer := time.NewTimer(pollEvery)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, errs.Errorf(errs.ErrUnavailable, "workforce: waiting for task %s: %w", taskID, ctx.Err())
		case <-changed:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// Inbox returns the open tasks of org that human may vote on now (a voter
// of the current step) and has not voted on, whose step deadline has not
// passed, oldest first. Every task is verified as by Get.
func (q *Queue) Inbox(ctx context.Context, org, human string) ([]*Task, error) {
	if err := required("org", org); err != nil {
		return nil, err
	}
	if err := required("human", human); err != nil {
		return nil, err
	}
	var open []*Task
	for _, s := range OpenStates {
		ts, err := q.store.List(ctx, org, s, 0)
		if err != nil {
			return nil, err
		}
		open = append(open, ts...)
	}
	slices.SortFunc(open, func(a, b *Task) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return compareStrings(a.ID, b.ID)
	})
	now := q.now()
	var out []*Task
	for _, t := range open {
		if !slices.Contains(t.Voters(), human) || t.hasVoted(human) || !now.Before(t.StageDeadline()) {
			continue
		}
		if err := q.verify(ctx, t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}
