package human

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
	"github.com/humanos/human/workforce"
)

// Request is one action an agent wants to take.
type Request struct {
	// Agent is the DID of the agent's passport.
	Agent string
	// Delegation is the ID of the delegation certificate the agent acts
	// under: the leaf of a chain that must lead back to a human or org.
	Delegation string
	// Action names what the agent wants to do, e.g. "payments.send".
	Action string
	// Resource names what it acts on, e.g. "invoice:2026-0042".
	Resource string
	// Attributes are facts about this action that policy conditions and
	// delegation limits read, e.g. {"amount": 250.0}. Put IDs, hashes and
	// figures here, not documents: they are recorded on the ledger.
	Attributes map[string]any
}

// Status is where a governed call stands.
type Status string

// The statuses of an Outcome.
const (
	// Allowed: the agent may act now.
	Allowed Status = "allowed"
	// Denied: the agent must not act; Reason says why.
	Denied Status = "denied"
	// Pending: humans must approve first; Wait for their decision.
	Pending Status = "pending_approval"
)

// Outcome is the answer to a Call.
type Outcome struct {
	// Status is allowed, denied or pending approval.
	Status Status
	// Reason explains the status in words a reviewer understands.
	Reason string
	// Cause, for a call denied before policy was consulted (unknown agent,
	// bad or revoked delegation, action outside the delegation's scope),
	// is the error that denied it, checkable with errors.Is against errs.
	Cause error
	// Decision is the policy engine's decision, with every matched rule.
	Decision policy.Decision
	// Chain is the verified delegation chain, root (human) first; nil when
	// the chain did not verify.
	Chain *passport.Chain
	// Task is the approval task while pending and after it resolved.
	Task *workforce.Task
	// Receipts are the ledger receipts of this outcome's attestations, in
	// order (the decision; after Wait, the resolution). With
	// Config.AsyncAttest they are filled by Receipts(ctx).
	Receipts []*ledger.Receipt

	client  *Client
	pending []*ledger.Pending
}

// Allowed reports whether the agent may act.
func (o *Outcome) Allowed() bool { return o.Status == Allowed }

// ReceiptsWait waits until every attestation of this outcome is durable and
// returns the receipts.
func (o *Outcome) ReceiptsWait(ctx context.Context) ([]*ledger.Receipt, error) {
	for len(o.pending) > 0 {
		r, err := o.pending[0].Wait(ctx)
		if err != nil {
			return o.Receipts, err
		}
		o.Receipts = append(o.Receipts, r)
		o.pending = o.pending[1:]
	}
	return o.Receipts, nil
}

// Wait blocks until a pending outcome resolves: approved by the quorum
// (Allowed), denied by an approver, or timed out (both Denied, with a
// reason that tells them apart), or until ctx is done. For an outcome that
// is not pending it returns o unchanged.
func (o *Outcome) Wait(ctx context.Context) (*Outcome, error) {
	if o.Status != Pending {
		return o, nil
	}
	if o.client.remote != nil {
		return o.client.remote.wait(ctx, o)
	}
	if _, err := o.ReceiptsWait(ctx); err != nil {
		return o, err
	}
	t, err := o.client.queue.Wait(ctx, o.client.org, o.Task.ID)
	if err != nil {
		return o, err
	}
	out := *o
	out.Task = t
	out.Receipts = append([]*ledger.Receipt(nil), o.Receipts...)
	switch t.State {
	case workforce.Approved:
		out.Status = Allowed
		out.Reason = fmt.Sprintf("approved by %s (%d of %d required)", approvers(t), len(t.Approvals), t.Quorum)
	case workforce.Denied:
		out.Status = Denied
		out.Reason = "denied by approver " + deniers(t)
	case workforce.TimedOut:
		out.Status = Denied
		out.Reason = fmt.Sprintf("approval timed out at %s without a quorum; failing closed", t.Deadline.UTC().Format(time.RFC3339))
	default:
		out.Status = Denied
		out.Reason = fmt.Sprintf("approval task ended as %s", t.State)
	}
	if r := o.client.rec.take(t.ID, resolutionKey); r != nil {
		out.Receipts = append(out.Receipts, r)
	}
	return &out, nil
}

func approvers(t *workforce.Task) string {
	var s string
	for i, v := range t.Approvals {
		if i > 0 {
			s += ", "
		}
		s += v.Approver
	}
	return s
}

func deniers(t *workforce.Task) string {
	for _, v := range t.Approvals {
		if v.Verdict == "deny" {
			return v.Approver
		}
	}
	return "(unknown)"
}

// Call asks whether an agent may take an action, and records the answer.
//
// It verifies the agent's delegation chain back to a human, checks the
// action against the chain's scope, evaluates the org's active policy and,
// when policy requires it, opens an approval task routed to humans who hold
// the required capability. Every outcome is attested on the ledger.
//
// A malformed request is an error wrapping errs.ErrInvalidArgument and
// records nothing. A well-formed request that fails verification (unknown
// agent, forged, expired or revoked delegation, action outside its scope)
// is a Denied outcome whose Cause says why, and is recorded.
//
// With a shadow profile (Config.Shadow) the call is also handed, after it
// is decided here, to the shadow for comparison (ShadowReport).
func (c *Client) Call(ctx context.Context, req Request) (*Outcome, error) {
	if c.shadowRun == nil {
		return c.call(ctx, req)
	}
	now := c.now()
	out, err := c.call(ctx, req)
	if err == nil {
		c.shadowRun.observe(req, out, now)
	}
	return out, err
}

func (c *Client) call(ctx context.Context, req Request) (*Outcome, error) {
	if c.remote != nil {
		return c.remote.Call(ctx, req)
	}
	if err := validateRequest(req); err != nil {
		return nil, err
	}
	now := c.now()
	out := &Outcome{client: c}
	chain, err := c.passports.VerifyChain(ctx, c.org, req.Agent, req.Delegation)
	if err == nil {
		out.Chain = chain
		err = chain.Scope.Permits(req.Action, req.Resource, req.Attributes)
	}
	if err != nil {
		if errors.Is(err, errs.ErrUnavailable) {
			return nil, err
		}
		out.Status, out.Cause = Denied, err
		out.Reason = "agent not authorised: " + err.Error()
		out.Decision = policy.Decision{Effect: policy.Deny, Reason: out.Reason}
		return c.attestDecision(ctx, req, out, now)
	}
	pol, err := c.policies.Active(ctx, c.org)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		out.Status = Denied
		out.Reason = "no active policy in org " + c.org + "; default deny"
		out.Decision = policy.Decision{Effect: policy.Deny, Reason: out.Reason}
		return c.attestDecision(ctx, req, out, now)
	case err != nil:
		return nil, err
	}
	in := policy.Input{
		Org: c.org, Action: req.Action, Resource: req.Resource, Attributes: req.Attributes,
		Agent: req.Agent, Requester: chain.Root, Now: now,
		AgentScope: policy.Scope{Actions: chain.Scope.Actions, Resources: chain.Scope.Resources, Limits: chain.Scope.Limits},
	}
	d, err := c.engine.Evaluate(ctx, pol, in)
	if err != nil {
		return nil, err
	}
	if s := c.shadow.Load(); s != nil {
		s.Observe(in, d)
	}
	// Limits are charged only for a request that would proceed (or wait
	// for approval); a store that cannot be reached fails the call.
	if err := c.budgets.Charge(ctx, c.org, &d, now); err != nil {
		return nil, err
	}
	out.Decision, out.Reason = d, d.Reason
	switch d.Effect {
	case policy.Allow:
		out.Status = Allowed
	case policy.RequireApproval:
		t, err := c.queue.Open(ctx, workforce.Spec{
			Org: c.org, Agent: req.Agent, Requester: chain.Root,
			Action: req.Action, Resource: req.Resource, Attributes: req.Attributes,
			Capability: d.Approval.Capability, Quorum: d.Approval.Quorum, Timeout: d.Approval.Timeout,
			OnTimeout: d.Approval.OnTimeout, AllowDelegator: d.Approval.AllowDelegator,
			Escalation: escalationSteps(d.Approval.Escalation), Exclude: d.Approval.Exclude,
			Rule: d.Rule, Reason: d.Reason, PolicyVersion: d.PolicyVersion, DecisionDigest: d.PolicyDigest,
		})
		switch {
		case errors.Is(err, errs.ErrFailedPrecondition):
			out.Status, out.Cause = Denied, err
			out.Reason = d.Reason + "; but no human is eligible to approve, so failing closed: " + err.Error()
		case err != nil:
			return nil, err
		default:
			out.Status, out.Task = Pending, t
		}
	default:
		out.Status = Denied
	}
	return c.attestDecision(ctx, req, out, now)
}

// escalationSteps carries policy's escalation chain into the approval task.
func escalationSteps(in []policy.EscalationStep) []workforce.Step {
	if len(in) == 0 {
		return nil
	}
	out := make([]workforce.Step, len(in))
	for i, s := range in {
		out[i] = workforce.Step{Capability: s.Capability, Team: s.Team, Timeout: s.Timeout}
	}
	return out
}

func validateRequest(r Request) error {
	switch {
	case r.Agent == "":
		return errs.Errorf(errs.ErrInvalidArgument, "request: Agent (the agent's passport DID) is required")
	case r.Delegation == "":
		return errs.Errorf(errs.ErrInvalidArgument, "request: Delegation (the ID of the agent's delegation certificate) is required")
	case r.Action == "":
		return errs.Errorf(errs.ErrInvalidArgument, "request: Action is required")
	}
	for k, v := range r.Attributes {
		if k == "" {
			return errs.Errorf(errs.ErrInvalidArgument, "request: attribute with an empty name")
		}
		switch v.(type) {
		case nil, bool, string, int, int64, float64, []any, map[string]any:
		default:
			return errs.Errorf(errs.ErrInvalidArgument, "request: attribute %q has type %T; use bool, string, int, int64, float64, []any or map[string]any", k, v)
		}
	}
	return nil
}

// decisionRecord is the predicate of a decision attestation.
type decisionRecord struct {
	Org           string         `json:"org"`
	Agent         string         `json:"agent"`
	Delegation    string         `json:"delegation"`
	Chain         []string       `json:"chain,omitempty"`
	Requester     string         `json:"requester,omitempty"`
	Action        string         `json:"action"`
	Resource      string         `json:"resource,omitempty"`
	Attributes    map[string]any `json:"attributes,omitempty"`
	Status        Status         `json:"status"`
	Effect        policy.Effect  `json:"effect"`
	Rule          string         `json:"rule,omitempty"`
	Reason        string         `json:"reason"`
	Matched       []policy.Match `json:"matched,omitempty"`
	PolicyVersion int            `json:"policy_version,omitempty"`
	PolicyDigest  string         `json:"policy_digest,omitempty"`
	Task          string         `json:"task,omitempty"`
	Time          time.Time      `json:"time"`
}

func (c *Client) attestDecision(ctx context.Context, req Request, out *Outcome, now time.Time) (*Outcome, error) {
	rec := decisionRecord{
		Org: c.org, Agent: req.Agent, Delegation: req.Delegation, Action: req.Action, Resource: req.Resource,
		Attributes: req.Attributes, Status: out.Status, Effect: out.Decision.Effect, Rule: out.Decision.Rule,
		Reason: out.Reason, Matched: out.Decision.Matched, PolicyVersion: out.Decision.PolicyVersion,
		PolicyDigest: out.Decision.PolicyDigest, Time: now.UTC(),
	}
	if out.Chain != nil {
		rec.Requester = out.Chain.Root
		for _, l := range out.Chain.Links {
			rec.Chain = append(rec.Chain, l.ID)
		}
	}
	subjects := []ledger.Subject{{Name: req.Agent, Digest: map[string]string{"sha256": sha256Hex(req.Agent)}}}
	if out.Task != nil {
		rec.Task = out.Task.ID
		subjects = append(subjects, ledger.Subject{Name: out.Task.ID, Digest: map[string]string{"sha256": hex.EncodeToString(out.Task.Digest)}})
	}
	st, err := ledger.NewStatement(ledger.PredicateDecision, rec, subjects...)
	if err != nil {
		return nil, err
	}
	p, err := c.ledger.Attest(ctx, st)
	if err != nil {
		return nil, err
	}
	out.pending = append(out.pending, p)
	if !c.cfg.AsyncAttest {
		if _, err := out.ReceiptsWait(ctx); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// RegisterPassport records a passport from its self-signed inception (made
// on the device with passport.NewInception). The library verifies the
// self-signature; it never creates a human passport on its own.
func (c *Client) RegisterPassport(ctx context.Context, inception *passport.Envelope) (*passport.Passport, error) {
	if c.remote != nil {
		return c.remote.rc.RegisterPassport(ctx, inception)
	}
	p, err := c.passports.Register(ctx, c.org, inception)
	if err != nil {
		return nil, err
	}
	kind := capability.Human
	if p.Kind == passport.KindAgent {
		kind = capability.Agent
	}
	if p.Kind != passport.KindOrg {
		if err := c.graph.AddNode(ctx, c.org, capability.Node{ID: p.DID, Kind: kind, Name: p.Name}); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Delegate records a delegation certificate (made with passport.Delegate
// and signed by the issuer) after verifying it and its whole chain.
func (c *Client) Delegate(ctx context.Context, cert *passport.Envelope) (*passport.Delegation, error) {
	if c.remote != nil {
		return c.remote.rc.Delegate(ctx, cert)
	}
	d, err := c.passports.AddDelegation(ctx, c.org, cert)
	if err != nil {
		return nil, err
	}
	// The graph records who delegates to whom for routing (a delegator is
	// not routed their own agent's approvals); org and agent issuers have
	// no human node to start the edge from.
	issuer, err := c.passports.Get(ctx, c.org, d.Issuer)
	if err != nil {
		return nil, err
	}
	if issuer.Kind == passport.KindHuman {
		if err := c.graph.AddEdge(ctx, c.org, capability.Edge{From: d.Issuer, To: d.Subject, Kind: capability.Delegates, Expires: d.Expires, Issuer: d.Issuer}); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// RevokeDelegation records a signed revocation (passport.Revoke); every
// agent acting under that link or below it stops at its next Call.
func (c *Client) RevokeDelegation(ctx context.Context, revocation *passport.Envelope) error {
	if c.remote != nil {
		return c.remote.rc.RevokeDelegation(ctx, revocation)
	}
	return c.passports.RevokeDelegation(ctx, c.org, revocation)
}

// Grant records that subject holds a capability in this org, and attests
// the change.
func (c *Client) Grant(ctx context.Context, subject, capabilityName string) error {
	if c.remote != nil {
		return c.remote.rc.Grant(ctx, subject, capabilityName)
	}
	if err := c.graph.Grant(ctx, c.org, subject, capabilityName); err != nil {
		return err
	}
	return c.attestCapability(ctx, "grant", subject, capabilityName)
}

// AddMember records that member belongs to team (creating the team node if
// needed), and attests the change.
func (c *Client) AddMember(ctx context.Context, member, team string) error {
	if c.remote != nil {
		return c.remote.rc.AddMember(ctx, member, team)
	}
	if err := c.graph.AddMember(ctx, c.org, member, team); err != nil {
		return err
	}
	return c.attestCapability(ctx, "member_of", member, team)
}

func (c *Client) attestCapability(ctx context.Context, change, from, to string) error {
	st, err := ledger.NewStatement(ledger.PredicateCapabilityChange,
		map[string]any{"org": c.org, "change": change, "from": from, "to": to, "time": c.now().UTC()},
		ledger.Subject{Name: from, Digest: map[string]string{"sha256": sha256Hex(from)}})
	if err != nil {
		return err
	}
	_, err = c.attestWait(ctx, st)
	return err
}

func (c *Client) attestWait(ctx context.Context, st *ledger.Statement) (*ledger.Receipt, error) {
	p, err := c.ledger.Attest(ctx, st)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

// Task returns an approval task of this org.
func (c *Client) Task(ctx context.Context, id string) (*workforce.Task, error) {
	if c.remote != nil {
		return c.remote.rc.Task(ctx, id)
	}
	return c.queue.Get(ctx, c.org, id)
}

// Inbox lists the pending tasks routed to a human.
func (c *Client) Inbox(ctx context.Context, human string) ([]*workforce.Task, error) {
	if c.remote != nil {
		return c.remote.rc.Inbox(ctx, human)
	}
	return c.queue.Inbox(ctx, c.org, human)
}

// Decision is what Decide returns: the task after the vote, and the
// receipt of the vote's attestation.
type Decision struct {
	Task    *workforce.Task
	Receipt *ledger.Receipt
}

// Decide records an approver's signed vote (made with workforce.SignVote
// over the task digest, with the approver's own key). A vote whose
// signature does not verify, by someone who does not hold the capability,
// or a second vote by the same human changes nothing and is an error.
func (c *Client) Decide(ctx context.Context, taskID string, vote *passport.Envelope) (*Decision, error) {
	if c.remote != nil {
		return c.remote.Decide(ctx, taskID, vote)
	}
	t, err := c.queue.Decide(ctx, c.org, taskID, vote)
	if err != nil {
		return nil, err
	}
	d := &Decision{Task: t, Receipt: c.rec.take(taskID, voteKey(vote))}
	c.capabilityEvidence(ctx, d, vote) // human_capability.go: an approval is evidence of the capability
	return d, nil
}

// anchor puts passport events on the ledger before they count.
type anchor struct{ log *ledger.Log }

func (a anchor) Anchor(ctx context.Context, org, kind string, env *passport.Envelope) error {
	raw, err := env.Marshal()
	if err != nil {
		return err
	}
	sum := sha256.Sum256(env.Payload)
	st, err := ledger.NewStatement(ledger.PredicatePassportEvent,
		map[string]any{"org": org, "kind": kind, "event": json.RawMessage(raw)},
		ledger.Subject{Name: kind, Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}})
	if err != nil {
		return err
	}
	p, err := a.log.Attest(ctx, st)
	if err != nil {
		return err
	}
	_, err = p.Wait(ctx)
	return err
}

// keys gives the workforce queue the current keys of a human passport.
type keys struct{ r *passport.Registry }

func (k keys) VerifyingKeys(ctx context.Context, org, did string) ([]passport.PublicKey, error) {
	p, err := k.r.Get(ctx, org, did)
	if err != nil {
		return nil, err
	}
	if p.Kind != passport.KindHuman {
		return nil, errs.Errorf(errs.ErrPermissionDenied, "%s is a %s passport; only humans approve", did, p.Kind)
	}
	if p.Revoked {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "passport %s is revoked", did)
	}
	return p.Keys, nil
}

const resolutionKey = "resolution"

func voteKey(vote *passport.Envelope) string {
	sum := sha256.Sum256(vote.Payload)
	return hex.EncodeToString(sum[:])
}

// recorder attests votes and task resolutions, and keeps each receipt until
// the caller that caused it collects it.
type recorder struct {
	log      *ledger.Log
	mu       sync.Mutex
	receipts map[string]*ledger.Receipt
}

func (r *recorder) Record(ctx context.Context, t *workforce.Task, v *workforce.Vote) error {
	pred := map[string]any{"org": t.Org, "task": t.ID, "digest": hex.EncodeToString(t.Digest), "state": t.State,
		"capability": t.Capability, "quorum": t.Quorum, "agent": t.Agent, "action": t.Action, "resource": t.Resource,
		"time": r.log.Now().UTC()}
	key := resolutionKey
	predType := ledger.PredicateApproval
	if v != nil {
		raw, err := v.Envelope.Marshal()
		if err != nil {
			return err
		}
		pred["approver"], pred["verdict"], pred["vote"] = v.Approver, v.Verdict, json.RawMessage(raw)
		key = voteKey(v.Envelope)
	}
	st, err := ledger.NewStatement(predType, pred,
		ledger.Subject{Name: t.ID, Digest: map[string]string{"sha256": hex.EncodeToString(t.Digest)}})
	if err != nil {
		return err
	}
	p, err := r.log.Attest(ctx, st)
	if err != nil {
		return err
	}
	rc, err := p.Wait(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	if len(r.receipts) > 4096 { // nobody collected them; bound memory
		clear(r.receipts)
	}
	r.receipts[t.ID+"/"+key] = rc
	if t.State.Final() {
		r.receipts[t.ID+"/"+resolutionKey] = rc // the vote that resolved it
	}
	r.mu.Unlock()
	return nil
}

func (r *recorder) take(taskID, key string) *ledger.Receipt {
	r.mu.Lock()
	defer r.mu.Unlock()
	rc := r.receipts[taskID+"/"+key]
	delete(r.receipts, taskID+"/"+key)
	return rc
}
