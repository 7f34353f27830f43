package human

import (
	"context"

	"github.com/humanos/human/passport"
)

// Passport returns the verified state of a passport of this org:
// errs.ErrNotFound when there is none, errs.ErrUnauthenticated when what
// the store holds does not verify.
func (c *Client) Passport(ctx context.Context, did string) (*passport.Passport, error) {
	if c.remote != nil {
		return c.remote.rc.Passport(ctx, did)
	}
	return c.passports.Get(ctx, c.org, did)
}

// UpdatePassport records a signed change to a passport, made on the
// holder's device with passport.RotateKeys, AddDevice, RemoveDevice,
// SetGuardians or RevokePassport, or a guardian recovery
// (passport.StartRecovery co-signed by the guardians, CancelRecovery,
// CompleteRecovery). The change is verified against the stored log and
// put on the ledger before it takes effect; a recovery attempt that does
// not verify is put on the ledger as rejected and changes nothing. No
// operator, admin or org key can make any of these changes: each needs the
// passport's own key, or k of its guardians and the delay.
//
// Errors are those of passport.Registry.AppendEvent, in every profile.
func (c *Client) UpdatePassport(ctx context.Context, event *passport.Envelope) (*passport.Passport, error) {
	if c.remote != nil {
		return c.remote.rc.UpdatePassport(ctx, event)
	}
	return c.passports.AppendEvent(ctx, c.org, event)
}
