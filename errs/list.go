package errs

import "context"

// CheckList validates what every paged listing of HUMAN's stores takes
// (passport.Lister, capability.Lister, ClaimLister, EvidenceLister,
// policy.BudgetLister): a live ctx (else ErrUnavailable wrapping
// ctx.Err()), an org and a limit >= 1 (else ErrInvalidArgument). store
// names the store in the message.
func CheckList(ctx context.Context, store, org string, limit int) error {
	if err := ctx.Err(); err != nil {
		return Errorf(ErrUnavailable, "%s: %w", store, err)
	}
	if org == "" || limit < 1 {
		return Errorf(ErrInvalidArgument, "%s: list needs an org and a limit >= 1", store)
	}
	return nil
}
