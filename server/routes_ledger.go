package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/internal/wire"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/workforce"
)

// queryParams are the query parameters GET /v1/attestations accepts.
var queryParams = map[string]bool{"kind": true, "org": true, "actor": true, "action": true, "subject": true,
	"since": true, "until": true, "limit": true, "cursor": true, "proofs": true}

// attestations answers a ledger query (Client.Attestations) for any
// principal of the org: the ledger's read routes are the org's.
func attestations(ctx context.Context, rq *request) (int, any, error) {
	v := rq.r.URL.Query()
	for k, vs := range v {
		if !queryParams[k] || len(vs) != 1 {
			return 0, nil, errs.Errorf(errs.ErrInvalidArgument, "query parameter %q: unknown or repeated", k)
		}
	}
	q := &ledger.Query{Filter: ledger.Filter{Kind: v.Get("kind"), Org: v.Get("org"), Actor: v.Get("actor"),
		Action: v.Get("action"), Subject: v.Get("subject")}, Cursor: v.Get("cursor")}
	for name, dst := range map[string]*time.Time{"since": &q.Since, "until": &q.Until} {
		if s := v.Get(name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return 0, nil, errs.Errorf(errs.ErrInvalidArgument, "%s %q: want an RFC 3339 time", name, s)
			}
			*dst = t
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, nil, errs.Errorf(errs.ErrInvalidArgument, "limit %q: want an integer", s)
		}
		q.Limit = n
	}
	if s := v.Get("proofs"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return 0, nil, errs.Errorf(errs.ErrInvalidArgument, "proofs %q: want true or false", s)
		}
		q.Proofs = b
	}
	page, err := rq.c.Attestations(ctx, q)
	if err != nil {
		return 0, nil, err
	}
	out := wire.AttestationPage{Attestations: make([]wire.FoundAttestation, len(page.Attestations)), Next: page.Next, Checkpoint: string(page.Checkpoint)}
	for i, a := range page.Attestations {
		out.Attestations[i] = wire.FoundAttestation{Index: a.Index, Entry: a.Entry, Receipt: a.Receipt}
	}
	return http.StatusOK, out, nil
}

// setAvailability records a human's signed availability change; the
// admin or that human may relay it (the library checks the signature).
func setAvailability(ctx context.Context, rq *request) (int, any, error) {
	env, err := envelope(rq.body)
	if err != nil {
		return 0, nil, err
	}
	a, err := workforce.DecodeAvailability(env)
	if err != nil {
		return 0, nil, err
	}
	if err := adminOr(rq.p, a.Human, "set the availability of "+a.Human); err != nil {
		return 0, nil, err
	}
	got, err := rq.c.SetAvailability(ctx, env)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, wire.Availability{Human: got.Human, Away: got.Away, Until: got.Until}, nil
}

// cancelTask withdraws an open task: the admin, or the task's agent or
// requester, may.
func cancelTask(ctx context.Context, rq *request) (int, any, error) {
	var in wire.Cancellation
	if err := decode(rq.body, &in); err != nil {
		return 0, nil, err
	}
	id := rq.r.PathValue("id")
	t, err := rq.c.Task(ctx, id)
	if err != nil {
		return 0, nil, err
	}
	if rq.p.role != roleAdmin && (rq.p.did == "" || (rq.p.did != t.Agent && rq.p.did != t.Requester)) {
		return 0, nil, wrongRole(rq.p, "cancel task "+t.ID)
	}
	t, err = rq.c.CancelTask(ctx, id, in.Reason)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, t, nil
}
