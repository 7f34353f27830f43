package passport

import "context"

// Lister is an optional interface of a [Store]: it enumerates what an org
// holds, a page at a time, so a whole org can be exported (package bundle)
// without knowing IDs in advance. Pages are keyset-paginated in byte
// order of the IDs: pass the last ID of a page as after to get the next,
// "" for the first. A page shorter than limit is the last.
//
// A limit below 1 or an empty org is errs.ErrInvalidArgument. When ctx is
// already cancelled or ends during the call, a method returns an error
// wrapping both errs.ErrUnavailable and ctx.Err(). Listing changes
// nothing.
type Lister interface {
	// ListPassports returns the DIDs of org's passports greater than
	// after, ascending, at most limit.
	ListPassports(ctx context.Context, org, after string, limit int) ([]string, error)
	// ListDelegations returns the IDs of org's stored delegations greater
	// than after, ascending, at most limit.
	ListDelegations(ctx context.Context, org, after string, limit int) ([]string, error)
	// ListRevocations returns the delegation IDs of org's stored
	// revocations greater than after, ascending, at most limit.
	ListRevocations(ctx context.Context, org, after string, limit int) ([]string, error)
}
