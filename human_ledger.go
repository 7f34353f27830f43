package human

import (
	"context"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
)

// Attestations queries the org's ledger: decisions, approvals, passport
// events, policy and capability changes, selected by kind (predicate
// type), org, actor, action, subject and time range, a page at a time
// (q.Cursor = the previous page's Next). With q.Proofs every result
// carries its receipt against the latest checkpoint, verifiable offline
// with VerifyReceipt and LedgerKey. Every result is verified (signature,
// fields, and inclusion with Proofs) before it is returned; see
// ledger.Log.Query for the errors. A nil q is the first page of
// everything.
func (c *Client) Attestations(ctx context.Context, q *ledger.Query) (*ledger.Page, error) {
	if c.remote != nil {
		return c.remote.Attestations(ctx, q) // human_remote_more.go
	}
	if c.ledger == nil {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "attestations: this client has no local ledger")
	}
	return c.ledger.Query(ctx, q)
}
