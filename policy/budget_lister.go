package policy

import (
	"context"
	"time"
)

// Counter is one stored budget or rate-limit counter, as a BudgetLister
// returns it.
type Counter struct {
	Key   string    `json:"key"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Total int64     `json:"total"`
}

// BudgetLister is an optional interface of a [BudgetStore]: it lists an
// org's counters so they can be exported (package bundle). Importing a
// counter needs no extra method: Spend with Amount = Max = Total charges
// it only when the destination counter is still 0, so an import re-run
// changes nothing.
//
// An empty org is errs.ErrInvalidArgument; a cancelled ctx gives an error
// wrapping errs.ErrUnavailable and ctx.Err(). Listing changes nothing.
type BudgetLister interface {
	// Counters returns org's counters with a Total above zero, ordered by
	// Key then Start. Counters whose End has passed may be left out.
	Counters(ctx context.Context, org string) ([]Counter, error)
}
