package human

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/workforce"
)

// Attestations runs q on the server and checks every result as the
// embedded Log.Query does: each entry is an attestation signed by the
// org's ledger key (LedgerKey), its fields match q, and, with q.Proofs,
// its receipt proves it at its index against a checkpoint signed by that
// key. A server that returns anything else is errs.ErrUnauthenticated.
func (r *remoteProfile) Attestations(ctx context.Context, q *ledger.Query) (*ledger.Page, error) {
	if q == nil {
		q = &ledger.Query{}
	}
	w, err := r.rc.Attestations(ctx, q)
	if err != nil {
		return nil, err
	}
	key, err := remoteLedgerPublicKey(r.ledgerKey)
	if err != nil {
		return nil, err
	}
	page := &ledger.Page{Next: w.Next}
	if w.Checkpoint != "" {
		page.Checkpoint = []byte(w.Checkpoint)
	}
	for _, f := range w.Attestations {
		env, st, err := ledger.ParseAttestation(f.Entry)
		if err != nil {
			return nil, errs.Errorf(errs.ErrUnauthenticated, "attestations: entry %d is not an attestation: %v", f.Index, err)
		}
		if err := env.VerifiedBy(key); err != nil {
			return nil, errs.Errorf(errs.ErrUnauthenticated, "attestations: entry %d is not signed by the ledger key: %v", f.Index, err)
		}
		fields := ledger.IndexFields(st)
		if !q.Filter.Match(fields) {
			return nil, errs.Errorf(errs.ErrUnauthenticated, "attestations: server returned entry %d, which does not match the query", f.Index)
		}
		if q.Proofs {
			if f.Receipt == nil || f.Receipt.Index != f.Index || !bytes.Equal(f.Receipt.Entry, f.Entry) {
				return nil, errs.Errorf(errs.ErrUnauthenticated, "attestations: entry %d has no matching receipt", f.Index)
			}
			if err := VerifyReceipt(f.Receipt, r.ledgerKey); err != nil {
				return nil, errs.Errorf(errs.ErrUnauthenticated, "attestations: receipt of entry %d: %w", f.Index, err)
			}
		}
		page.Attestations = append(page.Attestations, &ledger.Attestation{Index: f.Index, Entry: f.Entry,
			Envelope: env, Statement: st, Fields: fields, Receipt: f.Receipt})
	}
	return page, nil
}

// remoteLedgerPublicKey is the Ed25519 key inside a note verifier key
// ("name+hash+base64(0x01 || key)"): the key that signs the ledger's
// attestations and checkpoints.
func remoteLedgerPublicKey(vkey string) (passport.PublicKey, error) {
	if _, err := ledger.NewVerifier(vkey); err != nil {
		return passport.PublicKey{}, err
	}
	parts := strings.SplitN(vkey, "+", 3)
	raw, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	if err != nil || len(raw) != 33 || raw[0] != 1 {
		return passport.PublicKey{}, errs.Errorf(errs.ErrUnauthenticated, "the server's ledger key is not an Ed25519 note key")
	}
	k := passport.PublicKey{Suite: passport.SuiteEd25519, Key: raw[1:]}
	return k, k.Validate()
}

// SetAvailability relays the signed change to the server and returns it
// as recorded.
func (r *remoteProfile) SetAvailability(ctx context.Context, change *passport.Envelope) (workforce.Availability, error) {
	if _, err := r.rc.SetAvailability(ctx, change); err != nil {
		return workforce.Availability{}, err
	}
	return workforce.DecodeAvailability(change)
}
