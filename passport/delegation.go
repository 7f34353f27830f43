package passport

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/humanos/human/errs"
)

// DelegationPrefix starts every delegation ID.
const DelegationPrefix = "dlg:"

// Delegation is a certificate by which Issuer lets the agent Subject act
// within Scope between NotBefore and Expires. A root delegation (Parent "")
// is issued by a human or org passport; a sub-delegation is issued by the
// agent that is the Subject of its Parent, and may only narrow it.
type Delegation struct {
	// ID is "dlg:" + Digest(payload), derived, never chosen.
	ID      string
	Issuer  string
	Subject string
	// Parent is the ID of the delegation the issuer acts under, or "" when
	// the issuer is a human or org passport.
	Parent    string
	Scope     Scope
	NotBefore time.Time
	Expires   time.Time
	Created   time.Time
	// Nonce makes every certificate unique, so a re-issued delegation with
	// the same fields gets a new ID and an old revocation never matches
	// it. Delegate fills it with 128 random bits when empty.
	Nonce string
	// Envelope is the signed certificate the fields were decoded from.
	Envelope *Envelope
}

// delegationPayload is the signed form of a Delegation.
type delegationPayload struct {
	Issuer    string    `json:"issuer"`
	Subject   string    `json:"subject"`
	Scope     Scope     `json:"scope"`
	NotBefore time.Time `json:"not_before"`
	Expires   time.Time `json:"expires"`
	Parent    string    `json:"parent"`
	Created   time.Time `json:"created"`
	Nonce     string    `json:"nonce"`
}

func (p *delegationPayload) check() error {
	switch {
	case !ValidDID(p.Issuer):
		return errs.Errorf(errs.ErrInvalidArgument, "delegation: issuer %q is not a passport DID", p.Issuer)
	case !ValidDID(p.Subject):
		return errs.Errorf(errs.ErrInvalidArgument, "delegation: subject %q is not a passport DID", p.Subject)
	case p.Issuer == p.Subject:
		return errs.Errorf(errs.ErrInvalidArgument, "delegation: issuer and subject are both %s", p.Issuer)
	case p.Parent != "" && !validDigestID(p.Parent, DelegationPrefix):
		return errs.Errorf(errs.ErrInvalidArgument, "delegation: parent %q is not a delegation ID", p.Parent)
	case p.Created.IsZero():
		return errs.Errorf(errs.ErrInvalidArgument, "delegation: missing created time")
	case len(p.Nonce) < 16 || len(p.Nonce) > 64:
		return errs.Errorf(errs.ErrInvalidArgument, "delegation: nonce must be 16 to 64 characters, got %d", len(p.Nonce))
	case p.NotBefore.IsZero() || p.Expires.IsZero():
		return errs.Errorf(errs.ErrInvalidArgument, "delegation: not_before and expires are required")
	case !p.Expires.After(p.NotBefore):
		return errs.Errorf(errs.ErrInvalidArgument, "delegation: expires %s is not after not_before %s",
			p.Expires.Format(time.RFC3339), p.NotBefore.Format(time.RFC3339))
	}
	return p.Scope.Validate()
}

// Delegate signs a delegation certificate with issuer, a current key of
// d.Issuer. d.ID and d.Envelope are ignored (the ID is derived from the
// signed payload); a zero d.Created means now and a zero d.NotBefore means
// d.Created. d.Expires is required. Errors wrap errs.ErrInvalidArgument.
//
// Delegate does not know the issuer's passport; Registry.AddDelegation
// checks that the key belongs to the issuer and that the scope narrows the
// parent's.
func Delegate(issuer Signer, d Delegation) (*Envelope, error) {
	if d.Created.IsZero() {
		d.Created = time.Now()
	}
	if d.NotBefore.IsZero() {
		d.NotBefore = d.Created
	}
	if d.Nonce == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, errs.Errorf(errs.ErrUnavailable, "delegation: nonce: %v", err)
		}
		d.Nonce = base64.RawURLEncoding.EncodeToString(b[:])
	}
	p := delegationPayload{
		Issuer: d.Issuer, Subject: d.Subject, Scope: d.Scope, Parent: d.Parent, Nonce: d.Nonce,
		NotBefore: d.NotBefore.UTC().Round(0), Expires: d.Expires.UTC().Round(0), Created: d.Created.UTC().Round(0),
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "delegation: %v", err)
	}
	return Seal(DelegationPayloadType, payload, issuer)
}

// ParseDelegation decodes a delegation certificate and checks its shape. It
// does not verify signatures or the chain (Registry does). Errors wrap
// errs.ErrInvalidArgument.
func ParseDelegation(env *Envelope) (*Delegation, error) {
	if env == nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "delegation: nil envelope")
	}
	if env.PayloadType != DelegationPayloadType {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "delegation: payload type %q, want %q", env.PayloadType, DelegationPayloadType)
	}
	p, ok := decodeDelegationCanon(env.Payload)
	if !ok {
		p = delegationPayload{}
		if err := decodeStrict(env.Payload, &p); err != nil {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "delegation: %v", err)
		}
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return &Delegation{
		ID: DelegationPrefix + Digest(env.Payload), Issuer: p.Issuer, Subject: p.Subject, Parent: p.Parent,
		Scope: p.Scope, NotBefore: p.NotBefore, Expires: p.Expires, Created: p.Created, Nonce: p.Nonce, Envelope: env,
	}, nil
}

// Revocation withdraws a delegation, and with it every delegation below it.
type Revocation struct {
	Delegation string
	Revoker    string
	Reason     string
	Created    time.Time
	Envelope   *Envelope
}

type revocationPayload struct {
	Delegation string    `json:"delegation"`
	Revoker    string    `json:"revoker"`
	Created    time.Time `json:"created"`
	Reason     string    `json:"reason,omitempty"`
}

func (p *revocationPayload) check() error {
	switch {
	case !validDigestID(p.Delegation, DelegationPrefix):
		return errs.Errorf(errs.ErrInvalidArgument, "revocation: %q is not a delegation ID", p.Delegation)
	case !ValidDID(p.Revoker):
		return errs.Errorf(errs.ErrInvalidArgument, "revocation: revoker %q is not a passport DID", p.Revoker)
	case p.Created.IsZero():
		return errs.Errorf(errs.ErrInvalidArgument, "revocation: missing created time")
	case len(p.Reason) > maxNameLen:
		return errs.Errorf(errs.ErrInvalidArgument, "revocation: reason longer than %d bytes", maxNameLen)
	}
	return nil
}

// Revoke signs the revocation of delegation delegationID by revokerDID with
// revoker, a current key of that passport. The revoker must be the
// delegation's issuer or an issuer higher up its chain; Registry checks
// that. A zero created means now.
func Revoke(revoker Signer, revokerDID, delegationID, reason string, created time.Time) (*Envelope, error) {
	if created.IsZero() {
		created = time.Now()
	}
	p := revocationPayload{Delegation: delegationID, Revoker: revokerDID, Created: created.UTC().Round(0), Reason: reason}
	if err := p.check(); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "revocation: %v", err)
	}
	return Seal(RevocationPayloadType, payload, revoker)
}

// ParseRevocation decodes a delegation revocation and checks its shape, not
// its signature. Errors wrap errs.ErrInvalidArgument.
func ParseRevocation(env *Envelope) (*Revocation, error) {
	if env == nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "revocation: nil envelope")
	}
	if env.PayloadType != RevocationPayloadType {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "revocation: payload type %q, want %q", env.PayloadType, RevocationPayloadType)
	}
	var p revocationPayload
	if err := decodeStrict(env.Payload, &p); err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "revocation: %v", err)
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return &Revocation{Delegation: p.Delegation, Revoker: p.Revoker, Reason: p.Reason, Created: p.Created, Envelope: env}, nil
}

// Chain is a verified delegation chain from a human or org passport down to
// an agent.
type Chain struct {
	// Agent is the DID of the leaf delegation's subject.
	Agent string
	// Root is the DID of the human or org passport that issued the root link.
	Root string
	// Links are the delegations, root first, leaf last. They are shared
	// with the Registry's cache: read them, never modify them.
	Links []*Delegation
	// Scope is (a copy of) the leaf's scope: since each link lies within its
	// parent, it is what the agent may effectively do.
	Scope Scope
	// NotBefore and Expires bound the chain's validity (the leaf's window,
	// which lies within every parent's).
	NotBefore time.Time
	Expires   time.Time
}

// Leaf returns the last link, the delegation to Agent.
func (c *Chain) Leaf() *Delegation { return c.Links[len(c.Links)-1] }
