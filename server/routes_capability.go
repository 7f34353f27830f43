package server

import (
	"context"
	"net/http"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/internal/wire"
)

// claim applies a signed capability claim. The relaying principal must be
// the org admin or the claim's own issuer; the library then verifies the
// claim's signature and the issuer's authority (Client.Claim), so a
// relayed claim counts exactly as it would in the embedded profile.
func claim(ctx context.Context, rq *request) (int, any, error) {
	env, err := envelope(rq.body)
	if err != nil {
		return 0, nil, err
	}
	cl, err := capability.DecodeClaim(env)
	if err != nil {
		return 0, nil, err
	}
	if err := adminOr(rq.p, cl.Issuer, "relay a claim issued by "+cl.Issuer); err != nil {
		return 0, nil, err
	}
	res, err := rq.c.Claim(ctx, env)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, wire.ClaimResult{Claim: res.Claim, Receipt: res.Receipt}, nil
}

// holdingQuery reads the subject and capability query parameters, both
// required; the caller must be the admin or the subject.
func holdingQuery(rq *request, what string) (subject, capName string, err error) {
	q := rq.r.URL.Query()
	subject, capName = q.Get("subject"), q.Get("capability")
	if subject == "" || capName == "" {
		return "", "", errs.Errorf(errs.ErrInvalidArgument, "subject and capability are required")
	}
	if err := adminOr(rq.p, subject, what+" of "+subject); err != nil {
		return "", "", err
	}
	return subject, capName, nil
}

// capabilityEvidence lists the evidence on one holding (admin or the
// holder).
func capabilityEvidence(ctx context.Context, rq *request) (int, any, error) {
	subject, capName, err := holdingQuery(rq, "read the capability evidence")
	if err != nil {
		return 0, nil, err
	}
	ev, err := rq.c.CapabilityEvidence(ctx, subject, capName)
	if err != nil {
		return 0, nil, err
	}
	if ev == nil {
		ev = []capability.Evidence{}
	}
	return http.StatusOK, wire.Evidence{Subject: subject, Capability: capName, Evidence: ev}, nil
}

// holds answers whether subject holds a capability and by which path
// (admin or the subject). A remote client's policy engine asks it for
// holds() in candidate (shadow) policies.
func holds(ctx context.Context, rq *request) (int, any, error) {
	subject, capName, err := holdingQuery(rq, "ask about the capabilities")
	if err != nil {
		return 0, nil, err
	}
	p, ok, err := rq.c.Holds(ctx, subject, capName)
	if err != nil {
		return 0, nil, err
	}
	if p == nil {
		p = capability.Path{}
	}
	return http.StatusOK, wire.Holding{Subject: subject, Capability: capName, Held: ok, Path: p}, nil
}
