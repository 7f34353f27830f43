package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// ChangePayloadType is the DSSE payload type of a signed policy change.
const ChangePayloadType = "application/vnd.human.policy-change+json"

// AdminCapability is the capability a human passport must hold for its
// signed policy changes to count. An org passport (a deployment's service
// identity, e.g. a CI pipeline) may sign changes without it.
const AdminCapability = "policy.admin"

// Change is a policy change an admin signs on their device: publish a new
// document as the next version, or activate a stored version (a rollback
// or roll-forward). Base pins the state the admin saw, so a change applies
// once and a replayed or stale one is refused.
type Change struct {
	// Org is the org whose policy changes.
	Org string `json:"org"`
	// Admin is the DID of the signing passport.
	Admin string `json:"admin"`
	// Filename names Document in messages and attestations.
	Filename string `json:"filename,omitempty"`
	// Document is the new version's source (publish); empty for activate.
	Document []byte `json:"document,omitempty"`
	// Activate is the stored version to make active; 0 for publish.
	Activate int `json:"activate,omitempty"`
	// Base is, for a publish, the latest version the admin saw (the new
	// one will be Base+1); for an activate, the active version the admin
	// saw (0: none).
	Base int `json:"base"`
	// Created is when the admin signed.
	Created time.Time `json:"created"`
}

// SignChange checks c's shape and signs it with the admin's key.
func SignChange(admin passport.Signer, c Change) (*passport.Envelope, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "policy change: %v", err)
	}
	return passport.Seal(ChangePayloadType, payload, admin)
}

// ParseChange decodes a signed change's payload (strictly: unknown fields
// are errors) and checks its shape. It does not verify the signature: the
// caller checks it against the admin's passport keys.
func ParseChange(env *passport.Envelope) (*Change, error) {
	if env == nil || env.PayloadType != ChangePayloadType {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "policy change: want payload type %s", ChangePayloadType)
	}
	var c Change
	dec := json.NewDecoder(bytes.NewReader(env.Payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "policy change: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "policy change: trailing data")
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Change) check() error {
	switch {
	case c.Org == "":
		return errs.Errorf(errs.ErrInvalidArgument, "policy change: empty org")
	case !passport.ValidDID(c.Admin):
		return errs.Errorf(errs.ErrInvalidArgument, "policy change: admin %q is not a DID", c.Admin)
	case (len(c.Document) == 0) == (c.Activate == 0):
		return errs.Errorf(errs.ErrInvalidArgument, "policy change: give either a document to publish or a version to activate")
	case c.Activate < 0 || c.Base < 0:
		return errs.Errorf(errs.ErrInvalidArgument, "policy change: negative version")
	case c.Created.IsZero():
		return errs.Errorf(errs.ErrInvalidArgument, "policy change: no creation time")
	}
	return nil
}

// PublishAt is Publish pinned to a base: it stores data as version base+1
// and activates it, or returns errs.ErrConflict (changing nothing) if
// version base+1 already exists, so a signed change applies at most once.
func (l *Library) PublishAt(ctx context.Context, org, filename string, data []byte, base int) (*Policy, error) {
	if org == "" {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "policy: publish: empty org")
	}
	if base < 0 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "policy: publish: negative base version")
	}
	doc, err := Parse(filename, data)
	if err != nil {
		return nil, err
	}
	p, err := l.engine.Compile(doc)
	if err != nil {
		return nil, err
	}
	if err := l.store.PutVersion(ctx, org, base+1, doc.Source); err != nil {
		if errors.Is(err, errs.ErrConflict) {
			return nil, errs.Errorf(errs.ErrConflict, "policy: org %s already has version %d; sign the change again against the latest version: %w",
				org, base+1, err)
		}
		return nil, err
	}
	p.Version = base + 1
	l.remember(org, p)
	if err := l.activate(ctx, org, p.Version, true); err != nil {
		return nil, err
	}
	return p, nil
}

// ActivateFrom makes stored version n active only if expected is the
// active version (0: none), a compare-and-swap: errs.ErrConflict if it is
// not, errs.ErrNotFound if n does not exist, errs.ErrInvalidArgument if it
// no longer compiles.
func (l *Library) ActivateFrom(ctx context.Context, org string, n, expected int) (*Policy, error) {
	p, err := l.Version(ctx, org, n)
	if err != nil {
		return nil, err
	}
	if err := l.store.SetActive(ctx, org, n, expected); err != nil {
		return nil, err
	}
	l.forget(org)
	return p, nil
}

// Latest returns the highest stored version of org's policy (0: none), the
// Base of the next publish.
func (l *Library) Latest(ctx context.Context, org string) (int, error) {
	return l.store.Latest(ctx, org)
}
