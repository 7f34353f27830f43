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
	// EventInception starts a log: kind, name, keys and, optionally,
	// guardians; signed by every key it declares.
	EventInception = "inception"
	// EventRotation replaces every key; signed by a current key and every
	// new key.
	EventRotation = "rotation"
	// EventDeviceAdded adds keys; signed by a current key and every added key.
	EventDeviceAdded = "device_added"
	// EventDeviceRemoved removes keys (at least one stays); signed by a
	// current key.
	EventDeviceRemoved = "device_removed"
	// EventGuardians replaces the guardians, threshold and recovery delay;
	// signed by a current key.
	EventGuardians = "guardians"
	// EventRecovery starts a guardian recovery: it names new keys and is
	// signed by every new key and by at least threshold guardians (each
	// with a key of their own human passport current at its created time).
	// It takes effect only with an EventRecoveryComplete after the delay.
	EventRecovery = "recovery"
	// EventRecoveryCancel stops a pending recovery; signed by a current key.
	EventRecoveryCancel = "recovery_cancel"
	// EventRecoveryComplete makes a pending recovery's keys current; signed
	// by one of them, created no earlier than the recovery's created time
	// plus the recovery delay.
	EventRecoveryComplete = "recovery_complete"
	// EventRevocation ends the passport; signed by a current key.
	EventRevocation = "revocation"
)

// Guardian limits.
const (
	// MaxGuardians bounds the guardians a passport may name.
	MaxGuardians = 16
	// MinRecoveryDelay is the shortest recovery delay a passport may
	// declare: the window in which a current key can cancel a recovery.
	MinRecoveryDelay = time.Minute
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
	Type   string      `json:"type"`
	DID    string      `json:"did,omitempty"`
	Seq    int         `json:"seq,omitempty"`
	Prev   string      `json:"prev,omitempty"`
	Kind   Kind        `json:"kind,omitempty"`
	Keys   []PublicKey `json:"keys,omitempty"`
	Name   string      `json:"name,omitempty"`
	Reason string      `json:"reason,omitempty"`
	// Guardians, Threshold and RecoveryDelay (seconds) appear in an
	// inception that names guardians and in a guardians event.
	Guardians     []string  `json:"guardians,omitempty"`
	Threshold     int       `json:"threshold,omitempty"`
	RecoveryDelay int64     `json:"recovery_delay,omitempty"`
	Created       time.Time `json:"created"`
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
	// Guardians are the DIDs of the human passports that may, Threshold
	// of them together, start a recovery; RecoveryDelay is how long a
	// current key has to cancel it.
	Guardians     []string
	Threshold     int
	RecoveryDelay time.Duration
	// Recovery is the pending guardian recovery, or nil.
	Recovery *PendingRecovery
	// KeyHistory lists every key the passport ever held and when, oldest
	// first, so a signature can be judged by the keys current when it was
	// made (guardian signatures in another passport's recovery).
	KeyHistory []KeyPeriod
}

// PendingRecovery is a guardian recovery that has started and neither
// completed nor been cancelled.
type PendingRecovery struct {
	// Keys are the keys that become current when it completes.
	Keys []PublicKey
	// Guardians are the guardians whose signatures the recovery carries.
	Guardians []string
	// Started is the recovery event's created time; EffectiveAt is
	// Started plus the recovery delay, the earliest a completion may be.
	Started, EffectiveAt time.Time
}

// KeyPeriod is a span in which Key was a current key of a passport: from
// From (inclusive) until Until (exclusive; zero while still current).
type KeyPeriod struct {
	Key   PublicKey
	From  time.Time
	Until time.Time
}

// KeysAt returns the keys that were current at t: none before the
// inception, none from the passport's revocation on.
func (p *Passport) KeysAt(t time.Time) []PublicKey {
	var out []PublicKey
	for _, kp := range p.KeyHistory {
		if !t.Before(kp.From) && (kp.Until.IsZero() || t.Before(kp.Until)) {
			out = append(out, kp.Key)
		}
	}
	return out
}

// GuardianKeys resolves the keys of a guardian for verifying a recovery.
// Registry implements it over its store; a nil GuardianKeys makes any log
// with a recovery fail to replay.
type GuardianKeys interface {
	// GuardianKeysAt returns the keys of guardian did current at t. It
	// returns an error wrapping errs.ErrPermissionDenied when did is not a
	// human passport (an org, agent or server key never counts as a
	// guardian), errs.ErrNotFound when it does not exist.
	GuardianKeysAt(did string, at time.Time) ([]PublicKey, error)
}

// ReplayOptions are the inputs of [ReplayWith] beyond the log.
type ReplayOptions struct {
	// Now is the verifier's clock; zero means time.Now().
	Now time.Time
	// Guardians resolves guardian keys for recovery events.
	Guardians GuardianKeys
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
func (p *Passport) verifiedByCurrentKey(env *Envelope, b *sigBatch) error {
	for _, k := range p.Keys {
		if env.verifiedBy(k, b) == nil {
			return nil
		}
	}
	return errs.Errorf(errs.ErrUnauthenticated, "%s is not signed by a current key of %s", env.PayloadType, p.DID)
}

func (p *Passport) clone() *Passport {
	c := *p
	c.Keys = slices.Clone(p.Keys)
	c.Events = slices.Clone(p.Events)
	c.Guardians = slices.Clone(p.Guardians)
	c.KeyHistory = slices.Clone(p.KeyHistory)
	if p.Recovery != nil {
		r := *p.Recovery
		r.Keys = slices.Clone(r.Keys)
		r.Guardians = slices.Clone(r.Guardians)
		c.Recovery = &r
	}
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

// Guardianship names the guardians of a passport: Threshold of the human
// passports in Guardians must sign a recovery, and a current key has Delay
// to cancel it before it may complete.
type Guardianship struct {
	Guardians []string
	Threshold int
	Delay     time.Duration
}

func (g Guardianship) apply(ev *event) {
	ev.Guardians = slices.Clone(g.Guardians)
	ev.Threshold = g.Threshold
	ev.RecoveryDelay = int64(g.Delay / time.Second)
}

// NewGuardedInception is NewInception for a passport that names guardians
// from the start.
func NewGuardedInception(kind Kind, name string, created time.Time, g Guardianship, signers ...Signer) (*Envelope, error) {
	if created.IsZero() {
		created = time.Now()
	}
	ev := event{Type: EventInception, Kind: kind, Name: name, Created: created.UTC().Round(0)}
	g.apply(&ev)
	for _, s := range signers {
		ev.Keys = append(ev.Keys, s.PublicKey())
	}
	if err := ev.check(); err != nil {
		return nil, err
	}
	return sealEvent(ev, signers...)
}

// AddDevice creates the event that adds the keys of added to p, signed by
// current (a current key of p) and by every added key (proof of
// possession). A zero created means now.
func AddDevice(current Signer, p *Passport, created time.Time, added ...Signer) (*Envelope, error) {
	ev, err := followOn(p, EventDeviceAdded, created)
	if err != nil {
		return nil, err
	}
	for _, s := range added {
		ev.Keys = append(ev.Keys, s.PublicKey())
	}
	if err := ev.check(); err != nil {
		return nil, err
	}
	return sealEvent(ev, append([]Signer{current}, added...)...)
}

// RemoveDevice creates the event that removes keys from p, signed by
// current, a current key of p (it may be one of those removed). At least
// one key must stay. A zero created means now.
func RemoveDevice(current Signer, p *Passport, created time.Time, removed ...PublicKey) (*Envelope, error) {
	ev, err := followOn(p, EventDeviceRemoved, created)
	if err != nil {
		return nil, err
	}
	ev.Keys = slices.Clone(removed)
	if err := ev.check(); err != nil {
		return nil, err
	}
	return sealEvent(ev, current)
}

// SetGuardians creates the event that replaces p's guardians (a zero
// Guardianship removes them), signed by current. A zero created means now.
func SetGuardians(current Signer, p *Passport, created time.Time, g Guardianship) (*Envelope, error) {
	ev, err := followOn(p, EventGuardians, created)
	if err != nil {
		return nil, err
	}
	g.apply(&ev)
	if err := ev.check(); err != nil {
		return nil, err
	}
	return sealEvent(ev, current)
}

// StartRecovery creates the recovery statement of a human who lost every
// device: it names the keys of next, is signed by each of them, and must
// then be co-signed by at least p.Threshold guardians, each with
// [Envelope.AddSignature] (or AddAssertion) using a key of their own
// passport, before [Registry.AppendEvent] accepts it. Nothing in it is
// signed by a key of p: that is the point. A zero created means now.
func StartRecovery(p *Passport, created time.Time, reason string, next ...Signer) (*Envelope, error) {
	ev, err := followOn(p, EventRecovery, created)
	if err != nil {
		return nil, err
	}
	ev.Reason = reason
	for _, s := range next {
		ev.Keys = append(ev.Keys, s.PublicKey())
	}
	if err := ev.check(); err != nil {
		return nil, err
	}
	return sealEvent(ev, next...)
}

// CancelRecovery creates the event that stops p's pending recovery, signed
// by current, a current key of p. A zero created means now.
func CancelRecovery(current Signer, p *Passport, reason string, created time.Time) (*Envelope, error) {
	ev, err := followOn(p, EventRecoveryCancel, created)
	if err != nil {
		return nil, err
	}
	ev.Reason = reason
	if err := ev.check(); err != nil {
		return nil, err
	}
	return sealEvent(ev, current)
}

// CompleteRecovery creates the event that makes p's pending recovery take
// effect, signed by next, one of the recovery's keys. It verifies only
// once the recovery delay has passed. A zero created means now.
func CompleteRecovery(next Signer, p *Passport, created time.Time) (*Envelope, error) {
	ev, err := followOn(p, EventRecoveryComplete, created)
	if err != nil {
		return nil, err
	}
	if err := ev.check(); err != nil {
		return nil, err
	}
	return sealEvent(ev, next)
}

// EventInfo is the decoded content of one passport event, for showing a
// guardian what they are asked to sign, or an auditor what a log says.
type EventInfo struct {
	Type          string
	DID           string // empty for an inception
	Seq           int
	Prev          string
	Kind          Kind
	Name          string
	Keys          []PublicKey
	Reason        string
	Guardians     []string
	Threshold     int
	RecoveryDelay time.Duration
	Created       time.Time
}

// ParseEvent decodes and shape-checks one passport event envelope. It does
// not verify signatures or the log ([Replay] does). Errors wrap
// errs.ErrInvalidArgument.
func ParseEvent(env *Envelope) (*EventInfo, error) {
	ev, err := parseEvent(env)
	if err != nil {
		return nil, err
	}
	return &EventInfo{Type: ev.Type, DID: ev.DID, Seq: ev.Seq, Prev: ev.Prev, Kind: ev.Kind, Name: ev.Name,
		Keys: ev.Keys, Reason: ev.Reason, Guardians: ev.Guardians, Threshold: ev.Threshold,
		RecoveryDelay: time.Duration(ev.RecoveryDelay) * time.Second, Created: ev.Created}, nil
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

// check validates the fields of one event in isolation: every field a type
// does not use must be absent.
func (ev *event) check() error {
	if ev.Created.IsZero() {
		return errs.Errorf(errs.ErrInvalidArgument, "%s event: missing created time", ev.Type)
	}
	if len(ev.Name) > maxNameLen || len(ev.Reason) > maxNameLen {
		return errs.Errorf(errs.ErrInvalidArgument, "%s event: name or reason longer than %d bytes", ev.Type, maxNameLen)
	}
	if ev.Type == EventInception {
		if ev.DID != "" || ev.Seq != 0 || ev.Prev != "" || ev.Reason != "" {
			return errs.Errorf(errs.ErrInvalidArgument, "inception event: did, seq, prev and reason must be absent")
		}
		if !ev.Kind.valid() {
			return errs.Errorf(errs.ErrInvalidArgument, "inception event: kind %q, want human, agent or org", ev.Kind)
		}
		if len(ev.Guardians) > 0 && ev.Kind == KindAgent {
			return errs.Errorf(errs.ErrInvalidArgument, "inception event: agent passports have no guardians (revoke and re-delegate instead)")
		}
		if err := ev.checkGuardians(len(ev.Guardians) > 0); err != nil {
			return err
		}
		return checkKeys(ev.Type, ev.Keys)
	}
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
	// Which fields each type carries: keys, reason, guardians.
	var keys, reason, guardians bool
	switch ev.Type {
	case EventRotation, EventDeviceAdded, EventDeviceRemoved:
		keys = true
	case EventRecovery:
		keys, reason = true, true
	case EventRecoveryCancel, EventRevocation:
		reason = true
	case EventGuardians:
		guardians = true
	case EventRecoveryComplete:
	default:
		return errs.Errorf(errs.ErrInvalidArgument, "passport event: unknown type %q", ev.Type)
	}
	if !reason && ev.Reason != "" {
		return errs.Errorf(errs.ErrInvalidArgument, "%s event: reason must be absent", ev.Type)
	}
	if err := ev.checkGuardians(guardians); err != nil {
		return err
	}
	if !keys {
		if len(ev.Keys) != 0 {
			return errs.Errorf(errs.ErrInvalidArgument, "%s event: keys must be absent", ev.Type)
		}
		return nil
	}
	return checkKeys(ev.Type, ev.Keys)
}

// checkGuardians validates the guardian fields, which must be absent
// unless allowed. A guardians event may name no guardians (removing them).
func (ev *event) checkGuardians(allowed bool) error {
	if !allowed {
		if len(ev.Guardians) != 0 || ev.Threshold != 0 || ev.RecoveryDelay != 0 {
			return errs.Errorf(errs.ErrInvalidArgument, "%s event: guardians, threshold and recovery_delay must be absent", ev.Type)
		}
		return nil
	}
	if len(ev.Guardians) == 0 {
		if ev.Threshold != 0 || ev.RecoveryDelay != 0 {
			return errs.Errorf(errs.ErrInvalidArgument, "%s event: threshold and recovery_delay without guardians", ev.Type)
		}
		return nil
	}
	if len(ev.Guardians) > MaxGuardians {
		return errs.Errorf(errs.ErrInvalidArgument, "%s event: %d guardians, at most %d", ev.Type, len(ev.Guardians), MaxGuardians)
	}
	for i, g := range ev.Guardians {
		if !ValidDID(g) {
			return errs.Errorf(errs.ErrInvalidArgument, "%s event: guardians[%d] %q is not a passport DID", ev.Type, i, g)
		}
		if g == ev.DID || slices.Contains(ev.Guardians[:i], g) {
			return errs.Errorf(errs.ErrInvalidArgument, "%s event: guardian %s named twice or guarding itself", ev.Type, g)
		}
	}
	if ev.Threshold < 1 || ev.Threshold > len(ev.Guardians) {
		return errs.Errorf(errs.ErrInvalidArgument, "%s event: threshold %d, want 1..%d", ev.Type, ev.Threshold, len(ev.Guardians))
	}
	if time.Duration(ev.RecoveryDelay)*time.Second < MinRecoveryDelay || ev.RecoveryDelay > 365*24*3600 {
		return errs.Errorf(errs.ErrInvalidArgument, "%s event: recovery_delay %ds, want %s to a year", ev.Type, ev.RecoveryDelay, MinRecoveryDelay)
	}
	return nil
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
	ev, ok := decodeEventCanon(env.Payload)
	if !ok {
		ev = event{}
		if err := decodeStrict(env.Payload, &ev); err != nil {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "passport event: %v", err)
		}
	}
	if err := ev.check(); err != nil {
		return nil, err
	}
	return &ev, nil
}

// Replay is ReplayWith without a guardian resolver: a log that contains a
// recovery does not replay with it.
func Replay(events []*Envelope, now time.Time) (*Passport, error) {
	return ReplayWith(events, ReplayOptions{Now: now})
}

// ReplayWith verifies a passport's event log, inception first, and returns
// the state it leads to. It checks, for every event: the payload type and
// shape; the inception's signature by every key it declares; each later
// event's DID, contiguous seq, prev digest of the previous payload, and
// signatures (see the Event constants for who signs what); created times
// that never go backwards (no back-dating) and are at most MaxClockSkew
// after now; nothing after a revocation. While a recovery is pending, only
// its cancellation, its completion (not before the delay has passed) and a
// revocation may follow. A recovery counts only the signatures of distinct
// guardians named before it, by keys current at its created time
// (opts.Guardians resolves them); keys of the passport itself, of org or
// agent passports and of anyone else never count.
//
// Errors: a missing or invalid signature, or too few guardian signatures,
// wraps errs.ErrUnauthenticated; an event after a revocation, an event not
// allowed in the current recovery state, a completion before the delay, or
// a recovery without a resolver errs.ErrFailedPrecondition; anything else
// (malformed, out of order, back-dated, future-dated)
// errs.ErrInvalidArgument.
func ReplayWith(events []*Envelope, opts ReplayOptions) (*Passport, error) {
	return replay(events, opts, nil)
}

// replay is ReplayWith with Ed25519 checks recorded in b when b is not nil.
func replay(events []*Envelope, opts ReplayOptions, b *sigBatch) (*Passport, error) {
	if len(events) == 0 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "passport: empty event log")
	}
	now := opts.Now
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
				if err := env.verifiedBy(k, b); err != nil {
					return nil, fmt.Errorf("inception is not self-signed by every declared key: %w", err)
				}
			}
			p = &Passport{
				DID: DIDPrefix + Digest(env.Payload), Kind: ev.Kind, Name: ev.Name,
				Keys: ev.Keys, Created: ev.Created, Events: make([]*Envelope, 0, len(events)),
			}
			p.setGuardians(ev)
			p.addKeyPeriods(ev.Keys, ev.Created)
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
		if err := p.apply(i, env, ev, opts.Guardians, b); err != nil {
			return nil, err
		}
		p.Events = append(p.Events, env)
		prev = ev
	}
	return p, nil
}

// apply verifies the signatures of one later event against the state
// before it and applies it.
func (p *Passport) apply(i int, env *Envelope, ev *event, g GuardianKeys, b *sigBatch) error {
	pending := p.Recovery != nil
	switch ev.Type {
	case EventRecoveryCancel, EventRecoveryComplete:
		if !pending {
			return errs.Errorf(errs.ErrFailedPrecondition, "event %d (%s): no recovery is pending", i, ev.Type)
		}
	case EventRevocation:
	default:
		if pending {
			return errs.Errorf(errs.ErrFailedPrecondition, "event %d (%s): a recovery is pending; cancel it first", i, ev.Type)
		}
	}
	switch ev.Type {
	case EventRecovery:
		return p.startRecovery(i, env, ev, g, b)
	case EventRecoveryComplete:
		r := p.Recovery
		if ev.Created.Before(r.EffectiveAt) {
			return errs.Errorf(errs.ErrFailedPrecondition, "event %d: recovery completes at %s at the earliest, not %s",
				i, r.EffectiveAt.Format(time.RFC3339), ev.Created.Format(time.RFC3339))
		}
		if !verifiedByAny(env, r.Keys, b) {
			return errs.Errorf(errs.ErrUnauthenticated, "event %d: recovery completion is not signed by a recovered key", i)
		}
		p.replaceKeys(r.Keys, ev.Created)
		p.Recovery = nil
		return nil
	}
	if err := p.verifiedByCurrentKey(env, b); err != nil {
		return fmt.Errorf("event %d (%s): %w", i, ev.Type, err)
	}
	switch ev.Type {
	case EventRotation, EventDeviceAdded:
		for _, k := range ev.Keys {
			if err := env.verifiedBy(k, b); err != nil {
				return fmt.Errorf("event %d: %s not signed by every new key: %w", i, ev.Type, err)
			}
		}
		if ev.Type == EventRotation {
			p.replaceKeys(ev.Keys, ev.Created)
			return nil
		}
		for _, k := range ev.Keys {
			if p.HasKey(k) {
				return errs.Errorf(errs.ErrInvalidArgument, "event %d: key %s is already current", i, k.ID())
			}
		}
		p.Keys = append(slices.Clone(p.Keys), ev.Keys...)
		p.addKeyPeriods(ev.Keys, ev.Created)
	case EventDeviceRemoved:
		keep := slices.Clone(p.Keys)
		for _, k := range ev.Keys {
			j := slices.IndexFunc(keep, k.Equal)
			if j < 0 {
				return errs.Errorf(errs.ErrInvalidArgument, "event %d: key %s to remove is not current", i, k.ID())
			}
			keep = slices.Delete(keep, j, j+1)
		}
		if len(keep) == 0 {
			return errs.Errorf(errs.ErrInvalidArgument, "event %d: removing every key; rotate or revoke instead", i)
		}
		p.replaceKeys(keep, ev.Created)
	case EventGuardians:
		p.setGuardians(ev)
	case EventRecoveryCancel:
		p.Recovery = nil
	case EventRevocation:
		p.Revoked = true
		p.RevokedAt = ev.Created
		p.Recovery = nil
		p.closeKeyPeriods(nil, ev.Created)
	}
	return nil
}

// startRecovery checks a recovery statement: every new key signs it, and at
// least Threshold distinct guardians do, each with a key of their own human
// passport current at the statement's created time.
func (p *Passport) startRecovery(i int, env *Envelope, ev *event, g GuardianKeys, b *sigBatch) error {
	if len(p.Guardians) == 0 {
		return errs.Errorf(errs.ErrFailedPrecondition, "event %d: passport %s names no guardians; it cannot be recovered", i, p.DID)
	}
	if g == nil {
		return errs.Errorf(errs.ErrFailedPrecondition, "event %d: no guardian resolver to verify the recovery", i)
	}
	for _, k := range ev.Keys {
		if err := env.verifiedBy(k, b); err != nil {
			return fmt.Errorf("event %d: recovery not signed by every new key: %w", i, err)
		}
		if p.HasKey(k) {
			return errs.Errorf(errs.ErrInvalidArgument, "event %d: recovery names current key %s; rotate with it instead", i, k.ID())
		}
	}
	var signed []string
	for _, did := range p.Guardians {
		keys, err := g.GuardianKeysAt(did, ev.Created)
		if err != nil {
			continue // a guardian that is gone or not human simply does not count
		}
		if verifiedByAny(env, keys, b) {
			signed = append(signed, did)
		}
	}
	if len(signed) < p.Threshold {
		return errs.Errorf(errs.ErrUnauthenticated, "event %d: recovery of %s carries valid signatures of %d guardians, %d required",
			i, p.DID, len(signed), p.Threshold)
	}
	p.Recovery = &PendingRecovery{Keys: ev.Keys, Guardians: signed, Started: ev.Created, EffectiveAt: ev.Created.Add(p.RecoveryDelay)}
	return nil
}

func verifiedByAny(env *Envelope, keys []PublicKey, b *sigBatch) bool {
	for _, k := range keys {
		if env.verifiedBy(k, b) == nil {
			return true
		}
	}
	return false
}

func (p *Passport) setGuardians(ev *event) {
	p.Guardians = ev.Guardians
	p.Threshold = ev.Threshold
	p.RecoveryDelay = time.Duration(ev.RecoveryDelay) * time.Second
}

func (p *Passport) addKeyPeriods(keys []PublicKey, from time.Time) {
	for _, k := range keys {
		p.KeyHistory = append(p.KeyHistory, KeyPeriod{Key: k, From: from})
	}
}

// closeKeyPeriods ends the open periods of every key not in keep.
func (p *Passport) closeKeyPeriods(keep []PublicKey, at time.Time) {
	for j := range p.KeyHistory {
		kp := &p.KeyHistory[j]
		if kp.Until.IsZero() && !slices.ContainsFunc(keep, kp.Key.Equal) {
			kp.Until = at
		}
	}
}

// replaceKeys makes keys the current keys from at on.
func (p *Passport) replaceKeys(keys []PublicKey, at time.Time) {
	p.closeKeyPeriods(keys, at)
	for _, k := range keys {
		if !p.HasKey(k) {
			p.addKeyPeriods([]PublicKey{k}, at)
		}
	}
	p.Keys = keys
}
