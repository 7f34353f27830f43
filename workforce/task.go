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

// The task states. Every state but Pending is final.
const (
	Pending   State = "pending"
	Approved  State = "approved"
	Denied    State = "denied"
	TimedOut  State = "timed_out"
	Cancelled State = "cancelled"
)

// The verdicts an approver can sign.
const (
	VerdictApprove = "approve"
	VerdictDeny    = "deny"
)

// The on-timeout behaviours a spec may name. Both resolve the task as
// TimedOut (fail closed) in this version; "escalate" records the intent for
// the escalation chain.
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
}

// Task is an approval task. Digest is the SHA-256 of the task's canonical
// content (see [Task.ComputeDigest]); it is what approvers sign.
type Task struct {
	ID string `json:"id"`
	Spec
	Digest     []byte    `json:"digest"`
	Candidates []string  `json:"candidates"`
	State      State     `json:"state"`
	Approvals  []Vote    `json:"approvals,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	Deadline   time.Time `json:"deadline"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	Version    int       `json:"version"`
}

// Vote is one approver's verified decision, with the signed envelope it
// came in.
type Vote struct {
	Approver string             `json:"approver"`
	Verdict  string             `json:"verdict"`
	Envelope *passport.Envelope `json:"envelope"`
	At       time.Time          `json:"at"`
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
