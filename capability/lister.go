package capability

import "context"

// Lister is an optional interface of a [Store]: it enumerates an org's
// whole graph, a page at a time, so it can be exported (package bundle).
// Pages are keyset-paginated in byte order: pass the last item of a page
// as after to get the next, the zero value for the first. A page shorter
// than limit is the last.
//
// A limit below 1 or an empty org is errs.ErrInvalidArgument. When ctx is
// already cancelled or ends during the call, a method returns an error
// wrapping both errs.ErrUnavailable and ctx.Err(). Listing changes
// nothing.
type Lister interface {
	// ListNodes returns org's nodes whose ID is greater than after,
	// ordered by ID, at most limit.
	ListNodes(ctx context.Context, org, after string, limit int) ([]Node, error)
	// ListEdges returns org's edges whose (From, Kind, To) is greater
	// than after's, ordered by (From, Kind, To), at most limit. Only
	// after's From, Kind and To are read.
	ListEdges(ctx context.Context, org string, after Edge, limit int) ([]Edge, error)
}

// EdgeLess reports whether a sorts before b in [Lister] order: by From,
// then Kind, then To, comparing bytes.
func EdgeLess(a, b Edge) bool {
	if a.From != b.From {
		return a.From < b.From
	}
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	return a.To < b.To
}
