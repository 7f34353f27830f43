package human

import (
	"context"

	"github.com/humanos/human/adapters"
	"github.com/humanos/human/bundle"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// bundleStores keeps what Export and Import need beyond the core objects:
// the raw stores (bundles carry signed bytes exactly as stored) and the
// org signer.
type bundleStores struct {
	stores adapters.Stores
	signer passport.Signer
}

func (c *Client) bundleTarget() (*bundle.Stores, error) {
	if c.remote != nil || c.bundle == nil {
		return nil, errs.Errorf(errs.ErrFailedPrecondition,
			"export and import run where the stores are: in the hosted profile, run `human export` on the server with its store configuration")
	}
	st := c.bundle.stores
	return &bundle.Stores{Org: c.org, Log: c.ledger, Signer: c.bundle.signer, Passports: st.Passports,
		Graph: st.Graph, Policies: st.Policies, Tasks: st.Tasks, Budgets: st.Budgets}, nil
}

// Export writes the whole state of the client's org (passports and their
// event logs, delegations, revocations, the capability graph with its
// applied-claim record and evidence, policy versions, tasks, budget
// counters and the ledger) to dir as a signed
// bundle; see package bundle for the format and its guarantees. dir must
// not exist or be empty. In the hosted profile it is
// errs.ErrFailedPrecondition.
func (c *Client) Export(ctx context.Context, dir string, opts *bundle.ExportOptions) (*bundle.Manifest, error) {
	s, err := c.bundleTarget()
	if err != nil {
		return nil, err
	}
	return bundle.Export(ctx, s, dir, opts)
}

// Import verifies the bundle in dir completely, then writes it into the
// client's stores so that this deployment continues the same org and the
// same log; see bundle.Import for the checks and errors. The client's org
// signer must be the key that signed the bundle (move the org key file or
// use the same KMS key). Re-running an import is safe. In the hosted
// profile it is errs.ErrFailedPrecondition.
func (c *Client) Import(ctx context.Context, dir string, opts *bundle.ImportOptions) (*bundle.ImportReport, error) {
	s, err := c.bundleTarget()
	if err != nil {
		return nil, err
	}
	return bundle.Import(ctx, dir, s, opts)
}
