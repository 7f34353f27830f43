package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// StatementType is the in-toto Statement v1 type every attestation carries.
const StatementType = "https://in-toto.io/Statement/v1"

// PayloadType is the DSSE payload type of an attestation envelope.
const PayloadType = "application/vnd.in-toto+json"

// The predicate types HUMAN attests.
const (
	// PredicateDecision records a policy decision on a governed call.
	PredicateDecision = "https://humanos.dev/attestation/decision/v1"
	// PredicateApproval records a human's signed approval or denial.
	PredicateApproval = "https://humanos.dev/attestation/approval/v1"
	// PredicatePassportEvent anchors a passport event (inception, rotation,
	// revocation, ...).
	PredicatePassportEvent = "https://humanos.dev/attestation/passport-event/v1"
	// PredicatePolicyChange records a new active policy version.
	PredicatePolicyChange = "https://humanos.dev/attestation/policy-change/v1"
	// PredicateCapabilityChange records a change to the capability graph.
	PredicateCapabilityChange = "https://humanos.dev/attestation/capability-change/v1"
)

// maxEntry bounds one log entry; attestations hold IDs, hashes and
// pointers, never documents, so anything larger is a mistake.
const maxEntry = 1 << 20

// Subject is what an attestation is about, named and pinned by digest.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Statement is an in-toto Statement v1: subjects, a predicate type and the
// predicate itself (kept as the exact JSON bytes).
//
// A statement from NewStatement remembers that its Predicate is
// encoding/json's output, so attesting it skips re-validating and
// re-compacting it: to change the predicate of such a statement, assign a
// new slice; never write into the bytes of Predicate.
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`

	enc []byte // Predicate as NewStatement encoded it (see encoded)
}

// SubjectFor names content by its SHA-256 digest, so the ledger records
// the hash of a document, never the document.
func SubjectFor(name string, content []byte) Subject {
	sum := sha256.Sum256(content)
	return Subject{Name: name, Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}}
}

// NewStatement builds a Statement with predicate encoded as JSON. It needs
// at least one subject, each with a name or digest, and a predicate type.
func NewStatement(predicateType string, predicate any, subjects ...Subject) (*Statement, error) {
	raw, err := json.Marshal(predicate)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "statement: predicate of type %q does not encode as JSON: %v", predicateType, err)
	}
	st := &Statement{Type: StatementType, Subject: subjects, PredicateType: predicateType, Predicate: raw, enc: raw}
	if err := st.Validate(); err != nil {
		return nil, err
	}
	return st, nil
}

// Validate checks the statement's shape: the in-toto type, a predicate
// type, at least one subject, each with a digest whose values are
// non-empty, and a JSON object (or null) predicate.
func (s *Statement) Validate() error {
	if s.Type != StatementType {
		return errs.Errorf(errs.ErrInvalidArgument, "statement: _type is %q, want %q", s.Type, StatementType)
	}
	if s.PredicateType == "" {
		return errs.Errorf(errs.ErrInvalidArgument, "statement: empty predicateType")
	}
	if len(s.Subject) == 0 {
		return errs.Errorf(errs.ErrInvalidArgument, "statement of type %q: no subject", s.PredicateType)
	}
	for i, sub := range s.Subject {
		if len(sub.Digest) == 0 {
			return errs.Errorf(errs.ErrInvalidArgument, "statement: subject %d (%q) has no digest", i, sub.Name)
		}
		for alg, v := range sub.Digest {
			if alg == "" || v == "" {
				return errs.Errorf(errs.ErrInvalidArgument, "statement: subject %d (%q) has an empty digest algorithm or value", i, sub.Name)
			}
		}
	}
	p := bytes.TrimSpace(s.Predicate)
	if len(p) > 0 && p[0] != '{' && !bytes.Equal(p, []byte("null")) {
		return errs.Errorf(errs.ErrInvalidArgument, "statement of type %q: predicate must be a JSON object", s.PredicateType)
	}
	return nil
}

// ParseAttestation decodes a log entry holding an attestation: a DSSE
// envelope of PayloadType whose payload is a valid Statement. It checks
// shape only; verify the signature with env.VerifiedBy(key) (a Log's
// entries are signed by its org signer, see Log.PublicKey). Malformed input
// is errs.ErrInvalidArgument.
func ParseAttestation(entry []byte) (*passport.Envelope, *Statement, error) {
	if len(entry) > maxEntry {
		return nil, nil, errs.Errorf(errs.ErrInvalidArgument, "attestation: %d bytes, limit %d", len(entry), maxEntry)
	}
	env, err := passport.ParseEnvelope(entry)
	if err != nil {
		return nil, nil, err
	}
	if env.PayloadType != PayloadType {
		return nil, nil, errs.Errorf(errs.ErrInvalidArgument, "attestation: payloadType %q, want %q", env.PayloadType, PayloadType)
	}
	var st Statement
	if err := json.Unmarshal(env.Payload, &st); err != nil {
		return nil, nil, errs.Errorf(errs.ErrInvalidArgument, "attestation: statement: %v", err)
	}
	if err := st.Validate(); err != nil {
		return nil, nil, err
	}
	return env, &st, nil
}

// sealStatement encodes st and signs it into an envelope, returning the
// envelope's JSON: the log entry.
func sealStatement(st *Statement, signer passport.Signer) ([]byte, error) {
	if st == nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "attest: nil statement")
	}
	if err := st.Validate(); err != nil {
		return nil, err
	}
	payload, err := appendStatement(make([]byte, 0, 256+len(st.Predicate)), st)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "attest: statement of type %q: %v", st.PredicateType, err)
	}
	env, err := passport.Seal(PayloadType, payload, signer)
	if err != nil {
		return nil, err
	}
	return env.Marshal()
}
