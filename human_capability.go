package human

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/workforce"
)

// Trust model of capability changes.
//
// The embedded app is the org: Client.Grant and Client.AddMember change the
// graph unsigned, acting as the org signer, and attest the change. Anyone
// else changes the graph with a signed claim (capability.SignClaim) passed
// to Client.Claim, which verifies it in the core before it counts:
//
//   - org-scoped claims (grant, member_of, has_role, grants) must be signed
//     by the org: its signer key (issuer capability.OrgIssuer(org)) or a
//     registered org passport; or by a human passport holding
//     capability.AdminCapability in the org;
//   - a skill claim (a human's personal skill) only by that human's own
//     passport;
//   - a claim for another org, a claim not signed by a current key of its
//     issuer, and a claim whose ID was already applied (a replay) are
//     refused. A refusal changes nothing and is not attested.
//
// An applied claim is attested on the ledger with its signed envelope, so
// the change is verifiable by anyone holding the ledger.

// ClaimResult is what Client.Claim returns: the applied claim and the
// receipt of its attestation.
type ClaimResult struct {
	Claim   capability.Claim
	Receipt *ledger.Receipt
}

// Claim verifies a signed capability claim (made with capability.SignClaim)
// and applies it to this org's graph, then attests it with its envelope.
// See the trust model above and capability.Graph.ApplyClaim for the errors:
// errs.ErrInvalidArgument (malformed), errs.ErrUnauthenticated (bad
// signature), errs.ErrPermissionDenied (wrong org, issuer without the
// authority), errs.ErrConflict (claim ID already applied). In the hosted
// profile the server applies it, with the same checks and errors.
func (c *Client) Claim(ctx context.Context, env *passport.Envelope) (*ClaimResult, error) {
	if c.remote != nil {
		return c.remote.claim(ctx, env)
	}
	cl, err := c.graph.ApplyClaim(ctx, c.org, env, claimIssuers{c})
	if err != nil {
		return nil, err
	}
	raw, err := env.Marshal()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(env.Payload)
	st, err := ledger.NewStatement(ledger.PredicateCapabilityChange,
		map[string]any{"org": c.org, "change": string(cl.Kind), "from": cl.Subject, "to": cl.Object, "issuer": cl.Issuer,
			"claim": cl.ID, "level": cl.Level, "time": c.now().UTC(), "signed": json.RawMessage(raw)},
		ledger.Subject{Name: "claim/" + cl.ID, Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}})
	if err != nil {
		return nil, err
	}
	rc, err := c.attestWait(ctx, st)
	if err != nil {
		return nil, err
	}
	return &ClaimResult{Claim: cl, Receipt: rc}, nil
}

// CapabilityEvidence returns the evidence pointers attached to subject's
// holding of a capability (approvals given, tasks completed), oldest
// first. errs.ErrFailedPrecondition when the graph store keeps no evidence
// (in the hosted profile: the server's).
func (c *Client) CapabilityEvidence(ctx context.Context, subject, capabilityName string) ([]capability.Evidence, error) {
	if c.remote != nil {
		return c.remote.rc.Evidence(ctx, subject, capabilityName)
	}
	return c.graph.Evidence(ctx, c.org, subject, capabilityName)
}

// OrgClaimSigner is the signer of claims with issuer
// capability.OrgIssuer(org): the org's own key. Nil in the hosted profile.
func (c *Client) OrgClaimSigner() passport.Signer {
	if c.remote != nil || c.bundle == nil {
		return nil
	}
	return c.bundle.signer
}

// claimIssuers resolves claim issuers: the org signer, or a registered
// passport.
type claimIssuers struct{ c *Client }

func (i claimIssuers) Issuer(ctx context.Context, org, issuer string) (capability.IssuerRole, []passport.PublicKey, error) {
	if issuer == capability.OrgIssuer(org) {
		if i.c.bundle == nil || i.c.bundle.signer == nil {
			return "", nil, errs.Errorf(errs.ErrFailedPrecondition, "capability claims: this client has no org signer")
		}
		return capability.IssuerOrgRole, []passport.PublicKey{i.c.bundle.signer.PublicKey()}, nil
	}
	p, err := i.c.passports.Get(ctx, org, issuer)
	if err != nil {
		return "", nil, err
	}
	if p.Revoked {
		return "", nil, errs.Errorf(errs.ErrPermissionDenied, "capability claims: passport %s is revoked", p.DID)
	}
	switch p.Kind {
	case passport.KindOrg:
		return capability.IssuerOrgRole, p.Keys, nil
	case passport.KindHuman:
		return capability.IssuerHumanRole, p.Keys, nil
	}
	return "", nil, errs.Errorf(errs.ErrPermissionDenied, "capability claims: a %s passport (%s) may not sign claims", p.Kind, p.DID)
}

// capabilityEvidence is the hook Decide runs after a vote counted: an
// approval adds an evidence pointer (the ledger index of the vote's
// attestation) to the approver's holding of the capability the vote was
// cast under. The vote already counted, so a failure here is logged, never
// returned; a store without evidence support is silently skipped.
func (c *Client) capabilityEvidence(ctx context.Context, d *Decision, vote *passport.Envelope) {
	a, err := workforce.DecodeVote(vote)
	if err != nil || a.Verdict != workforce.VerdictApprove || d == nil || d.Task == nil {
		return
	}
	t := d.Task
	capName := t.Capability
	for _, v := range t.Approvals {
		if v.Approver == a.Approver && v.Step >= 0 && v.Step < len(t.Stages) && t.Stages[v.Step].Capability != "" {
			capName = t.Stages[v.Step].Capability
		}
	}
	if capName == "" {
		return
	}
	ev := capability.Evidence{Kind: "approval", Task: t.ID, At: a.Created}
	if d.Receipt != nil {
		ev.Ref = "ledger:" + strconv.FormatUint(d.Receipt.Index, 10)
	} else { // attestation still pending (AsyncAttest): point at the vote itself
		sum := sha256.Sum256(vote.Payload)
		ev.Ref = "vote:" + hex.EncodeToString(sum[:])
	}
	if ev.At.IsZero() {
		ev.At = c.now()
	}
	err = c.graph.AddEvidence(ctx, c.org, a.Approver, capName, ev)
	if err != nil && errs.Kind(err) != errs.ErrFailedPrecondition {
		c.log.Warn(fmt.Sprintf("capability evidence for %s on %s not recorded", a.Approver, capName), "task", t.ID, "err", err)
	}
}
