package passport

import (
	"encoding/base64"
	"encoding/json"
	"strconv"

	"github.com/humanos/human/errs"
)

// Envelope is a DSSE envelope (github.com/secure-systems-lab/dsse): a
// payload, its type, and signatures over the pre-authentication encoding of
// both. Every signed thing in HUMAN (passport events, delegations,
// approvals, attestations) is an Envelope, so verifiers check the exact
// bytes that were signed and no canonical re-encoding is ever needed.
type Envelope struct {
	PayloadType string      `json:"payloadType"`
	Payload     []byte      `json:"payload"` // base64 in JSON, as DSSE specifies
	Signatures  []Signature `json:"signatures"`
}

// Signature is one DSSE signature. KeyID is PublicKey.ID of the signer.
type Signature struct {
	KeyID string `json:"keyid,omitempty"`
	Sig   []byte `json:"sig"`
}

// PAE is DSSE's pre-authentication encoding, the bytes actually signed:
// "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body.
func PAE(payloadType string, payload []byte) []byte {
	b := make([]byte, 0, 32+len(payloadType)+len(payload))
	b = append(b, "DSSEv1 "...)
	b = strconv.AppendInt(b, int64(len(payloadType)), 10)
	b = append(b, ' ')
	b = append(b, payloadType...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(payload)), 10)
	b = append(b, ' ')
	b = append(b, payload...)
	return b
}

// Seal signs payload with each signer and returns the envelope.
func Seal(payloadType string, payload []byte, signers ...Signer) (*Envelope, error) {
	if payloadType == "" {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "envelope: empty payload type")
	}
	env := &Envelope{PayloadType: payloadType, Payload: payload}
	for _, s := range signers {
		if err := env.AddSignature(s); err != nil {
			return nil, err
		}
	}
	return env, nil
}

// AddSignature appends a signature by s over the envelope's PAE.
func (e *Envelope) AddSignature(s Signer) error {
	sig, err := s.Sign(PAE(e.PayloadType, e.Payload))
	if err != nil {
		return errs.Errorf(errs.ErrUnavailable, "envelope: signer failed: %w", err)
	}
	e.Signatures = append(e.Signatures, Signature{KeyID: s.PublicKey().ID(), Sig: sig})
	return nil
}

// VerifiedBy returns nil if the envelope carries a valid signature by key.
// A missing or invalid signature is errs.ErrUnauthenticated.
func (e *Envelope) VerifiedBy(key PublicKey) error { return e.verifiedBy(key, nil) }

// verifiedBy is VerifiedBy with Ed25519 checks recorded in b when b is not
// nil: then the first signature whose key ID matches counts as valid until
// the batch says otherwise (see sigBatch).
func (e *Envelope) verifiedBy(key PublicKey, b *sigBatch) error {
	var idBuf [keyIDLen]byte
	id := key.appendID(idBuf[:0])
	var msg []byte
	for _, s := range e.Signatures {
		if s.KeyID != "" && s.KeyID != string(id) {
			continue
		}
		if msg == nil {
			msg = PAE(e.PayloadType, e.Payload)
		}
		if key.verify(msg, s.Sig, b) == nil {
			return nil
		}
	}
	return errs.Errorf(errs.ErrUnauthenticated, "envelope of type %q has no valid signature by key %s", e.PayloadType, id)
}

// Marshal returns the envelope's JSON encoding (exactly json.Marshal's).
func (e *Envelope) Marshal() ([]byte, error) {
	n := 64 + len(e.PayloadType) + base64.StdEncoding.EncodedLen(len(e.Payload))
	for _, s := range e.Signatures {
		n += 32 + len(s.KeyID) + base64.StdEncoding.EncodedLen(len(s.Sig))
	}
	if b, ok := appendEnvelopeCanon(make([]byte, 0, n), e); ok {
		return b, nil
	}
	return json.Marshal(e)
}

// ParseEnvelope decodes and shape-checks a JSON envelope. It does not verify
// signatures; call VerifiedBy for that.
func ParseEnvelope(data []byte) (*Envelope, error) {
	e, ok := decodeEnvelopeCanon(data)
	if !ok {
		e = Envelope{}
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "envelope: %v", err)
		}
	}
	if e.PayloadType == "" {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "envelope: missing payloadType")
	}
	if len(e.Signatures) == 0 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "envelope: no signatures")
	}
	return &e, nil
}
