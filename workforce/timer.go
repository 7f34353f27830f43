package workforce

import (
	"context"
	"fmt"
	"time"

	"github.com/humanos/human/errs"
)

// addEvent appends e to t's outbox with the next sequence number, the
// task's current step and (unless set) its current state.
func (t *Task) addEvent(e Event) {
	e.Seq = len(t.Events) + 1
	e.Step = t.Step
	if e.State == "" {
		e.State = t.State
	}
	t.Events = append(t.Events, e)
}

// nextWake is when a queue must next look at t: the current step's warning
// or deadline while open, and any undelivered event (at once if unclaimed,
// when its claim lapses otherwise). Zero: never.
func (t *Task) nextWake() time.Time {
	var w time.Time
	consider := func(x time.Time) {
		if w.IsZero() || x.Before(w) {
			w = x
		}
	}
	if t.State.Open() && len(t.Stages) > 0 {
		st := t.stage()
		consider(st.Deadline)
		if !st.Warned {
			consider(st.WarnAt)
		}
	}
	for _, e := range t.Events {
		if e.Delivered() {
			continue
		}
		if e.Owner == "" {
			consider(e.At)
		} else {
			consider(e.Until)
		}
	}
	return w
}

// due reports whether t has a timer or delivery due at now.
func (t *Task) due(now time.Time) bool { return !t.Wake.IsZero() && !now.Before(t.Wake) }

// timerDue reports whether an open t has a warning or deadline due at now.
func (t *Task) timerDue(now time.Time) bool {
	if !t.State.Open() || len(t.Stages) == 0 {
		return false
	}
	st := t.stage()
	return !now.Before(st.Deadline) || (!st.Warned && !now.Before(st.WarnAt))
}

// stepDeadline is the deadline of step k: the spec's timeout plus the
// timeouts of escalation steps 1..k, from CreatedAt. It depends only on
// the digest-covered content, so it is the same in every process.
func (t *Task) stepDeadline(k int) time.Time {
	d := t.CreatedAt.Add(t.Timeout)
	for i := 0; i < k && i < len(t.Escalation); i++ {
		d = d.Add(t.Escalation[i].Timeout)
	}
	return d
}

// advance applies to t (a copy the caller will compare-and-swap) every
// timer due at now: warnings, escalations along the chain, and the final
// timeout. New events are claimed by this queue. It reports whether t
// changed and whether this made it TimedOut.
func (q *Queue) advance(ctx context.Context, t *Task, now time.Time) (changed, timedOut bool, _ error) {
	claim := func(e Event) Event {
		e.Owner, e.Until = q.id, now.Add(q.lease)
		return e
	}
	for t.State.Open() {
		st := &t.Stages[t.Step]
		if now.Before(st.Deadline) {
			if !st.Warned && !now.Before(st.WarnAt) {
				st.Warned = true
				var left []string
				for _, h := range st.Voters() {
					if !t.hasVoted(h) {
						left = append(left, h)
					}
				}
				t.addEvent(claim(Event{Type: EventWarning, At: now, Recipients: left,
					Detail: fmt.Sprintf("step %d deadline %s", t.Step, st.Deadline.Format(time.RFC3339))}))
				changed = true
			}
			return changed, false, nil
		}
		changed = true
		var skipped []string
		next := t.Step + 1
		for ; next <= len(t.Escalation); next++ {
			step := t.Escalation[next-1]
			stg, err := q.route(ctx, &t.Spec, step.Capability, step.Team, true)
			if errs.Kind(err) == errs.ErrFailedPrecondition {
				skipped = append(skipped, fmt.Sprintf("step %d: %v", next, err))
				continue
			}
			if err != nil {
				return false, false, err
			}
			stg.Started, stg.Deadline = t.stepDeadline(next-1), t.stepDeadline(next)
			stg.WarnAt = stg.Deadline.Add(-t.Spec.warnBefore(step.Timeout))
			// Steps passed over without eligible approvers keep their place
			// in the chain; stages are indexed by step.
			for len(t.Stages) < next {
				t.Stages = append(t.Stages, Stage{Capability: t.Escalation[len(t.Stages)-1].Capability, Team: t.Escalation[len(t.Stages)-1].Team,
					Candidates: []string{}, Started: t.stepDeadline(len(t.Stages) - 1), Deadline: t.stepDeadline(len(t.Stages)), Warned: true})
			}
			t.Stages = append(t.Stages, stg)
			t.Step = next
			t.Candidates, t.Assignees = stg.Candidates, stg.Assignees
			t.State = Escalated
			detail := fmt.Sprintf("step %d deadline passed; escalated to step %d", next-1, next)
			for _, s := range skipped {
				detail += "; skipped " + s
			}
			t.addEvent(claim(Event{Type: EventEscalated, At: now, Recipients: stg.Voters(), Detail: detail}))
			break
		}
		if next > len(t.Escalation) {
			t.State, t.ResolvedAt = TimedOut, now
			t.Resolution = fmt.Sprintf("no decision by the deadline of step %d (%s); failing closed", t.Step, t.stepDeadline(t.Step).Format(time.RFC3339))
			for _, s := range skipped {
				t.Resolution += "; escalation " + s
			}
			t.addEvent(claim(Event{Type: EventTimedOut, At: now, Recipients: t.Voters(), Detail: t.Resolution}))
			return true, true, nil
		}
	}
	return changed, false, nil
}

// fire runs t's due timers and claims its undelivered events whose claim
// has lapsed (compare-and-swap, re-reading on conflict), then delivers what
// this queue claimed. It returns the task as it now stands.
func (q *Queue) fire(ctx context.Context, t *Task) (*Task, error) {
	rt, _, err := q.fireCounting(ctx, t)
	return rt, err
}

func (q *Queue) fireCounting(ctx context.Context, t *Task) (*Task, bool, error) {
	for range maxCASRetries {
		now := q.now().UTC()
		nt := t.Clone()
		changed, timedOut, err := q.advance(ctx, nt, now)
		if err != nil {
			return t, false, err
		}
		// Claim what this call will deliver: events advance just added, and
		// undelivered events whose claim has lapsed (or never existed). An
		// event under a live claim, even this queue's, is being delivered
		// by someone else (perhaps another goroutine of this queue).
		claimed := map[int]bool{}
		for i := range nt.Events {
			e := &nt.Events[i]
			if e.Delivered() {
				continue
			}
			if i >= len(t.Events) || e.Owner == "" || !now.Before(e.Until) {
				e.Owner, e.Until = q.id, now.Add(q.lease)
				claimed[e.Seq] = true
				changed = true
			}
		}
		if !changed {
			return t, false, nil
		}
		nt.Wake = nt.nextWake()
		err = q.store.Update(ctx, nt, t.Version)
		if errs.Kind(err) == errs.ErrConflict {
			if t, err = q.Get(ctx, t.Org, t.ID); err != nil {
				return nil, false, err
			}
			continue
		}
		if err != nil {
			return t, false, err
		}
		q.notify()
		if len(claimed) > 0 {
			rt, err := q.deliver(ctx, nt, claimed)
			return rt, timedOut, err
		}
		return nt, timedOut, nil
	}
	return t, false, errs.Errorf(errs.ErrUnavailable, "workforce: task %s: too much contention to fire its timers; retry", t.ID)
}

// delivery is what delivering one event achieved.
type delivery struct {
	seq                      int
	recorded, notified, fail bool
}

// deliver attests and notifies the events of t with the given sequence
// numbers, which the caller has just claimed in its own compare-and-swap,
// then marks them (compare-and-swap on a fresh read). It returns the task
// as stored after marking and the first delivery error.
func (q *Queue) deliver(ctx context.Context, t *Task, seqs map[int]bool) (*Task, error) {
	var done []delivery
	var first error
	for _, e := range t.Events {
		if e.Delivered() || !seqs[e.Seq] {
			continue
		}
		d := delivery{seq: e.Seq, recorded: e.Recorded, notified: e.Notified}
		if !d.recorded {
			if err := q.record(ctx, t, e); err != nil {
				if first == nil {
					first = errs.Errorf(errs.ErrUnavailable, "workforce: task %s: %s event stored but not attested: %w", t.ID, e.Type, err)
				}
				continue // not notified either: notices follow the record
			}
			d.recorded = true
		}
		if !d.notified {
			if q.notifier == nil {
				d.notified = true
			} else if err := q.notifier.Notify(ctx, notice(t, e)); err != nil {
				d.fail = true
			} else {
				d.notified = true
			}
		}
		done = append(done, d)
	}
	if len(done) == 0 {
		return t, first
	}
	cur := t
	for range maxCASRetries {
		nt := cur.Clone()
		for _, d := range done {
			e := &nt.Events[d.seq-1]
			e.Recorded = e.Recorded || d.recorded
			e.Notified = e.Notified || d.notified
			if d.fail {
				e.Attempts++
				if e.Attempts >= maxNotifyAttempts {
					e.Notified = true // given up; the ledger record stands
				}
			}
			if e.Delivered() || d.fail {
				e.Owner, e.Until = "", time.Time{}
				if d.fail && !e.Delivered() {
					// Retry the notice after a lease, from any queue.
					e.Owner, e.Until = q.id, q.now().UTC().Add(q.lease)
				}
			}
		}
		nt.Wake = nt.nextWake()
		err := q.store.Update(ctx, nt, cur.Version)
		if errs.Kind(err) == errs.ErrConflict {
			c, gerr := q.store.Get(ctx, t.Org, t.ID)
			if gerr != nil {
				return t, gerr
			}
			cur = c
			continue
		}
		if err != nil {
			return t, err
		}
		return nt, first
	}
	return t, errs.Errorf(errs.ErrUnavailable, "workforce: task %s: too much contention to mark events delivered", t.ID)
}

// record attests event e of t through the Recorder (votes and
// resolutions) or the EventRecorder (the rest).
func (q *Queue) record(ctx context.Context, t *Task, e Event) error {
	if q.rec == nil {
		return nil
	}
	snap := *t
	snap.State = e.State
	switch e.Type {
	case EventVote:
		if e.Vote < 1 || e.Vote > len(t.Approvals) {
			return errs.Errorf(errs.ErrFailedPrecondition, "vote event %d names vote %d of %d", e.Seq, e.Vote, len(t.Approvals))
		}
		v := t.Approvals[e.Vote-1]
		return q.rec.Record(ctx, &snap, &v)
	case EventTimedOut, EventCancelled:
		return q.rec.Record(ctx, &snap, nil)
	}
	if er, ok := q.rec.(EventRecorder); ok {
		return er.RecordEvent(ctx, &snap, e)
	}
	return nil
}

// dueBatch is how many due tasks ExpireDue reads at a time.
const dueBatch = 100

// ExpireDue is the timer sweep: for every task, of every org, with a timer
// or a delivery due (see Task.Wake), it fires warnings, escalations and
// timeouts, and delivers events whose claim has lapsed (resuming the work
// of a queue that crashed). It returns how many tasks this call resolved
// as TimedOut. Several queues may sweep one store at once: each timer
// fires once, because each change is a compare-and-swap. A task that fails
// verification is skipped and reported in the error after the sweep.
func (q *Queue) ExpireDue(ctx context.Context) (int, error) {
	n := 0
	var bad error
	skip := map[[2]string]bool{}
	for {
		now := q.now()
		due, err := q.store.Due(ctx, now.Add(time.Nanosecond), dueBatch)
		if err != nil {
			return n, err
		}
		progress := false
		for _, t := range due {
			k := [2]string{t.Org, t.ID}
			if skip[k] {
				continue
			}
			if err := q.verify(ctx, t); err != nil {
				if errs.Kind(err) == errs.ErrUnavailable {
					return n, err
				}
				skip[k], bad = true, err
				continue
			}
			rt, timedOut, err := q.fireCounting(ctx, t)
			if timedOut {
				n++
			}
			if err != nil {
				if errs.Kind(err) == errs.ErrUnavailable && ctx.Err() != nil {
					return n, err
				}
				skip[k], bad = true, err
				continue
			}
			if rt.Wake.IsZero() || rt.Wake.After(now) {
				progress = true
			} else {
				skip[k] = true
			}
		}
		if len(due) < dueBatch || !progress {
			return n, bad
		}
	}
}
