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

// Queue is the approval queue: it opens tasks, routes them to capability
// holders, accepts signed votes and resolves tasks. It is safe for
// concurrent use; several Queues (in one process or several) may share a
// store.
type Queue struct {
	store   Store
	keys    Keys
	holders Holders
	rec     Recorder
	now     func() time.Time

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever this queue changes a task
}

// NewQueue returns a queue over store. keys verifies approvers' signatures,
// holders routes tasks, rec (may be nil) attests votes and resolutions, and
// now (nil: time.Now) is the clock for deadlines.
func NewQueue(store Store, keys Keys, holders Holders, rec Recorder, now func() time.Time) *Queue {
	if now == nil {
		now = time.Now
	}
	return &Queue{store: store, keys: keys, holders: holders, rec: rec, now: now, changed: make(chan struct{})}
}

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

// Open creates a pending task for s and routes it. The candidates are the
// humans holding s.Capability, minus s.Agent, minus s.Requester unless
// s.AllowDelegator. A quorum of 0 means 1. It returns errs.ErrInvalidArgument
// for a malformed spec, and errs.ErrFailedPrecondition ("no eligible
// approver") when fewer candidates than the quorum remain: the caller must
// then deny, failing closed.
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
	switch s.OnTimeout {
	case "":
		s.OnTimeout = OnTimeoutDeny
	case OnTimeoutDeny, OnTimeoutEscalate:
	default:
		return nil, errs.Errorf(errs.ErrInvalidArgument, "workforce: spec on_timeout %q, want %q or %q", s.OnTimeout, OnTimeoutDeny, OnTimeoutEscalate)
	}
	_, attrs, err := canonicalAttributes(s.Attributes)
	if err != nil {
		return nil, err
	}
	s.Attributes = attrs

	holders, err := q.holders.Holders(ctx, s.Org, s.Capability)
	if err != nil {
		return nil, err
	}
	var candidates []string
	for _, h := range holders {
		if h.Subject == s.Agent || (h.Subject == s.Requester && !s.AllowDelegator) || slices.Contains(candidates, h.Subject) {
			continue
		}
		candidates = append(candidates, h.Subject)
	}
	slices.Sort(candidates)
	if len(candidates) == 0 {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "workforce: no eligible approver holds %q in org %q (%d holders, the agent and requester excluded)",
			s.Capability, s.Org, len(holders))
	}
	if len(candidates) < s.Quorum {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "workforce: quorum %d for %q cannot be met: only %d eligible approvers in org %q",
			s.Quorum, s.Capability, len(candidates), s.Org)
	}
	now := q.now().UTC()
	t := &Task{
		ID: "tsk_" + rand.Text(), Spec: s, Candidates: candidates, State: Pending,
		CreatedAt: now, Deadline: now.Add(s.Timeout), Version: 1,
	}
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
// task; an overdue task stays Pending until Wait, Decide or ExpireDue
// resolves it.
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
	seen := map[string]bool{}
	for i, v := range t.Approvals {
		a, err := q.checkVote(ctx, t, v.Envelope)
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
		ok = t.State == Pending || t.State == TimedOut || t.State == Cancelled
	}
	if !ok {
		return errs.Errorf(errs.ErrUnauthenticated, "workforce: task %s: stored state %s is not what its %d verified votes give (%s)",
			t.ID, t.State, len(t.Approvals), want)
	}
	return nil
}

// checkVote decodes env and checks it is a vote on t, signed under one of
// the approver's current keys, by someone allowed to decide t.
func (q *Queue) checkVote(ctx context.Context, t *Task, env *passport.Envelope) (Approval, error) {
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
	keys, err := q.keys.VerifyingKeys(ctx, t.Org, a.Approver)
	if err != nil {
		if k := errs.Kind(err); k == errs.ErrUnavailable || k == errs.ErrPermissionDenied {
			return Approval{}, err
		}
		return Approval{}, errs.Errorf(errs.ErrUnauthenticated, "workforce: no verifying keys for approver %q: %v", a.Approver, err)
	}
	verified := false
	for _, k := range keys {
		if env.VerifiedBy(k) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return Approval{}, errs.Errorf(errs.ErrUnauthenticated, "workforce: vote is not signed by any current key of approver %q", a.Approver)
	}
	switch {
	case a.Approver == t.Agent:
		return Approval{}, errs.Errorf(errs.ErrPermissionDenied, "workforce: %q is the requesting agent and cannot approve its own task", a.Approver)
	case a.Approver == t.Requester && !t.AllowDelegator:
		return Approval{}, errs.Errorf(errs.ErrPermissionDenied, "workforce: %q delegated to the requesting agent and the policy does not let them approve", a.Approver)
	case !slices.Contains(t.Candidates, a.Approver):
		return Approval{}, errs.Errorf(errs.ErrPermissionDenied, "workforce: %q is not an approver of task %s (it was routed to holders of %q)", a.Approver, t.ID, t.Capability)
	}
	return a, nil
}

// Decide records a signed vote on a task and returns the updated task.
//
// A vote that is malformed is errs.ErrInvalidArgument; one that does not
// verify under the approver's current keys, or is for another task or other
// content, errs.ErrUnauthenticated; one by the agent, by the requester
// (unless allowed), by a non-candidate or by a candidate who no longer holds
// the capability, errs.ErrPermissionDenied; a second vote (or a replay) by
// the same approver, errs.ErrConflict. A task that is no longer pending is
// errs.ErrFailedPrecondition; so is one past its deadline, which Decide
// resolves as TimedOut first. A rejected vote changes nothing.
//
// Any valid deny resolves the task Denied; approvals by distinct approvers
// reaching the quorum resolve it Approved. If the Recorder fails after the
// vote is stored, Decide returns the task and that error.
func (q *Queue) Decide(ctx context.Context, org, taskID string, vote *passport.Envelope) (*Task, error) {
	t, err := q.Get(ctx, org, taskID)
	if err != nil {
		return nil, err
	}
	if t, err := q.resolveIfOver(ctx, t); err != nil {
		return t, err
	}
	a, err := q.checkVote(ctx, t, vote)
	if err != nil {
		return nil, err
	}
	holders, err := q.holders.Holders(ctx, org, t.Capability)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(holders, func(h capability.Holder) bool { return h.Subject == a.Approver }) {
		return nil, errs.Errorf(errs.ErrPermissionDenied, "workforce: %q no longer holds %q in org %q", a.Approver, t.Capability, org)
	}
	for range maxCASRetries {
		if t, err := q.resolveIfOver(ctx, t); err != nil {
			return t, err
		}
		if t.hasVoted(a.Approver) {
			return nil, errs.Errorf(errs.ErrConflict, "workforce: %q has already voted on task %s", a.Approver, t.ID)
		}
		now := q.now().UTC()
		v := Vote{Approver: a.Approver, Verdict: a.Verdict, Envelope: vote, At: now}
		nt := t.Clone()
		nt.Approvals = append(nt.Approvals, v)
		if nt.State = nt.tally(); nt.State != Pending {
			nt.ResolvedAt = now
		}
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
		if q.rec != nil {
			if err := q.rec.Record(ctx, nt, &nt.Approvals[len(nt.Approvals)-1]); err != nil {
				return nt, errs.Errorf(errs.ErrUnavailable, "workforce: vote on task %s stored but not attested: %w", nt.ID, err)
			}
		}
		return nt, nil
	}
	return nil, errs.Errorf(errs.ErrUnavailable, "workforce: task %s: too much contention, vote not recorded; retry", taskID)
}

// resolveIfOver returns a nil error if t is pending and within its
// deadline. Otherwise it returns ErrFailedPrecondition, timing the task out
// first if it was pending past its deadline.
func (q *Queue) resolveIfOver(ctx context.Context, t *Task) (*Task, error) {
	if t.State != Pending {
		return t, errs.Errorf(errs.ErrFailedPrecondition, "workforce: task %s is already %s", t.ID, t.State)
	}
	if q.now().Before(t.Deadline) {
		return t, nil
	}
	rt, _, err := q.expire(ctx, t)
	if err != nil {
		return rt, err
	}
	return rt, errs.Errorf(errs.ErrFailedPrecondition, "workforce: task %s passed its deadline %s and is %s", t.ID, t.Deadline.Format(time.RFC3339), rt.State)
}

// expire resolves a pending, overdue task as TimedOut (compare-and-swap,
// re-reading on conflict) and returns the task as it now stands, which may
// have been resolved otherwise by a concurrent writer; timedOut reports
// whether this call made the change.
func (q *Queue) expire(ctx context.Context, t *Task) (_ *Task, timedOut bool, _ error) {
	for range maxCASRetries {
		if t.State != Pending || q.now().Before(t.Deadline) {
			return t, false, nil
		}
		nt := t.Clone()
		nt.State = TimedOut
		nt.ResolvedAt = q.now().UTC()
		err := q.store.Update(ctx, nt, t.Version)
		if errs.Kind(err) == errs.ErrConflict {
			if t, err = q.store.Get(ctx, t.Org, t.ID); err != nil {
				return nil, false, err
			}
			continue
		}
		if err != nil {
			return nil, false, err
		}
		q.notify()
		if q.rec != nil {
			if err := q.rec.Record(ctx, nt, nil); err != nil {
				return nt, true, errs.Errorf(errs.ErrUnavailable, "workforce: task %s timed out but the timeout was not attested: %w", nt.ID, err)
			}
		}
		return nt, true, nil
	}
	return nil, false, errs.Errorf(errs.ErrUnavailable, "workforce: task %s: too much contention to time it out; retry", t.ID)
}

// Wait blocks until the task is no longer pending and returns it. A
// deadline passing resolves the task TimedOut (fail closed). Decisions by
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
		if t.State != Pending {
			return t, nil
		}
		if !q.now().Before(t.Deadline) {
			rt, _, err := q.expire(ctx, t)
			return rt, err
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

// dueBatch is how many overdue tasks ExpireDue reads at a time.
const dueBatch = 100

// ExpireDue resolves every pending task, of every org, whose deadline has
// passed as TimedOut, and returns how many it resolved.
func (q *Queue) ExpireDue(ctx context.Context) (int, error) {
	n := 0
	for {
		due, err := q.store.Due(ctx, q.now(), dueBatch)
		if err != nil {
			return n, err
		}
		progress := false
		for _, t := range due {
			rt, timedOut, err := q.expire(ctx, t)
			if timedOut {
				n++
			}
			if err != nil {
				return n, err
			}
			if rt.State != Pending {
				progress = true
			}
		}
		if len(due) < dueBatch || !progress {
			return n, nil
		}
	}
}

// Inbox returns the pending tasks of org routed to human that they have
// not voted on and whose deadline has not passed, oldest first. Every task
// is verified as by Get.
func (q *Queue) Inbox(ctx context.Context, org, human string) ([]*Task, error) {
	if err := required("org", org); err != nil {
		return nil, err
	}
	if err := required("human", human); err != nil {
		return nil, err
	}
	pending, err := q.store.List(ctx, org, Pending, 0)
	if err != nil {
		return nil, err
	}
	now := q.now()
	var out []*Task
	for _, t := range pending {
		if !slices.Contains(t.Candidates, human) || t.hasVoted(human) || !now.Before(t.Deadline) {
			continue
		}
		if err := q.verify(ctx, t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}
