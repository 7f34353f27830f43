package passport

import (
	"bytes"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/humanos/human/errs"
)

// Kind says what a passport identifies.
type Kind string

// The passport kinds. Only human and org passports may root a delegation
// chain; agents act only under delegation.
const (
	KindHuman Kind = "human"
	KindAgent Kind = "agent"
	KindOrg   Kind = "org"
)

func (k Kind) valid() bool { return k == KindHuman || k == KindAgent || k == KindOrg }

// Payload types of the envelopes this package signs.
const (
	EventPayloadType      = "application/vnd.humanos.passport-event+json"
	DelegationPayloadType = "application/vnd.humanos.delegation+json"
	RevocationPayloadType = "application/vnd.humanos.revocation+json"
)

// Event types of a passport log. The log is open to more types (device
// add/remove, guardians, recovery); a verifier that meets a type it does not
// know rejects the log rather than skip a change it cannot judge.
const (
	EventInception  = "inception"
	EventRotation   = "rotation"
	EventRevocation = "revocation"
)

// MaxClockSkew is how far in the future an event's created time may be,
// relative to the verifier's clock, before the event is rejected.
const MaxClockSkew = 5 * time.Minute

// DIDPrefix starts every passport identifier.
const DIDPrefix = "did:human:"

// b32 is lowercase, unpadded base32 (RFC 4648 alphabet), the encoding of
// every digest this package names things by.
var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Digest is the lowercase unpadded base32 of the SHA-256 of b: 52
// characters. It names event payloads (prev links), passports and
// delegations.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return b32.EncodeToString(sum[:])
}

const digestLen = 52

func validDigestID(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) != digestLen {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// ValidDID reports whether s has the form of a passport DID.
func ValidDID(s string) bool { return validDigestID(s, DIDPrefix) }

// event is the payload of every passport event. Fields that a type does not
// use must be absent; replay checks that, so one signed payload has one
// meaning.
type event struct {
	Type    string      `json:"type"`
	DID     string      `json:"did,omitempty"`
	Seq     int         `json:"seq,omitempty"`
	Prev    string      `json:"prev,omitempty"`
	Kind    Kind        `json:"kind,omitempty"`
	Keys    []PublicKey `json:"keys,omitempty"`
	Name    string      `json:"name,omitempty"`
	Reason  string      `json:"reason,omitempty"`
	Created time.Time   `json:"created"`
}

// maxNameLen bounds display names and reasons; they are labels, not documents.
const maxNameLen = 256

// Passport is the verified state of a passport, derived by replaying its
// event log. Treat it as read-only.
type Passport struct {
	// DID is "did:human:" + Digest(inception payload). It never changes.
	DID  string
	Kind Kind
	Name string
	// Keys are the current keys: any one of them signs for the passport.
	Keys    []PublicKey
	Revoked bool
	// RevokedAt is the created time of the revocation event, when Revoked.
	RevokedAt time.Time
	Created   time.Time
	// Events is the whole log, inception first.
	Events []*Envelope
}

// HasKey reports whether k is one of the passport's current keys.
func (p *Passport) HasKey(k PublicKey) bool {
	for _, pk := range p.Keys {
		if pk.Equal(k) {
			return true
		}
	}
	return false
}

// verifiedByCurrentKey returns nil if env carries a valid signature by one
// of the passport's current keys, else an error wrapping
// errs.ErrUnauthenticated.
func (p *Passport) verifiedByCurrentKey(env *Envelope) error {
	for _, k := range p.Keys {
		if env.VerifiedBy(k) == nil {
			return nil
		}
	}
	return errs.Errorf(errs.ErrUnauthenticated, "%s is not signed by a current key of %s", env.PayloadType, p.DID)
}

func (p *Passport) clone() *Passport {
	c := *p
	c.Keys = slices.Clone(p.Keys)
	c.Events = slices.Clone(p.Events)
	return &c
}

// NewInception creates and signs the first event of a passport: it declares
// the passport's kind, optional display name and keys, one per signer, and
// is signed by every one of them (proof of possession). Call it where the
// keys live (the device); the library never holds a human's private key.
// A zero created means now.
func NewInception(kind Kind, name string, created time.Time, signers ...Signer) (*Envelope, error) {
	if created.IsZero() {
		created = time.Now()
	}
	ev := event{Type: EventInception, Kind: kind, Name: name, Created: created.UTC().Round(0)}
	for _, s := range signers {
		ev.Keys = append(ev.Keys, s.PublicKey())
	}
	if err := ev.check(); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "inception: %v", err)
	}
	return Seal(EventPayloadType, payload, signers...)
}

// RotateKeys creates the event that replaces p's keys with the keys of next.
// It is signed by current (a current key of p) and by every new key, so
// the DID stays while the device changes. A zero created means now.
func RotateKeys(current Signer, p *Passport, created time.Time, next ...Signer) (*Envelope, error) {
	ev, err := followOn(p, EventRotation, created)
	if err != nil {
		return nil, err
	}
	for _, s := range next {
		ev.Keys = append(ev.Keys, s.PublicKey())
	}
	if err := ev.check(); err != nil {
		return nil, err
	}
	return sealEvent(ev, append([]Signer{current}, next...)...)
}

// RevokePassport creates the event that ends passport p, signed by current,
// a current key of p. Nothing can follow it in the log, and no delegation
// issued by or to p verifies afterwards. A zero created means now.
func RevokePassport(current Signer, p *Passport, reason string, created time.Time) (*Envelope, error) {
	ev, err := followOn(p, EventRevocation, created)
	if err != nil {
		return nil, err
	}
	ev.Reason = reason
	if err := ev.check(); err != nil {
		return nil, err
	}
	return sealEvent(ev, current)
}

func followOn(p *Passport, typ string, created time.Time) (event, error) {
	if p == nil || len(p.Events) == 0 {
		return event{}, errs.Errorf(errs.ErrInvalidArgument, "%s: no passport to follow", typ)
	}
	if created.IsZero() {
		created = time.Now()
	}
	last := p.Events[len(p.Events)-1]
	return event{Type: typ, DID: p.DID, Seq: len(p.Events), Prev: Digest(last.Payload), Created: created.UTC().Round(0)}, nil
}

func sealEvent(ev event, signers ...Signer) (*Envelope, error) {
	payload, err := json.Marshal(ev)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "%s: %v", ev.Type, err)
	}
	return Seal(EventPayloadType, payload, signers...)
}

// check validates the fields of one event in isolation.
func (ev *event) check() error {
	if ev.Created.IsZero() {
		return errs.Errorf(errs.ErrInvalidArgument, "%s event: missing created time", ev.Type)
	}
	if len(ev.Name) > maxNameLen || len(ev.Reason) > maxNameLen {
		return errs.Errorf(errs.ErrInvalidArgument, "%s event: name or reason longer than %d bytes", ev.Type, maxNameLen)
	}
	switch ev.Type {
	case EventInception:
		if ev.DID != "" || ev.Seq != 0 || ev.Prev != "" || ev.Reason != "" {
			return errs.Errorf(errs.ErrInvalidArgument, "inception event: did, seq, prev and reason must be absent")
		}
		if !ev.Kind.valid() {
			return errs.Errorf(errs.ErrInvalidArgument, "inception event: kind %q, want human, agent or org", ev.Kind)
		}
		return checkKeys(ev.Type, ev.Keys)
	case EventRotation, EventRevocation:
		if !ValidDID(ev.DID) {
			return errs.Errorf(errs.ErrInvalidArgument, "%s event: did %q is not a passport DID", ev.Type, ev.DID)
		}
		if ev.Seq < 1 {
			return errs.Errorf(errs.ErrInvalidArgument, "%s event: seq %d, want 1 or more", ev.Type, ev.Seq)
		}
		if !validDigestID(ev.Prev, "") {
			return errs.Errorf(errs.ErrInvalidArgument, "%s event: prev %q is not a payload digest", ev.Type, ev.Prev)
		}
		if ev.Kind != "" || ev.Name != "" {
			return errs.Errorf(errs.ErrInvalidArgument, "%s event: kind and name must be absent", ev.Type)
		}
		if ev.Type == EventRotation {
			if ev.Reason != "" {
				return errs.Errorf(errs.ErrInvalidArgument, "rotation event: reason must be absent")
			}
			return checkKeys(ev.Type, ev.Keys)
		}
		if len(ev.Keys) != 0 {
			return errs.Errorf(errs.ErrInvalidArgument, "revocation event: keys must be absent")
		}
		return nil
	default:
		return errs.Errorf(errs.ErrInvalidArgument, "passport event: unknown type %q", ev.Type)
	}
}

func checkKeys(typ string, keys []PublicKey) error {
	if len(keys) == 0 {
		return errs.Errorf(errs.ErrInvalidArgument, "%s event: no keys; give at least one signer", typ)
	}
	for i, k := range keys {
		if err := k.Validate(); err != nil {
			return errs.Errorf(errs.ErrInvalidArgument, "%s event: keys[%d]: %w", typ, i, err)
		}
		for _, o := range keys[:i] {
			if o.Equal(k) {
				return errs.Errorf(errs.ErrInvalidArgument, "%s event: key %s declared twice", typ, k)
			}
		}
	}
	return nil
}

// decodeStrict decodes one JSON value into v, rejecting unknown fields and
// trailing data, so a signed payload cannot carry content a verifier skips.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errs.Errorf(errs.ErrInvalidArgument, "trailing data after the JSON value")
	}
	return nil
}

func parseEvent(env *Envelope) (*event, error) {
	if env == nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "passport event: nil envelope")
	}
	if env.PayloadType != EventPayloadType {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "passport event: payload type %q, want %q", env.PayloadType, EventPayloadType)
	}
	var ev event
	if err := decodeStrict(env.Payload, &ev); err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "passport event: %v", err)
	}
	if err := ev.check(); err != nil {
		return nil, err
	}
	return &ev, nil
}

// Replay verifies a passport's event log, inception first, and returns the
// state it leads to. It checks, for every event: the payload type and shape;
// the inception's signature by every key it declares; each later event's
// DID, contiguous seq, prev digest of the previous payload, and signature by
// a key current before it (a rotation also by every new key); created times
// that never go backwards (no back-dating) and are at most MaxClockSkew
// after now; nothing after a revocation.
//
// Errors: a missing or invalid signature wraps errs.ErrUnauthenticated, an
// event after a revocation errs.ErrFailedPrecondition, anything else
// (malformed, out of order, back-dated, future-dated) errs.ErrInvalidArgument.
// A zero now means time.Now().
func Replay(events []*Envelope, now time.Time) (*Passport, error) {
	if len(events) == 0 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "passport: empty event log")
	}
	if now.IsZero() {
		now = time.Now()
	}
	latest := now.Add(MaxClockSkew)
	var p *Passport
	var prev *event
	for i, env := range events {
		ev, err := parseEvent(env)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		if ev.Created.After(latest) {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "event %d: created %s is in the future (now %s)", i, ev.Created.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
		if i == 0 {
			if ev.Type != EventInception {
				return nil, errs.Errorf(errs.ErrInvalidArgument, "event 0: type %q, a log starts with an inception", ev.Type)
			}
			for _, k := range ev.Keys {
				if err := env.VerifiedBy(k); err != nil {
					return nil, fmt.Errorf("inception is not self-signed by every declared key: %w", err)
				}
			}
			p = &Passport{
				DID: DIDPrefix + Digest(env.Payload), Kind: ev.Kind, Name: ev.Name,
				Keys: ev.Keys, Created: ev.Created, Events: make([]*Envelope, 0, len(events)),
			}
			p.Events = append(p.Events, env)
			prev = ev
			continue
		}
		switch {
		case ev.Type == EventInception:
			return nil, errs.Errorf(errs.ErrInvalidArgument, "event %d: a second inception", i)
		case p.Revoked:
			return nil, errs.Errorf(errs.ErrFailedPrecondition, "event %d: passport %s was revoked at event %d", i, p.DID, i-1)
		case ev.DID != p.DID:
			return nil, errs.Errorf(errs.ErrInvalidArgument, "event %d: for passport %s, not %s", i, ev.DID, p.DID)
		case ev.Seq != i:
			return nil, errs.Errorf(errs.ErrInvalidArgument, "event %d: seq %d out of order", i, ev.Seq)
		case ev.Prev != Digest(events[i-1].Payload):
			return nil, errs.Errorf(errs.ErrInvalidArgument, "event %d: prev %s does not name the previous event", i, ev.Prev)
		case ev.Created.Before(prev.Created):
			return nil, errs.Errorf(errs.ErrInvalidArgument, "event %d: created %s is earlier than the previous event's %s (back-dated)",
				i, ev.Created.Format(time.RFC3339Nano), prev.Created.Format(time.RFC3339Nano))
		}
		if err := p.verifiedByCurrentKey(env); err != nil {
			return nil, fmt.Errorf("event %d (%s): %w", i, ev.Type, err)
		}
		switch ev.Type {
		case EventRotation:
			for _, k := range ev.Keys {
				if err := env.VerifiedBy(k); err != nil {
					return nil, fmt.Errorf("event %d: rotation not signed by every new key: %w", i, err)
				}
			}
			p.Keys = ev.Keys
		case EventRevocation:
			p.Revoked = true
			p.RevokedAt = ev.Created
		}
		p.Events = append(p.Events, env)
		prev = ev
	}
	return p, nil
}
