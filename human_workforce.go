package human

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/workforce"
)

// SetAvailability records a human's signed availability change (made on
// their device with workforce.SignAvailability): while away they are not
// routed new approvals or escalations.
func (c *Client) SetAvailability(ctx context.Context, change *passport.Envelope) (workforce.Availability, error) {
	if c.remote != nil {
		return c.remote.SetAvailability(ctx, change)
	}
	return c.queue.SetAvailability(ctx, c.org, change)
}

// CancelTask withdraws an open approval task (the agent no longer needs
// the action); it resolves Cancelled, which never lets the action proceed.
func (c *Client) CancelTask(ctx context.Context, taskID, reason string) (*workforce.Task, error) {
	if c.remote != nil {
		return c.remote.rc.CancelTask(ctx, taskID, reason)
	}
	return c.queue.Cancel(ctx, c.org, taskID, reason)
}

// Waiting explains, for a pending outcome, why the agent is paused and
// what is needed: how many approvals from whom, by when, and what happens
// then. It is empty for an outcome that is not pending.
func (o *Outcome) Waiting() string {
	if o.Status != Pending || o.Task == nil {
		return ""
	}
	t := o.Task
	var b strings.Builder
	fmt.Fprintf(&b, "paused: %d approval(s) needed from holders of %q", t.Quorum, t.Capability)
	if len(t.Assignees) > 0 {
		fmt.Fprintf(&b, " (assigned to %s)", strings.Join(t.Assignees, ", "))
	}
	fmt.Fprintf(&b, " by %s", t.StageDeadline().UTC().Format("2006-01-02T15:04:05Z"))
	if len(t.Escalation) > t.Step {
		fmt.Fprintf(&b, "; then escalates (%d step(s) left)", len(t.Escalation)-t.Step)
	} else {
		b.WriteString("; then times out and is denied")
	}
	return b.String()
}

// Poll re-reads a pending outcome's task once, without blocking. It
// returns the resolved outcome (as Wait would) once the task is final, and
// o itself while it is still open.
func (o *Outcome) Poll(ctx context.Context) (*Outcome, error) {
	if o.Status != Pending || o.Task == nil {
		return o, nil
	}
	t, err := o.client.queue.Get(ctx, o.client.org, o.Task.ID)
	if err != nil {
		return o, err
	}
	if !t.State.Final() {
		if t.StageDeadline().After(o.client.now()) {
			return o, nil
		}
		// Overdue: Wait fires the timer and returns at once.
	}
	return o.Wait(ctx)
}

// OnResolved calls fn, in its own goroutine, with the resolved outcome
// (or the error that ended the wait) once a pending outcome resolves or
// ctx ends. For an outcome that is not pending fn is called at once.
func (o *Outcome) OnResolved(ctx context.Context, fn func(*Outcome, error)) {
	if o.Status != Pending {
		go fn(o, nil)
		return
	}
	go func() { fn(o.Wait(ctx)) }()
}

// RecordEvent attests a task lifecycle event (opened, warning, escalated)
// on the ledger; the queue calls it through workforce.EventRecorder.
func (r *recorder) RecordEvent(ctx context.Context, t *workforce.Task, e workforce.Event) error {
	pred := map[string]any{"org": t.Org, "task": t.ID, "event": e.Type, "seq": e.Seq, "step": e.Step,
		"state": e.State, "recipients": e.Recipients, "detail": e.Detail, "time": e.At}
	return r.attest(ctx, t, pred)
}

// RecordRefusal attests a refused vote: who tried, and why it did not count.
func (r *recorder) RecordRefusal(ctx context.Context, t *workforce.Task, vote *passport.Envelope, reason error) error {
	raw, err := vote.Marshal()
	if err != nil {
		return err
	}
	kind := "unknown"
	if k := errs.Kind(reason); k != nil {
		kind = k.Error()
	}
	pred := map[string]any{"org": t.Org, "task": t.ID, "event": "vote_refused", "state": t.State,
		"refusal": kind, "reason": reason.Error(), "vote": json.RawMessage(raw)}
	return r.attest(ctx, t, pred)
}

func (r *recorder) attest(ctx context.Context, t *workforce.Task, pred map[string]any) error {
	pred["time"] = r.log.Now().UTC() // lets ledger queries by time range find it
	st, err := ledger.NewStatement(ledger.PredicateApproval, pred,
		ledger.Subject{Name: t.ID, Digest: map[string]string{"sha256": t.DigestHex()}})
	if err != nil {
		return err
	}
	p, err := r.log.Attest(ctx, st)
	if err != nil {
		return err
	}
	_, err = p.Wait(ctx)
	return err
}
