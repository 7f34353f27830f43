package human

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

// checkedAnchor is the anchor of a client whose ledger store keeps a query
// index: besides anchoring, it answers whether an event is on the ledger,
// so the passport registry refuses a passport log with any event that was
// never anchored (a row written straight into the store, a forked log).
// Without an index that check would scan the whole log on every passport
// read, so it is only wired where it is an index look-up.
type checkedAnchor struct{ anchor }

var _ passport.AnchorChecker = checkedAnchor{}

// Anchored implements passport.AnchorChecker: nil if an attestation of env
// (by the SHA-256 of its payload, the subject digest anchor writes) is in
// the org's log; errs.ErrNotFound if none is.
func (a checkedAnchor) Anchored(ctx context.Context, org string, env *passport.Envelope) error {
	sum := sha256.Sum256(env.Payload)
	page, err := a.log.Query(ctx, &ledger.Query{
		Filter: ledger.Filter{Kind: ledger.PredicatePassportEvent, Org: org, Subject: "sha256:" + hex.EncodeToString(sum[:])},
		Limit:  1,
	})
	if err != nil {
		return err
	}
	if len(page.Attestations) == 0 {
		return errs.Errorf(errs.ErrNotFound, "no ledger attestation of passport event sha256:%x", sum)
	}
	return nil
}

// passportAnchor picks the anchor for a ledger store: checked when the
// store can answer by index.
func passportAnchor(log *ledger.Log, store ledger.Store) passport.Anchor {
	if _, ok := store.(ledger.IndexStore); ok {
		return checkedAnchor{anchor{log}}
	}
	return anchor{log}
}
