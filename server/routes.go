package server

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/humanos/human"
	"github.com/humanos/human/api"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/internal/wire"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
	"github.com/humanos/human/workforce"
)

func (s *Server) routeTable() []*route {
	return []*route{
		rt("GET", "/health", authNone, s.health),
		rt("GET", "/ready", authNone, s.ready),
		&route{method: "GET", pattern: "/metrics", raw: s.metrics.handler},
		&route{method: "GET", pattern: "/v1/openapi.json", raw: http.HandlerFunc(serveOpenAPI)},
		rt("POST", "/v1/orgs", authEnroll, s.enrollOrg),
		rt("POST", "/v1/sessions", authSigned, s.openSession),

		rt("POST", "/v1/passport", authSigned, registerPassport),
		rt("GET", "/v1/passport/{did}", authSigned, getPassport),
		rt("POST", "/v1/passport/events", authSigned, updatePassport),
		rt("POST", "/v1/passport/delegations", authSigned, delegate),
		rt("POST", "/v1/passport/revocations", authSigned, revokeDelegation),

		rt("POST", "/v1/capabilities/grants", authSigned, grant),
		rt("POST", "/v1/capabilities/members", authSigned, addMember),
		rt("POST", "/v1/capabilities/claims", authSigned, claim),
		rt("GET", "/v1/capabilities/evidence", authSigned, capabilityEvidence),
		rt("GET", "/v1/capabilities/holds", authSigned, holds),

		rt("POST", "/v1/humanos/policies", authSigned, publishPolicy),
		rt("POST", "/v1/humanos/policies/activations", authSigned, activatePolicy),
		rt("GET", "/v1/humanos/policies/active", authSigned, activePolicy),
		rt("GET", "/v1/humanos/policies/latest", authSigned, latestPolicy),
		rt("POST", "/v1/humanos/decisions", authSigned, s.call),

		rt("GET", "/v1/workforce/tasks/{id}", authSigned, getTask),
		rt("GET", "/v1/workforce/tasks/{id}/outcome", authSigned, s.taskOutcome),
		rt("POST", "/v1/workforce/tasks/{id}/decisions", authSigned, decide),
		rt("GET", "/v1/workforce/inbox/{did}", authSigned, inbox),
		rt("POST", "/v1/workforce/availability", authSigned, setAvailability),
		rt("POST", "/v1/workforce/tasks/{id}/cancellations", authSigned, cancelTask),

		rt("GET", "/v1/attestations/key", authSigned, orgInfo),
		rt("GET", "/v1/attestations", authSigned, attestations),
		rt("POST", "/v1/attestations", authSigned, appendEntry),
		rt("GET", "/v1/attestations/checkpoint", authSigned, checkpoint),
		rt("GET", "/v1/attestations/receipts/{index}", authSigned, receipt),
		rt("GET", "/v1/attestations/entries/{index}", authSigned, entry),
		rt("GET", "/v1/attestations/proofs/consistency", authSigned, consistency),
	}
}

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(api.OpenAPI)
}

func wrongRole(p *principal, what string) error {
	return coded(wire.CodeWrongRole, errs.ErrPermissionDenied, "%s may not %s", p.keyID, what)
}

// requireAdmin allows only the org's admin credential.
func requireAdmin(p *principal, what string) error {
	if p.role != roleAdmin {
		return wrongRole(p, what)
	}
	return nil
}

// adminOr allows the admin or the passport did.
func adminOr(p *principal, did, what string) error {
	if p.role == roleAdmin || (did != "" && p.did == did) {
		return nil
	}
	return wrongRole(p, what)
}

func (s *Server) health(context.Context, *request) (int, any, error) {
	return http.StatusOK, wire.Health{Status: "ok"}, nil
}

func (s *Server) ready(ctx context.Context, _ *request) (int, any, error) {
	h := wire.Health{Status: "ok", Checks: map[string]string{}}
	for org, err := range s.Ready(ctx) {
		h.Checks[org] = "ok"
		if err != nil {
			h.Status, h.Checks[org] = "unavailable", err.Error()
		}
	}
	if h.Status != "ok" {
		return http.StatusServiceUnavailable, h, nil
	}
	return http.StatusOK, h, nil
}

func (s *Server) enrollOrg(ctx context.Context, rq *request) (int, any, error) {
	var in wire.Enrollment
	if err := decode(rq.body, &in); err != nil {
		return 0, nil, err
	}
	if rq.p.role != roleAdmin || in.Org != rq.p.org {
		return 0, nil, coded(wire.CodeWrongRole, errs.ErrPermissionDenied, "enrollment must be signed by admin/%s/KEY", in.Org)
	}
	if !s.cfg.OpenEnrollment {
		return 0, nil, coded(wire.CodePermissionDenied, errs.ErrPermissionDenied, "this server does not allow open enrollment; ask its operator to add org %q", in.Org)
	}
	_, _, key, _ := wire.ParseKeyID(rq.p.keyID)
	k, err := passport.ParsePublicKey(key)
	if err != nil {
		return 0, nil, err
	}
	if err := s.enroll(ctx, in.Org, k); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, wire.Enrollment{Org: in.Org}, nil
}

func orgInfo(_ context.Context, rq *request) (int, any, error) {
	role := rq.p.role
	return http.StatusOK, wire.OrgInfo{Org: rq.p.org, LedgerKey: rq.c.LedgerKey(), Principal: rq.p.keyID, Role: role}, nil
}

func envelope(body []byte) (*passport.Envelope, error) {
	var in wire.PassportBody
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Envelope == nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "envelope is required")
	}
	return in.Envelope, nil
}

func registerPassport(ctx context.Context, rq *request) (int, any, error) {
	if err := requireAdmin(rq.p, "register passports"); err != nil {
		return 0, nil, err
	}
	env, err := envelope(rq.body)
	if err != nil {
		return 0, nil, err
	}
	p, err := rq.c.RegisterPassport(ctx, env)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, wire.FromPassport(p), nil
}

func getPassport(ctx context.Context, rq *request) (int, any, error) {
	p, err := rq.c.Passports().Get(ctx, rq.p.org, rq.r.PathValue("did"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, wire.FromPassport(p), nil
}

// updatePassport applies a signed passport event. Any principal of the org
// may relay one: the event's own signatures (the holder's key, or its
// guardians' quorum) are what the library verifies.
func updatePassport(ctx context.Context, rq *request) (int, any, error) {
	env, err := envelope(rq.body)
	if err != nil {
		return 0, nil, err
	}
	p, err := rq.c.UpdatePassport(ctx, env)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, wire.FromPassport(p), nil
}

func delegate(ctx context.Context, rq *request) (int, any, error) {
	env, err := envelope(rq.body)
	if err != nil {
		return 0, nil, err
	}
	d, err := passport.ParseDelegation(env)
	if err != nil {
		return 0, nil, err
	}
	if err := adminOr(rq.p, d.Issuer, "record a delegation issued by "+d.Issuer); err != nil {
		return 0, nil, err
	}
	if d, err = rq.c.Delegate(ctx, env); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, wire.Delegation{ID: d.ID, Envelope: d.Envelope}, nil
}

func revokeDelegation(ctx context.Context, rq *request) (int, any, error) {
	env, err := envelope(rq.body)
	if err != nil {
		return 0, nil, err
	}
	rev, err := passport.ParseRevocation(env)
	if err != nil {
		return 0, nil, err
	}
	if err := adminOr(rq.p, rev.Revoker, "record a revocation by "+rev.Revoker); err != nil {
		return 0, nil, err
	}
	if err := rq.c.RevokeDelegation(ctx, env); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

func grant(ctx context.Context, rq *request) (int, any, error) {
	if err := requireAdmin(rq.p, "grant capabilities"); err != nil {
		return 0, nil, err
	}
	var in wire.Grant
	if err := decode(rq.body, &in); err != nil {
		return 0, nil, err
	}
	if err := rq.c.Grant(ctx, in.Subject, in.Capability); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

func addMember(ctx context.Context, rq *request) (int, any, error) {
	if err := requireAdmin(rq.p, "change team membership"); err != nil {
		return 0, nil, err
	}
	var in wire.Member
	if err := decode(rq.body, &in); err != nil {
		return 0, nil, err
	}
	if err := rq.c.AddMember(ctx, in.Member, in.Team); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// policyChange decodes a signed policy change; the caller must be the
// org admin or the passport that signed it (the library then checks that
// the signer is a policy admin).
func policyChange(rq *request) (*passport.Envelope, error) {
	env, err := envelope(rq.body)
	if err != nil {
		return nil, err
	}
	ch, err := policy.ParseChange(env)
	if err != nil {
		return nil, err
	}
	if err := adminOr(rq.p, ch.Admin, "submit a policy change signed by "+ch.Admin); err != nil {
		return nil, err
	}
	return env, nil
}

func wirePolicy(p *policy.Policy, withSource bool) wire.Policy {
	w := wire.Policy{Version: p.Version, Digest: p.Digest}
	if withSource && p.Document != nil {
		w.Filename, w.Source = p.Document.Filename, string(p.Document.Source)
	}
	return w
}

func publishPolicy(ctx context.Context, rq *request) (int, any, error) {
	env, err := policyChange(rq)
	if err != nil {
		return 0, nil, err
	}
	p, err := rq.c.PublishPolicy(ctx, env)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, wirePolicy(p, false), nil
}

func activatePolicy(ctx context.Context, rq *request) (int, any, error) {
	env, err := policyChange(rq)
	if err != nil {
		return 0, nil, err
	}
	p, err := rq.c.ActivatePolicy(ctx, env)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, wirePolicy(p, true), nil
}

func activePolicy(ctx context.Context, rq *request) (int, any, error) {
	p, err := rq.c.ActivePolicy(ctx)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, wirePolicy(p, true), nil
}

func latestPolicy(ctx context.Context, rq *request) (int, any, error) {
	v, err := rq.c.LatestPolicyVersion(ctx)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, wire.PolicyVersion{Version: v}, nil
}

func (s *Server) call(ctx context.Context, rq *request) (int, any, error) {
	var in wire.CallRequest
	if err := decode(rq.body, &in); err != nil {
		return 0, nil, err
	}
	if err := adminOr(rq.p, in.Agent, "make calls for agent "+in.Agent); err != nil {
		return 0, nil, err
	}
	out, err := rq.c.Call(ctx, human.Request{Agent: in.Agent, Delegation: in.Delegation, Action: in.Action, Resource: in.Resource, Attributes: in.Attributes})
	if err != nil {
		return 0, nil, err
	}
	s.metrics.calls.WithLabelValues(string(out.Status)).Inc()
	return http.StatusOK, wireOutcome(out), nil
}

// WireOutcome encodes an outcome for the wire.
func wireOutcome(o *human.Outcome) *wire.Outcome {
	return &wire.Outcome{Status: string(o.Status), Reason: o.Reason, Cause: wire.NewCause(o.Cause),
		Decision: wire.FromDecision(o.Decision), Chain: wire.FromChain(o.Chain), Task: o.Task, Receipts: o.Receipts}
}

// taskReader may read a task: the admin, the task's agent, its requester or
// a candidate approver.
func taskReader(p *principal, t *workforce.Task) bool {
	return p.role == roleAdmin || p.did != "" && (p.did == t.Agent || p.did == t.Requester || slices.Contains(t.Candidates, p.did))
}

func getTask(ctx context.Context, rq *request) (int, any, error) {
	t, err := rq.c.Task(ctx, rq.r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	if !taskReader(rq.p, t) {
		return 0, nil, wrongRole(rq.p, "read task "+t.ID)
	}
	return http.StatusOK, t, nil
}

func (s *Server) taskOutcome(ctx context.Context, rq *request) (int, any, error) {
	var wait time.Duration
	if v := rq.r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return 0, nil, errs.Errorf(errs.ErrInvalidArgument, "wait %q: want a duration such as 30s", v)
		}
		wait = min(d, s.cfg.MaxWait)
	}
	o, err := rq.c.Resume(ctx, rq.r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	if rq.p.role != roleAdmin && (o.Task == nil || rq.p.did != o.Task.Agent) {
		return 0, nil, wrongRole(rq.p, "wait on this task")
	}
	if o.Status != human.Pending || wait == 0 {
		return http.StatusOK, wireOutcome(o), nil
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	go func() {
		select {
		case <-s.draining:
			cancel()
		case <-wctx.Done():
		}
	}()
	final, err := o.Wait(wctx)
	if err != nil {
		if ctx.Err() == nil && wctx.Err() != nil { // the poll ended, not the caller
			return http.StatusOK, wireOutcome(o), nil
		}
		return 0, nil, err
	}
	return http.StatusOK, wireOutcome(final), nil
}

func decide(ctx context.Context, rq *request) (int, any, error) {
	var in wire.VoteBody
	if err := decode(rq.body, &in); err != nil {
		return 0, nil, err
	}
	if in.Vote == nil {
		return 0, nil, errs.Errorf(errs.ErrInvalidArgument, "vote is required")
	}
	v, err := workforce.DecodeVote(in.Vote)
	if err != nil {
		return 0, nil, err
	}
	if err := adminOr(rq.p, v.Approver, "submit a vote of "+v.Approver); err != nil {
		return 0, nil, err
	}
	d, err := rq.c.Decide(ctx, rq.r.PathValue("id"), in.Vote)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, wire.DecideResult{Task: d.Task, Receipt: d.Receipt}, nil
}

func inbox(ctx context.Context, rq *request) (int, any, error) {
	did := rq.r.PathValue("did")
	if err := adminOr(rq.p, did, "read the inbox of "+did); err != nil {
		return 0, nil, err
	}
	ts, err := rq.c.Inbox(ctx, did)
	if err != nil {
		return 0, nil, err
	}
	if ts == nil {
		ts = []*workforce.Task{}
	}
	return http.StatusOK, wire.Inbox{Tasks: ts}, nil
}

func appendEntry(ctx context.Context, rq *request) (int, any, error) {
	if err := requireAdmin(rq.p, "append ledger entries"); err != nil {
		return 0, nil, err
	}
	var in wire.Entry
	if err := decode(rq.body, &in); err != nil {
		return 0, nil, err
	}
	r, err := rq.c.Ledger().Append(ctx, in.Entry)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, wire.Receipt{Receipt: r}, nil
}

func checkpoint(ctx context.Context, rq *request) (int, any, error) {
	cp, note, err := rq.c.Ledger().Checkpoint(ctx)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, wire.Checkpoint{Size: cp.Size, Checkpoint: string(note)}, nil
}

func index(rq *request) (uint64, error) {
	n, err := strconv.ParseUint(rq.r.PathValue("index"), 10, 64)
	if err != nil {
		return 0, errs.Errorf(errs.ErrInvalidArgument, "index %q: want a non-negative integer", rq.r.PathValue("index"))
	}
	return n, nil
}

func receipt(ctx context.Context, rq *request) (int, any, error) {
	n, err := index(rq)
	if err != nil {
		return 0, nil, err
	}
	r, err := rq.c.Ledger().Receipt(ctx, n)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, wire.Receipt{Receipt: r}, nil
}

func entry(ctx context.Context, rq *request) (int, any, error) {
	if err := requireAdmin(rq.p, "read raw ledger entries"); err != nil {
		return 0, nil, err
	}
	n, err := index(rq)
	if err != nil {
		return 0, nil, err
	}
	e, err := rq.c.Ledger().Entry(ctx, n)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, wire.Entry{Entry: e}, nil
}

func consistency(ctx context.Context, rq *request) (int, any, error) {
	q := rq.r.URL.Query()
	old, err1 := strconv.ParseUint(q.Get("old"), 10, 64)
	nw, err2 := strconv.ParseUint(q.Get("new"), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, nil, errs.Errorf(errs.ErrInvalidArgument, "old and new must be tree sizes")
	}
	proof, err := rq.c.Ledger().ConsistencyProof(ctx, old, nw)
	if err != nil {
		return 0, nil, err
	}
	if proof == nil {
		proof = [][]byte{}
	}
	return http.StatusOK, wire.ConsistencyProof{Old: old, New: nw, Proof: proof}, nil
}

func rt(method, pattern string, auth int, h func(context.Context, *request) (int, any, error)) *route {
	return &route{method: method, pattern: pattern, auth: auth, handle: h}
}
