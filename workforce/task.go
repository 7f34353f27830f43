package workforce

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// State is where a task is in its life.
type State string

// The task states. Pending, Assigned and Escalated are open: votes are
// accepted and timers run. Every other state is final.
//
//   - Pending: routed to every eligible candidate of the first step;
//   - Assigned: routed by a strategy to specific assignees of the first step;
//   - Escalated: a step's deadline passed and a later step of the chain now
//     holds the task;
//   - Approved, Denied: decided by signed votes (quorum, or any deny);
//   - TimedOut: the last step's deadline passed without a decision; reported
//     apart from Denied, and never lets the action proceed (fail closed);
//   - Cancelled: withdrawn by the requesting side before a decision.
const (
	Pending   State = "pending"
	Assigned  State = "assigned"
	Escalated State = "escalated"
	Approved  State = "approved"
	Denied    State = "denied"
	TimedOut  State = "timed_out"
	Cancelled State = "cancelled"
)

// OpenStates are the states in which a task still awaits a decision.
var OpenStates = []State{Pending, Assigned, Escalated}

// Open reports whether a task in state s still awaits a decision.
func (s State) Open() bool { return s == Pending || s == Assigned || s == Escalated }

// Final reports whether s is a final state.
func (s State) Final() bool {
	return s == Approved || s == Denied || s == TimedOut || s == Cancelled
}

// The verdicts an approver can sign.
const (
	VerdictApprove = "approve"
	VerdictDeny    = "deny"
)

// The on-timeout behaviours a spec may name. When a step's deadline passes
// and the spec has a later escalation step, the task escalates to it
// whatever OnTimeout says; when the last step's deadline passes, the task
// resolves as TimedOut, which never lets the action proceed. "deny" is the
// default; "escalate" is accepted for specs that name the chain's intent.
const (
	OnTimeoutDeny     = "deny"
	OnTimeoutEscalate = "escalate"
)

// Spec is what the caller asks an approval for: the request under decision
// and the policy's requirements.
type Spec struct {
	Org            string         `json:"org"`
	Agent          string         `json:"agent"`     // DID of the requesting agent
	Requester      string         `json:"requester"` // human at the root of the agent's delegation
	Action         string         `json:"action"`
	Resource       string         `json:"resource"`
	Attributes     map[string]any `json:"attributes,omitempty"`
	Capability     string         `json:"capability"`
	Quorum         int            `json:"quorum"`
	Timeout        time.Duration  `json:"timeout"`
	OnTimeout      string         `json:"on_timeout,omitempty"`
	AllowDelegator bool           `json:"allow_delegator,omitempty"`
	Rule           string         `json:"rule,omitempty"`
	Reason         string         `json:"reason,omitempty"`
	PolicyVersion  int            `json:"policy_version,omitempty"`
	DecisionDigest string         `json:"decision_digest,omitempty"`
	// Escalation is the chain of later steps: when the current step's
	// deadline passes, the task moves to the next step's approvers.
	Escalation []Step `json:"escalation,omitempty"`
	// Exclude lists humans who may never approve this task (besides the
	// agent, and the requester unless AllowDelegator).
	Exclude []string `json:"exclude,omitempty"`
	// Routing picks approvers among the eligible candidates; empty means the
	// queue's default ([RouteAll] unless configured otherwise).
	Routing Strategy `json:"routing,omitempty"`
	// WarnBefore is how long before each step's deadline the warning event
	// fires; zero means a fifth of the step's timeout.
	WarnBefore time.Duration `json:"warn_before,omitempty"`
}

// Step is one later step of an escalation chain: who holds the task next,
// and for how long. Capability and Team may both be set (holders of the
// capability who are members of the team); at least one must be.
type Step struct {
	Capability string        `json:"capability,omitempty"`
	Team       string        `json:"team,omitempty"`
	Timeout    time.Duration `json:"timeout"`
}

// Stage is a step as the task reached it: the eligible candidates and,
// when a strategy assigned the task, the assignees (only they may vote
// then). Deadline and WarnAt follow from the spec and CreatedAt.
type Stage struct {
	Capability string    `json:"capability,omitempty"`
	Team       string    `json:"team,omitempty"`
	Candidates []string  `json:"candidates"`
	Assignees  []string  `json:"assignees,omitempty"`
	Started    time.Time `json:"started"`
	Deadline   time.Time `json:"deadline"`
	WarnAt     time.Time `json:"warn_at"`
	Warned     bool      `json:"warned,omitempty"`
}

// Voters are the humans who may vote in this stage: the assignees if a
// strategy chose some, else every candidate.
func (s Stage) Voters() []string {
	if len(s.Assignees) > 0 {
		return s.Assignees
	}
	return s.Candidates
}

// EventType names a lifecycle event of a task.
type EventType string

// The lifecycle events. Every event is delivered once to the Recorder (votes
// and resolutions) or EventRecorder (the rest) and to the Notifier.
const (
	EventOpened    EventType = "opened"
	EventWarning   EventType = "warning"
	EventEscalated EventType = "escalated"
	EventVote      EventType = "vote"
	EventTimedOut  EventType = "timed_out"
	EventCancelled EventType = "cancelled"
)

// Event is one entry of a task's outbox: what happened, and whether it has
// been attested and notified. The queue appends events in the same
// compare-and-swap that changes the task, claiming each for a lease
// (Owner, Until) during which only that queue delivers it; a crash between
// the change and the delivery is resumed by whichever queue next claims the
// event after the lease lapses.
type Event struct {
	Seq        int       `json:"seq"`
	Type       EventType `json:"type"`
	State      State     `json:"state"` // the task's state right after the event
	Step       int       `json:"step"`
	At         time.Time `json:"at"`
	Vote       int       `json:"vote,omitempty"` // 1-based index into Approvals for EventVote
	Recipients []string  `json:"recipients,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	Recorded   bool      `json:"recorded,omitempty"`
	Notified   bool      `json:"notified,omitempty"`
	Attempts   int       `json:"attempts,omitempty"` // failed notification attempts
	Owner      string    `json:"owner,omitempty"`    // the queue delivering it
	Until      time.Time `json:"until,omitzero"`     // its claim lapses then
}

// Delivered reports whether e needs no more delivery.
func (e Event) Delivered() bool { return e.Recorded && e.Notified }

// Task is an approval task. Digest is the SHA-256 of the task's canonical
// content (see [Task.ComputeDigest]); it is what approvers sign.
type Task struct {
	ID string `json:"id"`
	Spec
	Digest     []byte    `json:"digest"`
	Candidates []string  `json:"candidates"`          // the current stage's candidates
	Assignees  []string  `json:"assignees,omitempty"` // the current stage's assignees
	State      State     `json:"state"`
	Approvals  []Vote    `json:"approvals,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	Deadline   time.Time `json:"deadline"` // the last step's deadline
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	Version    int       `json:"version"`
	// Step is the index of the current stage in Stages: 0 is the spec's own
	// step, k the k-th escalation step.
	Step   int     `json:"step,omitempty"`
	Stages []Stage `json:"stages,omitempty"`
	Events []Event `json:"events,omitempty"`
	// Wake is when a queue must next look at the task: its next warning or
	// deadline, or when undelivered events need delivering. Zero: never.
	Wake time.Time `json:"wake,omitzero"`
	// Resolution says why a task timed out or was cancelled.
	Resolution string `json:"resolution,omitempty"`
}

// Vote is one approver's verified decision, with the signed envelope it
// came in.
type Vote struct {
	Approver string             `json:"approver"`
	Verdict  string             `json:"verdict"`
	Envelope *passport.Envelope `json:"envelope"`
	At       time.Time          `json:"at"`
	Step     int                `json:"step,omitempty"` // the stage in which it was cast
}

// UnmarshalJSON decodes a task keeping attribute numbers exact
// (json.Number), so a task read back from any JSON store has the same
// digest as when it was opened.
func (t *Task) UnmarshalJSON(data []byte) error {
	type plain Task
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var p plain
	if err := dec.Decode(&p); err != nil {
		return err
	}
	*t = Task(p)
	return nil
}

// taskContent is the canonical content a task digest covers: everything an
// approver is shown. Candidates, votes and state are not part of it; they
// change while the content stays what was approved.
type taskContent struct {
	Type           string          `json:"type"`
	ID             string          `json:"id"`
	Org            string          `json:"org"`
	Agent          string          `json:"agent"`
	Requester      string          `json:"requester"`
	Action         string          `json:"action"`
	Resource       string          `json:"resource"`
	Attributes     json.RawMessage `json:"attributes"`
	Capability     string          `json:"capability"`
	Quorum         int             `json:"quorum"`
	OnTimeout      string          `json:"on_timeout"`
	AllowDelegator bool            `json:"allow_delegator"`
	Rule           string          `json:"rule"`
	Reason         string          `json:"reason"`
	PolicyVersion  int             `json:"policy_version"`
	DecisionDigest string          `json:"decision_digest"`
	Created        string          `json:"created"`
	Deadline       string          `json:"deadline"`
	// Added with escalation; omitted when empty so that tasks without them
	// keep the digest they had before.
	Escalation []Step   `json:"escalation,omitempty"`
	Exclude    []string `json:"exclude,omitempty"`
	Routing    Strategy `json:"routing,omitempty"`
	WarnBefore int64    `json:"warn_before_ns,omitempty"`
}

// taskContentType versions the digest's input format.
const taskContentType = "humanos.approval-task/v1"

// canonicalAttributes returns attrs as JSON with sorted keys and exact
// numbers, and the same value decoded back (json.Number for numbers), so
// the task holds exactly what its digest covers.
func canonicalAttributes(attrs map[string]any) (json.RawMessage, map[string]any, error) {
	if len(attrs) == 0 {
		return json.RawMessage("{}"), nil, nil
	}
	raw, err := json.Marshal(attrs)
	if err != nil {
		return nil, nil, errs.Errorf(errs.ErrInvalidArgument, "task attributes are not JSON-encodable: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var norm map[string]any
	if err := dec.Decode(&norm); err != nil {
		return nil, nil, errs.Errorf(errs.ErrInvalidArgument, "task attributes: %v", err)
	}
	canon, err := json.Marshal(norm)
	if err != nil {
		return nil, nil, errs.Errorf(errs.ErrInvalidArgument, "task attributes: %v", err)
	}
	return canon, norm, nil
}

// digestTime formats a time for the digest: UTC, nanoseconds, fixed form.
func digestTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// ComputeDigest returns the SHA-256 of the task's canonical content: a
// JSON object with a fixed field order, attributes with sorted keys and
// exact numbers, times in UTC. It does not modify t.
func (t *Task) ComputeDigest() ([]byte, error) {
	attrs, _, err := canonicalAttributes(t.Attributes)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(taskContent{
		Type: taskContentType, ID: t.ID, Org: t.Org, Agent: t.Agent, Requester: t.Requester,
		Action: t.Action, Resource: t.Resource, Attributes: attrs, Capability: t.Capability,
		Quorum: t.Quorum, OnTimeout: t.OnTimeout, AllowDelegator: t.AllowDelegator, Rule: t.Rule,
		Reason: t.Reason, PolicyVersion: t.PolicyVersion, DecisionDigest: t.DecisionDigest,
		Created: digestTime(t.CreatedAt), Deadline: digestTime(t.Deadline),
		Escalation: t.Escalation, Exclude: t.Exclude, Routing: t.Routing, WarnBefore: int64(t.WarnBefore),
	})
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "task %s: %v", t.ID, err)
	}
	sum := sha256.Sum256(b)
	return sum[:], nil
}

// DigestHex is the task digest in the lower-case hex form votes carry.
func (t *Task) DigestHex() string { return hex.EncodeToString(t.Digest) }

// Clone returns a deep copy of t (attributes and envelopes included).
func (t *Task) Clone() *Task {
	b, err := json.Marshal(t)
	if err != nil {
		// Tasks hold only JSON-encodable values (Open checks attributes).
		panic("workforce: task not encodable: " + err.Error())
	}
	var c Task
	if err := json.Unmarshal(b, &c); err != nil {
		panic("workforce: task not decodable: " + err.Error())
	}
	return &c
}

// stage returns the current stage (a zero Stage for a task without stages).
func (t *Task) stage() Stage {
	if t.Step >= 0 && t.Step < len(t.Stages) {
		return t.Stages[t.Step]
	}
	return Stage{Candidates: t.Candidates, Assignees: t.Assignees, Deadline: t.Deadline}
}

// StageDeadline is the current step's deadline.
func (t *Task) StageDeadline() time.Time { return t.stage().Deadline }

// Voters are the humans who may vote now.
func (t *Task) Voters() []string { return t.stage().Voters() }

// hasVoted reports whether approver already has a vote on t.
func (t *Task) hasVoted(approver string) bool {
	for _, v := range t.Approvals {
		if v.Approver == approver {
			return true
		}
	}
	return false
}

// tally returns the state the votes call for: Denied on any deny, Approved
// once distinct approvals reach quorum, Pending otherwise.
func (t *Task) tally() State {
	approvals := map[string]bool{}
	for _, v := range t.Approvals {
		if v.Verdict == VerdictDeny {
			return Denied
		}
		approvals[v.Approver] = true
	}
	if len(approvals) >= max(t.Quorum, 1) {
		return Approved
	}
	return Pending
}
