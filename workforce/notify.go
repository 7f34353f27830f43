package workforce

import (
	"context"
	"time"

	"github.com/humanos/human/passport"
)

// Notice is what a [Notifier] is told about one task event: enough to
// reach the recipients and show them what is asked, never the means to
// decide (a decision is a signature made on the approver's device).
type Notice struct {
	Org        string    `json:"org"`
	Task       string    `json:"task"`
	Digest     string    `json:"digest"` // hex SHA-256 of the task content, what approvers sign
	Event      EventType `json:"event"`
	Seq        int       `json:"seq"`
	State      State     `json:"state"`
	Step       int       `json:"step"`
	Action     string    `json:"action"`
	Resource   string    `json:"resource,omitempty"`
	Capability string    `json:"capability,omitempty"`
	Team       string    `json:"team,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Recipients []string  `json:"recipients,omitempty"`
	Deadline   time.Time `json:"deadline"` // the current step's deadline
	At         time.Time `json:"at"`
	Detail     string    `json:"detail,omitempty"`
}

// Notifier tells people about task events (new task, warning before a
// deadline, escalation, resolution). Notify may block while it retries; it
// must honour ctx. An error leaves the event to be notified again later,
// up to a bounded number of attempts.
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
}

// EventRecorder is an optional extension of [Recorder]: a Recorder that
// also implements it is given every lifecycle event that is not a vote or
// a resolution (opened, warning, escalated), and every refused vote.
type EventRecorder interface {
	// RecordEvent attests a lifecycle event of t.
	RecordEvent(ctx context.Context, t *Task, e Event) error
	// RecordRefusal attests that a vote envelope on t was refused, and why
	// (reason carries the errs kind). Nothing about t changed.
	RecordRefusal(ctx context.Context, t *Task, vote *passport.Envelope, reason error) error
}

// notice builds the Notice of event e of t.
func notice(t *Task, e Event) Notice {
	st := t.Stages[min(e.Step, len(t.Stages)-1)]
	return Notice{
		Org: t.Org, Task: t.ID, Digest: t.DigestHex(), Event: e.Type, Seq: e.Seq, State: e.State, Step: e.Step,
		Action: t.Action, Resource: t.Resource, Capability: st.Capability, Team: st.Team, Reason: t.Spec.Reason,
		Recipients: e.Recipients, Deadline: st.Deadline, At: e.At, Detail: e.Detail,
	}
}
