package capability

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// ClaimType is the DSSE payload type of a signed capability claim.
const ClaimType = "application/vnd.humanos.capability-claim+json"

// AdminCapability is the capability that lets a human sign org-scoped
// claims (grants, memberships, role assignments) for the org.
const AdminCapability = "capability.admin"

// SkillPrefix starts the name of every capability a human may claim for
// themselves ([ClaimSkill]). Self-claims cannot name any other capability,
// so nobody grants themselves an org's approval rights; policies that need
// an org-vouched skill require a capability outside this namespace.
const SkillPrefix = "skill."

// ClaimKind is what a claim asserts.
type ClaimKind string

// The claim kinds. All but [ClaimSkill] are org-scoped: only the org (its
// signer or an org passport) or a human holding [AdminCapability] may sign
// them. A skill claim is personal: only the human it is about may sign it.
const (
	// ClaimGrant: Subject (human, agent, team or org) holds capability Object.
	ClaimGrant ClaimKind = "grant"
	// ClaimMember: Subject is a member of team (or org) Object.
	ClaimMember ClaimKind = "member_of"
	// ClaimRole: Subject has role Object.
	ClaimRole ClaimKind = "has_role"
	// ClaimRoleGrant: role Subject grants capability Object.
	ClaimRoleGrant ClaimKind = "grants"
	// ClaimSkill: human Subject, who signs it, holds capability Object as
	// a personal skill.
	ClaimSkill ClaimKind = "skill"
)

// Claim is a signed statement that changes an org's graph. ID is chosen by
// the issuer and must be unique within the org: a claim is applied at most
// once, so a replayed envelope is refused.
type Claim struct {
	ID       string    `json:"id"`
	Org      string    `json:"org"`
	Kind     ClaimKind `json:"kind"`
	Issuer   string    `json:"issuer"` // DID of the signer, or OrgIssuer(org)
	Subject  string    `json:"subject"`
	Object   string    `json:"object"`
	Level    int       `json:"level,omitempty"`
	Expires  time.Time `json:"expires,omitzero"`
	Evidence []string  `json:"evidence,omitempty"` // pointers (URLs, ledger indexes) the issuer relies on
	Created  time.Time `json:"created"`
}

// OrgIssuer is the issuer name of claims signed by the org's own signer
// key (the key that signs the org's ledger checkpoints).
func OrgIssuer(org string) string { return "org:" + org }

// maxClaimPayload bounds a claim's payload; a real one is a few hundred bytes.
const maxClaimPayload = 8192

// maxEvidence bounds the evidence pointers of one claim.
const maxEvidence = 32

func (c Claim) validate() error {
	for _, f := range []struct{ name, v string }{{"id", c.ID}, {"org", c.Org}, {"issuer", c.Issuer}, {"subject", c.Subject}, {"object", c.Object}} {
		if err := validID("claim "+f.name, f.v); err != nil {
			return err
		}
	}
	if _, ok := claimEdge[c.Kind]; !ok {
		return errs.Errorf(errs.ErrInvalidArgument, "capability: claim %q has unknown kind %q", c.ID, c.Kind)
	}
	if c.Level < 0 {
		return errs.Errorf(errs.ErrInvalidArgument, "capability: claim %q has negative level %d", c.ID, c.Level)
	}
	if c.Created.IsZero() {
		return errs.Errorf(errs.ErrInvalidArgument, "capability: claim %q has no creation time", c.ID)
	}
	if len(c.Evidence) > maxEvidence {
		return errs.Errorf(errs.ErrInvalidArgument, "capability: claim %q has %d evidence pointers, at most %d", c.ID, len(c.Evidence), maxEvidence)
	}
	for _, ev := range c.Evidence {
		if err := validID("claim evidence", ev); err != nil {
			return err
		}
	}
	return nil
}

// claimEdge maps a claim kind to the edge it writes.
var claimEdge = map[ClaimKind]EdgeKind{
	ClaimGrant: Holds, ClaimMember: MemberOf, ClaimRole: HasRole, ClaimRoleGrant: Grants, ClaimSkill: Holds,
}

// Edge is the edge the claim writes.
func (c Claim) Edge() Edge {
	return Edge{From: c.Subject, To: c.Object, Kind: claimEdge[c.Kind], Level: c.Level, Expires: c.Expires, Issuer: c.Issuer}
}

// SignClaim validates c and seals it in an envelope signed by signer.
func SignClaim(signer passport.Signer, c Claim) (*passport.Envelope, error) {
	c.Created = c.Created.UTC()
	if !c.Expires.IsZero() {
		c.Expires = c.Expires.UTC()
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "capability: claim: %v", err)
	}
	return passport.Seal(ClaimType, payload, signer)
}

// DecodeClaim parses and shape-checks a claim envelope's payload. It does
// not verify signatures ([Graph.ApplyClaim] does). A nil envelope, a wrong
// payload type, an oversized or malformed payload, unknown fields, trailing
// data or an invalid claim is errs.ErrInvalidArgument.
func DecodeClaim(env *passport.Envelope) (Claim, error) {
	if env == nil {
		return Claim{}, errs.Errorf(errs.ErrInvalidArgument, "capability: nil claim envelope")
	}
	if env.PayloadType != ClaimType {
		return Claim{}, errs.Errorf(errs.ErrInvalidArgument, "capability: payload type %q, want %q", env.PayloadType, ClaimType)
	}
	if len(env.Payload) > maxClaimPayload {
		return Claim{}, errs.Errorf(errs.ErrInvalidArgument, "capability: claim payload is %d bytes, at most %d allowed", len(env.Payload), maxClaimPayload)
	}
	dec := json.NewDecoder(bytes.NewReader(env.Payload))
	dec.DisallowUnknownFields()
	var c Claim
	if err := dec.Decode(&c); err != nil {
		return Claim{}, errs.Errorf(errs.ErrInvalidArgument, "capability: claim payload: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Claim{}, errs.Errorf(errs.ErrInvalidArgument, "capability: claim payload: trailing data after the JSON object")
	}
	if err := c.validate(); err != nil {
		return Claim{}, err
	}
	return c, nil
}

// IssuerRole is what an issuer may sign.
type IssuerRole string

// The issuer roles.
const (
	// IssuerOrgRole: the org itself (its signer key, or an org passport).
	IssuerOrgRole IssuerRole = "org"
	// IssuerHumanRole: a human passport; org-scoped claims need
	// [AdminCapability] too.
	IssuerHumanRole IssuerRole = "human"
)

// Issuers resolves a claim issuer to its role and current keys.
type Issuers interface {
	// Issuer returns the role and the current verifying keys of issuer in
	// org. An unknown issuer is errs.ErrNotFound; an issuer that may sign
	// no claim at all (an agent, a revoked passport) is
	// errs.ErrPermissionDenied.
	Issuer(ctx context.Context, org, issuer string) (IssuerRole, []passport.PublicKey, error)
}

// ClaimStore is an optional extension of [Store]: the IDs of claims
// already applied, so each is applied at most once. [Graph.ApplyClaim]
// refuses claims when the store lacks it.
type ClaimStore interface {
	// RecordClaim records that the claim id of org (whose payload has the
	// SHA-256 digest, hex) is applied. It returns errs.ErrConflict, and
	// records nothing, if id is already recorded for org. Contexts and
	// errors are otherwise as for [Store].
	RecordClaim(ctx context.Context, org, id, digest string) error
}

// ApplyClaim verifies a signed claim and writes its edge into org:
//
//   - the envelope must decode ([DecodeClaim]; errs.ErrInvalidArgument);
//   - the claim must be for org (errs.ErrPermissionDenied otherwise);
//   - it must be signed by a current key of its issuer, as issuers
//     resolves it (errs.ErrUnauthenticated otherwise);
//   - an org-scoped claim must come from the org, or from a human who holds
//     [AdminCapability] in org; a skill claim only from the human it is
//     about (errs.ErrPermissionDenied otherwise);
//   - its ID must not have been applied before (errs.ErrConflict).
//
// Every refusal changes nothing. The claim's ID is recorded before the
// edge is written: if writing the edge then fails (a missing node, a bad
// end kind), the claim is spent and a corrected claim needs a new ID. The
// store must be a [ClaimStore] (errs.ErrFailedPrecondition otherwise).
func (g *Graph) ApplyClaim(ctx context.Context, org string, env *passport.Envelope, issuers Issuers) (Claim, error) {
	c, err := g.VerifyClaim(ctx, org, env, issuers)
	if err != nil {
		return Claim{}, err
	}
	cs, ok := g.store.(ClaimStore)
	if !ok {
		return Claim{}, errs.Errorf(errs.ErrFailedPrecondition, "capability: this graph store keeps no claim record, so signed claims cannot be applied exactly once")
	}
	e := c.Edge()
	// Check the edge before spending the claim, so an ill-formed claim
	// (wrong node kinds, missing node) is refused without burning its ID.
	if err := g.checkEdge(ctx, org, e, c.implied()); err != nil {
		return Claim{}, err
	}
	sum := sha256.Sum256(env.Payload)
	if err := cs.RecordClaim(ctx, org, c.ID, hex.EncodeToString(sum[:])); err != nil {
		if errs.Kind(err) == errs.ErrConflict {
			return Claim{}, errs.Errorf(errs.ErrConflict, "capability: claim %q was already applied (replay?): %w", c.ID, err)
		}
		return Claim{}, err
	}
	for _, n := range c.implied() {
		if err := g.ensureNode(ctx, org, n); err != nil {
			return Claim{}, err
		}
	}
	if err := g.AddEdge(ctx, org, e); err != nil {
		return Claim{}, err
	}
	return c, nil
}

// VerifyClaim is the checks of [Graph.ApplyClaim] without applying the
// claim or recording its ID: it decodes, checks the org, the signature and
// the issuer's authority, and returns the claim.
func (g *Graph) VerifyClaim(ctx context.Context, org string, env *passport.Envelope, issuers Issuers) (Claim, error) {
	c, err := DecodeClaim(env)
	if err != nil {
		return Claim{}, err
	}
	if err := validID("org", org); err != nil {
		return Claim{}, err
	}
	if c.Org != org {
		return Claim{}, errs.Errorf(errs.ErrPermissionDenied, "capability: claim %q is for org %q, not %q", c.ID, c.Org, org)
	}
	if issuers == nil {
		return Claim{}, errs.Errorf(errs.ErrInvalidArgument, "capability: no issuer resolver")
	}
	role, keys, err := issuers.Issuer(ctx, org, c.Issuer)
	if err != nil {
		return Claim{}, err
	}
	verified := false
	for _, k := range keys {
		if env.VerifiedBy(k) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return Claim{}, errs.Errorf(errs.ErrUnauthenticated, "capability: claim %q is not signed by a current key of its issuer %s", c.ID, c.Issuer)
	}
	switch {
	case c.Kind == ClaimSkill:
		if role != IssuerHumanRole || c.Issuer != c.Subject {
			return Claim{}, errs.Errorf(errs.ErrPermissionDenied, "capability: skill claim %q about %s is signed by %s: only that human may claim their own skills", c.ID, c.Subject, c.Issuer)
		}
		if !strings.HasPrefix(c.Object, SkillPrefix) || len(c.Object) == len(SkillPrefix) {
			return Claim{}, errs.Errorf(errs.ErrPermissionDenied, "capability: skill claim %q names %q: a self-claimed skill must be named %s<name>; other capabilities are granted by the org", c.ID, c.Object, SkillPrefix)
		}
	case role == IssuerOrgRole:
	case role == IssuerHumanRole:
		_, held, err := g.Holds(ctx, org, c.Issuer, AdminCapability)
		if err != nil {
			return Claim{}, err
		}
		if !held {
			return Claim{}, errs.Errorf(errs.ErrPermissionDenied, "capability: %s claim %q is signed by %s, who does not hold %s", c.Kind, c.ID, c.Issuer, AdminCapability)
		}
	default:
		return Claim{}, errs.Errorf(errs.ErrPermissionDenied, "capability: issuer %s (%s) may not sign claims", c.Issuer, role)
	}
	return c, nil
}

// implied lists the nodes a claim creates when they are missing: the
// capability it grants, the team it joins someone to, the role it assigns
// or defines. People (humans, agents) are never created by a claim: they
// come from registered passports.
func (c Claim) implied() []Node {
	switch c.Kind {
	case ClaimGrant, ClaimSkill:
		return []Node{{ID: c.Object, Kind: Capability, Name: c.Object}}
	case ClaimMember:
		return []Node{{ID: c.Object, Kind: Team, Name: c.Object}}
	case ClaimRole:
		return []Node{{ID: c.Object, Kind: Role, Name: c.Object}}
	case ClaimRoleGrant:
		return []Node{{ID: c.Subject, Kind: Role, Name: c.Subject}, {ID: c.Object, Kind: Capability, Name: c.Object}}
	}
	return nil
}

// ensureNode creates n if no node has its ID.
func (g *Graph) ensureNode(ctx context.Context, org string, n Node) error {
	_, err := g.store.Node(ctx, org, n.ID)
	if errs.Kind(err) == errs.ErrNotFound {
		return g.store.PutNode(ctx, org, n)
	}
	return err
}

// checkEdge validates e as [Graph.AddEdge] would, without writing it. A
// missing end that is one of the implied nodes is taken as that node
// (ApplyClaim creates it).
func (g *Graph) checkEdge(ctx context.Context, org string, e Edge, implied []Node) error {
	ends := allowedEnds[e.Kind]
	if e.From == e.To {
		return errs.Errorf(errs.ErrInvalidArgument, "capability: %s edge from %q to itself", e.Kind, e.From)
	}
	lookup := func(id string) (Node, error) {
		n, err := g.store.Node(ctx, org, id)
		if errs.Kind(err) == errs.ErrNotFound {
			for _, m := range implied {
				if m.ID == id {
					return m, nil
				}
			}
		}
		return n, err
	}
	from, err := lookup(e.From)
	if err != nil {
		return err
	}
	to, err := lookup(e.To)
	if err != nil {
		return err
	}
	for _, k := range []struct {
		n    Node
		want []NodeKind
	}{{from, ends.from}, {to, ends.to}} {
		ok := false
		for _, w := range k.want {
			ok = ok || k.n.Kind == w
		}
		if !ok {
			return errs.Errorf(errs.ErrInvalidArgument, "capability: a %s edge cannot go from %s %q to %s %q (allowed: %v -> %v)",
				e.Kind, from.Kind, e.From, to.Kind, e.To, ends.from, ends.to)
		}
	}
	return nil
}
