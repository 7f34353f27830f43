// Package wire holds what the HUMAN server and its HTTP client
// (adapters/remote) must agree on: the JSON request and response bodies,
// the problem+json error document with its stable codes, and the HTTP
// Message Signatures (RFC 9421) that authenticate every request.
//
// It imports only the core packages, never package human, so that both
// the server (which imports human) and the remote adapter (imported by
// human) can use it.
package wire

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
	"github.com/humanos/human/workforce"
)

// MaxBody is the largest request body the server reads (1 MiB). A larger
// one is refused with CodeBodyTooLarge before anything is changed.
const MaxBody = 1 << 20

// ProblemType is the media type of every error response (RFC 9457).
const ProblemType = "application/problem+json"

// Problem is an RFC 9457 problem document with HUMAN's stable Code.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Code is the stable machine-readable error code; see the Code constants.
	Code string `json:"code"`
	// Instance is the request id, for matching a response to the server's logs.
	Instance string `json:"instance,omitempty"`
}

// The stable error codes. Each names one situation and maps to one errs
// sentinel, so errors.Is works the same on both sides of the wire.
const (
	CodeNotFound           = "not_found"
	CodeConflict           = "conflict"
	CodeInvalidArgument    = "invalid_argument"
	CodeUnauthenticated    = "unauthenticated"
	CodePermissionDenied   = "permission_denied"
	CodeFailedPrecondition = "failed_precondition"
	CodeUnavailable        = "unavailable"
	CodeInternal           = "internal"

	CodeUnknownRoute     = "unknown_route"      // 404: no such route
	CodeMethodNotAllowed = "method_not_allowed" // 405: route exists, method does not
	CodeBodyTooLarge     = "body_too_large"     // 413: over MaxBody
	CodeMalformedJSON    = "malformed_json"     // 400: body is not the expected JSON
	CodeUnknownField     = "unknown_field"      // 400: body has a field the schema lacks
	CodeMissingSignature = "missing_signature"  // 401: no Signature/Signature-Input
	CodeBadSignature     = "bad_signature"      // 401: signature, key or digest does not verify
	CodeStaleSignature   = "stale_signature"    // 401: created outside the accepted window
	CodeReplayed         = "replayed_request"   // 401: nonce already seen
	CodeWrongRole        = "wrong_role"         // 403: authenticated, but not allowed this route
	CodeRateLimited      = "rate_limited"       // 429: the principal's rate or concurrency limit
	CodeSessionExpired   = "session_expired"    // 401: the session key id's expiry has passed; open a new session
	CodeUnknownSession   = "unknown_session"    // 401: the session key id was not issued with this server's secret; open a new session
)

type codeInfo struct {
	kind   error
	status int
	title  string
}

var codes = map[string]codeInfo{
	CodeNotFound:           {errs.ErrNotFound, http.StatusNotFound, "Not found"},
	CodeConflict:           {errs.ErrConflict, http.StatusConflict, "Conflict"},
	CodeInvalidArgument:    {errs.ErrInvalidArgument, http.StatusBadRequest, "Invalid argument"},
	CodeUnauthenticated:    {errs.ErrUnauthenticated, http.StatusUnauthorized, "Unauthenticated"},
	CodePermissionDenied:   {errs.ErrPermissionDenied, http.StatusForbidden, "Permission denied"},
	CodeFailedPrecondition: {errs.ErrFailedPrecondition, http.StatusUnprocessableEntity, "Failed precondition"},
	CodeUnavailable:        {errs.ErrUnavailable, http.StatusServiceUnavailable, "Unavailable"},
	CodeInternal:           {errs.ErrUnavailable, http.StatusInternalServerError, "Internal error"},
	CodeUnknownRoute:       {errs.ErrNotFound, http.StatusNotFound, "Unknown route"},
	CodeMethodNotAllowed:   {errs.ErrInvalidArgument, http.StatusMethodNotAllowed, "Method not allowed"},
	CodeBodyTooLarge:       {errs.ErrInvalidArgument, http.StatusRequestEntityTooLarge, "Body too large"},
	CodeMalformedJSON:      {errs.ErrInvalidArgument, http.StatusBadRequest, "Malformed JSON"},
	CodeUnknownField:       {errs.ErrInvalidArgument, http.StatusBadRequest, "Unknown field"},
	CodeMissingSignature:   {errs.ErrUnauthenticated, http.StatusUnauthorized, "Missing signature"},
	CodeBadSignature:       {errs.ErrUnauthenticated, http.StatusUnauthorized, "Bad signature"},
	CodeStaleSignature:     {errs.ErrUnauthenticated, http.StatusUnauthorized, "Stale signature"},
	CodeReplayed:           {errs.ErrUnauthenticated, http.StatusUnauthorized, "Replayed request"},
	CodeWrongRole:          {errs.ErrPermissionDenied, http.StatusForbidden, "Wrong role"},
	CodeRateLimited:        {errs.ErrUnavailable, http.StatusTooManyRequests, "Rate limited"},
	CodeSessionExpired:     {errs.ErrUnauthenticated, http.StatusUnauthorized, "Session expired"},
	CodeUnknownSession:     {errs.ErrUnauthenticated, http.StatusUnauthorized, "Unknown session"},
}

// Codes lists every stable error code.
func Codes() []string {
	out := make([]string, 0, len(codes))
	for c := range codes {
		out = append(out, c)
	}
	return out
}

// CodeOf returns the generic code of an error by the sentinel it wraps:
// CodeInternal when it wraps none.
func CodeOf(err error) string {
	switch errs.Kind(err) {
	case errs.ErrNotFound:
		return CodeNotFound
	case errs.ErrConflict:
		return CodeConflict
	case errs.ErrInvalidArgument:
		return CodeInvalidArgument
	case errs.ErrUnauthenticated:
		return CodeUnauthenticated
	case errs.ErrPermissionDenied:
		return CodePermissionDenied
	case errs.ErrFailedPrecondition:
		return CodeFailedPrecondition
	case errs.ErrUnavailable:
		return CodeUnavailable
	}
	return CodeInternal
}

// NewProblem builds the problem document for code, with detail as the
// human-readable explanation. An unknown code is treated as CodeInternal.
func NewProblem(code, detail string) *Problem {
	info, ok := codes[code]
	if !ok {
		code, info = CodeInternal, codes[CodeInternal]
	}
	return &Problem{Type: "https://humanos.dev/problems/" + code, Title: info.title, Status: info.status, Detail: detail, Code: code}
}

// ProblemFromError builds the problem document for err, coded by the
// sentinel it wraps.
func ProblemFromError(err error) *Problem { return NewProblem(CodeOf(err), err.Error()) }

// Err turns a problem back into an error wrapping the sentinel its code
// maps to (by status when the code is unknown), so errors.Is works across
// the wire.
func (p *Problem) Err() error {
	kind := KindOf(p.Code, p.Status)
	detail := strings.TrimPrefix(p.Detail, kind.Error()+": ")
	if detail == "" {
		detail = p.Title
	}
	return errs.Errorf(kind, "%s (server code %s)", detail, p.Code)
}

// KindOf maps a code (or, for an unknown code, an HTTP status) to its sentinel.
func KindOf(code string, status int) error {
	if info, ok := codes[code]; ok {
		return info.kind
	}
	switch {
	case status == http.StatusNotFound:
		return errs.ErrNotFound
	case status == http.StatusConflict:
		return errs.ErrConflict
	case status == http.StatusUnauthorized:
		return errs.ErrUnauthenticated
	case status == http.StatusForbidden:
		return errs.ErrPermissionDenied
	case status == http.StatusUnprocessableEntity || status == http.StatusPreconditionFailed:
		return errs.ErrFailedPrecondition
	case status >= 400 && status < 500 && status != http.StatusTooManyRequests && status != http.StatusRequestTimeout:
		return errs.ErrInvalidArgument
	}
	return errs.ErrUnavailable
}

// Cause carries an Outcome's Cause: the code of the sentinel and the text.
type Cause struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// NewCause encodes err; nil for a nil error.
func NewCause(err error) *Cause {
	if err == nil {
		return nil
	}
	return &Cause{Code: CodeOf(err), Message: err.Error()}
}

// Err decodes the cause into an error wrapping the same sentinel.
func (c *Cause) Err() error {
	if c == nil {
		return nil
	}
	kind := KindOf(c.Code, 0)
	return errs.Errorf(kind, "%s", strings.TrimPrefix(c.Message, kind.Error()+": "))
}

// Enrollment registers an org on a server with open enrollment; the
// request is signed with the admin key it names.
type Enrollment struct {
	Org string `json:"org"`
}

// OrgInfo describes the caller's org: its name, the ledger's checkpoint
// verifier key, and who the caller is.
type OrgInfo struct {
	Org       string `json:"org"`
	LedgerKey string `json:"ledger_key"`
	Principal string `json:"principal"`
	Role      string `json:"role"`
}

// PassportBody carries a signed passport envelope (inception, delegation
// certificate, revocation).
type PassportBody struct {
	Envelope *passport.Envelope `json:"envelope"`
}

// Passport is a passport's current state and its signed event log.
type Passport struct {
	DID       string               `json:"did"`
	Kind      string               `json:"kind"`
	Name      string               `json:"name,omitempty"`
	Keys      []passport.PublicKey `json:"keys"`
	Revoked   bool                 `json:"revoked,omitempty"`
	RevokedAt time.Time            `json:"revoked_at,omitzero"`
	Created   time.Time            `json:"created"`
	Events    []*passport.Envelope `json:"events"`
	// Guardians, Threshold and RecoveryDelay (a Go duration) are the
	// passport's guardianship; Recovery is a pending guardian recovery.
	Guardians     []string         `json:"guardians,omitempty"`
	Threshold     int              `json:"threshold,omitempty"`
	RecoveryDelay string           `json:"recovery_delay,omitempty"`
	Recovery      *PendingRecovery `json:"recovery,omitempty"`
	KeyHistory    []KeyPeriod      `json:"key_history,omitempty"`
}

// PendingRecovery is passport.PendingRecovery on the wire.
type PendingRecovery struct {
	Keys        []passport.PublicKey `json:"keys"`
	Guardians   []string             `json:"guardians"`
	Started     time.Time            `json:"started"`
	EffectiveAt time.Time            `json:"effective_at"`
}

// KeyPeriod is passport.KeyPeriod on the wire.
type KeyPeriod struct {
	Key   passport.PublicKey `json:"key"`
	From  time.Time          `json:"from"`
	Until time.Time          `json:"until,omitzero"`
}

// Delegation is a recorded delegation certificate.
type Delegation struct {
	ID       string             `json:"id"`
	Envelope *passport.Envelope `json:"envelope"`
}

// Policy identifies a policy version; Source and Filename are set when
// the document itself is asked for (the active policy).
type Policy struct {
	Version  int    `json:"version"`
	Digest   string `json:"digest"`
	Filename string `json:"filename,omitempty"`
	Source   string `json:"source,omitempty"`
}

// PolicyVersion is the latest stored policy version (0: none).
type PolicyVersion struct {
	Version int `json:"version"`
}

// Grant records that Subject holds Capability.
type Grant struct {
	Subject    string `json:"subject"`
	Capability string `json:"capability"`
}

// Member records that Member belongs to Team.
type Member struct {
	Member string `json:"member"`
	Team   string `json:"team"`
}

// CallRequest is one governed call.
type CallRequest struct {
	Agent      string         `json:"agent"`
	Delegation string         `json:"delegation"`
	Action     string         `json:"action"`
	Resource   string         `json:"resource,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// Match is one rule's part in a decision.
type Match struct {
	Rule   string `json:"rule"`
	Effect string `json:"effect"`
	Reason string `json:"reason,omitempty"`
	Err    string `json:"error,omitempty"`
}

// Approval is what a require-approval decision asks for.
type Approval struct {
	Capability     string `json:"capability"`
	Quorum         int    `json:"quorum"`
	Timeout        string `json:"timeout"`
	OnTimeout      string `json:"on_timeout,omitempty"`
	AllowDelegator bool   `json:"allow_delegator,omitempty"`
	// Escalation is the chain an unanswered approval moves along; Exclude
	// the DIDs and teams that may not approve.
	Escalation []EscalationStep `json:"escalation,omitempty"`
	Exclude    []string         `json:"exclude,omitempty"`
}

// EscalationStep is policy.EscalationStep on the wire (Timeout a Go duration).
type EscalationStep struct {
	Capability string `json:"capability,omitempty"`
	Team       string `json:"team,omitempty"`
	Timeout    string `json:"timeout"`
}

// Decision is the policy engine's decision.
type Decision struct {
	Effect        string    `json:"effect"`
	Rule          string    `json:"rule,omitempty"`
	Reason        string    `json:"reason"`
	Matched       []Match   `json:"matched,omitempty"`
	Approval      *Approval `json:"approval,omitempty"`
	PolicyVersion int       `json:"policy_version,omitempty"`
	PolicyDigest  string    `json:"policy_digest,omitempty"`
}

// Chain is a verified delegation chain, root first; a client re-parses
// each link from its signed envelope.
type Chain struct {
	Agent     string               `json:"agent"`
	Root      string               `json:"root"`
	Links     []*passport.Envelope `json:"links"`
	NotBefore time.Time            `json:"not_before"`
	Expires   time.Time            `json:"expires"`
}

// Outcome is the answer to a governed call.
type Outcome struct {
	Status   string            `json:"status"`
	Reason   string            `json:"reason"`
	Cause    *Cause            `json:"cause,omitempty"`
	Decision Decision          `json:"decision"`
	Chain    *Chain            `json:"chain,omitempty"`
	Task     *workforce.Task   `json:"task,omitempty"`
	Receipts []*ledger.Receipt `json:"receipts"`
}

// VoteBody carries an approver's signed vote.
type VoteBody struct {
	Vote *passport.Envelope `json:"vote"`
}

// DecideResult is the task after a vote and the vote's receipt.
type DecideResult struct {
	Task    *workforce.Task `json:"task"`
	Receipt *ledger.Receipt `json:"receipt,omitempty"`
}

// Inbox is the pending tasks routed to one human.
type Inbox struct {
	Tasks []*workforce.Task `json:"tasks"`
}

// Checkpoint is the ledger's latest signed checkpoint (a signed note).
type Checkpoint struct {
	Size       uint64 `json:"size"`
	Checkpoint string `json:"checkpoint"`
}

// Receipt is one entry's receipt in C2SP tlog-proof text form.
type Receipt struct {
	Receipt *ledger.Receipt `json:"receipt"`
}

// Entry is one raw ledger entry.
type Entry struct {
	Entry []byte `json:"entry"`
}

// ConsistencyProof proves the log at New extends the log at Old.
type ConsistencyProof struct {
	Old   uint64   `json:"old"`
	New   uint64   `json:"new"`
	Proof [][]byte `json:"proof"`
}

// Health is the body of /health and /ready.
type Health struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

// IsRetryable reports whether an error from a request is worth retrying
// for an idempotent request: the server was unavailable or overloaded.
func IsRetryable(err error) bool { return errors.Is(err, errs.ErrUnavailable) }

// FromDecision encodes a policy decision.
func FromDecision(d policy.Decision) Decision {
	w := Decision{Effect: string(d.Effect), Rule: d.Rule, Reason: d.Reason, PolicyVersion: d.PolicyVersion, PolicyDigest: d.PolicyDigest}
	for _, m := range d.Matched {
		w.Matched = append(w.Matched, Match{Rule: m.Rule, Effect: string(m.Effect), Reason: m.Reason, Err: m.Err})
	}
	if a := d.Approval; a != nil {
		w.Approval = &Approval{Capability: a.Capability, Quorum: a.Quorum, Timeout: a.Timeout.String(), OnTimeout: a.OnTimeout, AllowDelegator: a.AllowDelegator, Exclude: a.Exclude}
		for _, st := range a.Escalation {
			w.Approval.Escalation = append(w.Approval.Escalation, EscalationStep{Capability: st.Capability, Team: st.Team, Timeout: st.Timeout.String()})
		}
	}
	return w
}

// PolicyDecision decodes the decision.
func (w Decision) PolicyDecision() policy.Decision {
	d := policy.Decision{Effect: policy.Effect(w.Effect), Rule: w.Rule, Reason: w.Reason, PolicyVersion: w.PolicyVersion, PolicyDigest: w.PolicyDigest}
	for _, m := range w.Matched {
		d.Matched = append(d.Matched, policy.Match{Rule: m.Rule, Effect: policy.Effect(m.Effect), Reason: m.Reason, Err: m.Err})
	}
	if a := w.Approval; a != nil {
		timeout, _ := time.ParseDuration(a.Timeout)
		d.Approval = &policy.Approval{Capability: a.Capability, Quorum: a.Quorum, Timeout: timeout, OnTimeout: a.OnTimeout, AllowDelegator: a.AllowDelegator, Exclude: a.Exclude}
		for _, st := range a.Escalation {
			t, _ := time.ParseDuration(st.Timeout)
			d.Approval.Escalation = append(d.Approval.Escalation, policy.EscalationStep{Capability: st.Capability, Team: st.Team, Timeout: t})
		}
	}
	return d
}

// FromChain encodes a verified chain; nil for nil.
func FromChain(c *passport.Chain) *Chain {
	if c == nil {
		return nil
	}
	w := &Chain{Agent: c.Agent, Root: c.Root, NotBefore: c.NotBefore, Expires: c.Expires}
	for _, l := range c.Links {
		w.Links = append(w.Links, l.Envelope)
	}
	return w
}

// PassportChain decodes the chain, parsing each link from its envelope.
// It does not re-verify signatures against the org's passports (the
// server did, with keys the client does not hold); Scope is the leaf's.
func (w *Chain) PassportChain() (*passport.Chain, error) {
	if w == nil {
		return nil, nil
	}
	if len(w.Links) == 0 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "chain with no links")
	}
	c := &passport.Chain{Agent: w.Agent, Root: w.Root, NotBefore: w.NotBefore, Expires: w.Expires}
	for _, env := range w.Links {
		d, err := passport.ParseDelegation(env)
		if err != nil {
			return nil, err
		}
		c.Links = append(c.Links, d)
	}
	c.Scope = c.Leaf().Scope
	return c, nil
}

// FromPassport encodes a passport as its event log.
func FromPassport(p *passport.Passport) *Passport {
	w := &Passport{DID: p.DID, Kind: string(p.Kind), Name: p.Name, Keys: p.Keys, Revoked: p.Revoked,
		RevokedAt: p.RevokedAt, Created: p.Created, Events: p.Events, Guardians: p.Guardians, Threshold: p.Threshold}
	if p.RecoveryDelay != 0 {
		w.RecoveryDelay = p.RecoveryDelay.String()
	}
	if r := p.Recovery; r != nil {
		w.Recovery = &PendingRecovery{Keys: r.Keys, Guardians: r.Guardians, Started: r.Started, EffectiveAt: r.EffectiveAt}
	}
	for _, kp := range p.KeyHistory {
		w.KeyHistory = append(w.KeyHistory, KeyPeriod{Key: kp.Key, From: kp.From, Until: kp.Until})
	}
	return w
}

// PassportValue decodes the passport.
func (w *Passport) PassportValue() *passport.Passport {
	p := &passport.Passport{DID: w.DID, Kind: passport.Kind(w.Kind), Name: w.Name, Keys: w.Keys, Revoked: w.Revoked,
		RevokedAt: w.RevokedAt, Created: w.Created, Events: w.Events, Guardians: w.Guardians, Threshold: w.Threshold}
	if d, err := time.ParseDuration(w.RecoveryDelay); err == nil {
		p.RecoveryDelay = d
	}
	if r := w.Recovery; r != nil {
		p.Recovery = &passport.PendingRecovery{Keys: r.Keys, Guardians: r.Guardians, Started: r.Started, EffectiveAt: r.EffectiveAt}
	}
	for _, kp := range w.KeyHistory {
		p.KeyHistory = append(p.KeyHistory, passport.KeyPeriod{Key: kp.Key, From: kp.From, Until: kp.Until})
	}
	return p
}
