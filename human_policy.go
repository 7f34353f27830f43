package human

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
)

// PublishPolicy applies a signed policy change that publishes a document
// (made on the admin's device with policy.SignChange): the document is
// validated, stored as version Base+1 and activated, and the change is
// attested on the ledger with the version, digest and signer.
//
// The signer must be an admin of this org: a human passport holding
// policy.AdminCapability, or the org's own passport; the envelope must
// verify with one of the signer's current keys (errs.ErrUnauthenticated
// otherwise, errs.ErrPermissionDenied for a non-admin). An invalid document
// changes nothing and the error names the file, rule and position. A
// change whose Base is no longer the latest version (stale or replayed) is
// errs.ErrConflict.
func (c *Client) PublishPolicy(ctx context.Context, change *passport.Envelope) (*policy.Policy, error) {
	if c.remote != nil {
		return c.remote.rc.PublishPolicy(ctx, change)
	}
	ch, err := c.policyAdmin(ctx, change)
	if err != nil {
		return nil, err
	}
	if len(ch.Document) == 0 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "publish policy: the change activates version %d; use ActivatePolicy", ch.Activate)
	}
	p, err := c.policies.PublishAt(ctx, c.org, ch.Filename, ch.Document, ch.Base)
	if err != nil {
		return nil, err
	}
	return p, c.attestPolicyChange(ctx, "publish", p, ch, change)
}

// ActivatePolicy applies a signed change that activates a stored version:
// a rollback (or roll-forward) in one call. The change's Base must be the
// active version (errs.ErrConflict otherwise); errs.ErrNotFound if the
// version does not exist. Admin checks are those of PublishPolicy.
func (c *Client) ActivatePolicy(ctx context.Context, change *passport.Envelope) (*policy.Policy, error) {
	if c.remote != nil {
		return c.remote.rc.ActivatePolicy(ctx, change)
	}
	ch, err := c.policyAdmin(ctx, change)
	if err != nil {
		return nil, err
	}
	if ch.Activate == 0 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "activate policy: the change publishes a document; use PublishPolicy")
	}
	p, err := c.policies.ActivateFrom(ctx, c.org, ch.Activate, ch.Base)
	if err != nil {
		return nil, err
	}
	return p, c.attestPolicyChange(ctx, "activate", p, ch, change)
}

// ActivePolicy returns the org's active policy, compiled; errs.ErrNotFound
// when there is none.
func (c *Client) ActivePolicy(ctx context.Context) (*policy.Policy, error) {
	if c.remote != nil {
		return c.remote.rc.ActivePolicy(ctx)
	}
	return c.policies.Active(ctx, c.org)
}

// policyAdmin parses a signed change and checks that an admin of this org
// signed it.
func (c *Client) policyAdmin(ctx context.Context, change *passport.Envelope) (*policy.Change, error) {
	ch, err := policy.ParseChange(change)
	if err != nil {
		return nil, err
	}
	if ch.Org != c.org {
		return nil, errs.Errorf(errs.ErrPermissionDenied, "policy change is for org %q, not %q", ch.Org, c.org)
	}
	admin, err := c.passports.Get(ctx, c.org, ch.Admin)
	if err != nil {
		return nil, err
	}
	if admin.Revoked {
		return nil, errs.Errorf(errs.ErrPermissionDenied, "policy change: passport %s is revoked", admin.DID)
	}
	verified := false
	for _, k := range admin.Keys {
		if change.VerifiedBy(k) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "policy change: not signed by a current key of %s", admin.DID)
	}
	switch admin.Kind {
	case passport.KindOrg:
	case passport.KindHuman:
		held, err := c.graph.Checker().Holds(ctx, c.org, admin.DID, policy.AdminCapability)
		if err != nil {
			return nil, err
		}
		if !held {
			return nil, errs.Errorf(errs.ErrPermissionDenied, "policy change: %s does not hold %s", admin.DID, policy.AdminCapability)
		}
	default:
		return nil, errs.Errorf(errs.ErrPermissionDenied, "policy change: a %s passport cannot change policy", admin.Kind)
	}
	return ch, nil
}

func (c *Client) attestPolicyChange(ctx context.Context, kind string, p *policy.Policy, ch *policy.Change, change *passport.Envelope) error {
	raw, err := change.Marshal()
	if err != nil {
		return err
	}
	st, err := ledger.NewStatement(ledger.PredicatePolicyChange,
		map[string]any{"org": c.org, "change": kind, "version": p.Version, "digest": p.Digest, "file": ch.Filename,
			"signer": ch.Admin, "base": ch.Base, "time": c.now().UTC(), "signed": json.RawMessage(raw)},
		ledger.Subject{Name: fmt.Sprintf("policy/%s/v%d", c.org, p.Version), Digest: map[string]string{"sha256": p.Digest}})
	if err != nil {
		return err
	}
	_, err = c.attestWait(ctx, st)
	return err
}

// StartShadow compiles a candidate policy document and evaluates it beside
// the active policy on every following Call, without enforcing it; the
// returned Shadow's Report gives the decision diff. It replaces a running
// shadow. The candidate is compared in the background, so Call pays only
// for a queue send.
func (c *Client) StartShadow(filename string, data []byte, opts ...policy.ShadowOption) (*policy.Shadow, error) {
	if c.remote != nil {
		return c.remote.startShadow(filename, data, opts...) // human_remote_more.go
	}
	doc, err := policy.Parse(filename, data)
	if err != nil {
		return nil, err
	}
	p, err := c.engine.Compile(doc)
	if err != nil {
		return nil, err
	}
	s := policy.NewShadow(c.engine, p, opts...)
	c.shadow.Store(s)
	return s, nil
}

// StopShadow stops shadow evaluation and returns the shadow that ran (nil
// if none); its Report stays readable.
func (c *Client) StopShadow() *policy.Shadow { return c.shadow.Swap(nil) }

// LatestPolicyVersion is the highest stored policy version (0: none): the
// Base an admin signs the next publish against.
func (c *Client) LatestPolicyVersion(ctx context.Context) (int, error) {
	if c.remote != nil {
		return c.remote.rc.LatestPolicyVersion(ctx)
	}
	return c.policies.Latest(ctx, c.org)
}
