package policy

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/humanos/human/errs"
)

// BudgetStore keeps the counters of budgets and rate limits and spends
// them atomically, so concurrent callers (goroutines, processes sharing
// the store) can never together exceed a limit.
//
// Every method takes the org whose counters it reads or writes; nothing of
// one org is visible through another org's calls. A cancelled context
// makes every method return an error wrapping errs.ErrUnavailable and
// ctx.Err(), having changed nothing. Implementations are safe for
// concurrent use.
type BudgetStore interface {
	// Spend applies every charge or none: if, for each charge, the
	// counter (org, Key, Start) plus Amount stays at most Max, every
	// counter grows by its Amount (one atomic step) and Spent.Charged is
	// true; otherwise nothing changes and Spent.Exceeded is the index of
	// the first charge that does not fit. Totals are the counters after
	// the call. A counter that was never charged is 0. Charges with the
	// same Key and Start add up within the call.
	//
	// errs.ErrInvalidArgument for an empty org, no charges, an empty Key,
	// a negative Amount or Max, or End not after Start; nothing changes.
	// Counters whose End has passed may be forgotten.
	Spend(ctx context.Context, org string, charges []Charge) (Spent, error)
}

// Charge is one counter increment asked of a BudgetStore. Amounts are
// integers in millionths of a unit, so sums are exact.
type Charge struct {
	// Key names the counter within the org (rule, limit and subject).
	Key string
	// Start and End bound the counter's window; Start is part of its
	// identity.
	Start, End time.Time
	// Amount is added to the counter (>= 0).
	Amount int64
	// Max is the most the counter may reach (>= 0).
	Max int64
}

// Spent is the result of BudgetStore.Spend.
type Spent struct {
	// Charged reports whether every charge was applied.
	Charged bool
	// Exceeded is the index of the first charge that did not fit; -1 when
	// Charged.
	Exceeded int
	// Totals are the counters after the call, one per charge.
	Totals []int64
}

// BudgetUnit is how many stored units make one unit of a limit: counters
// keep millionths so that cents and fractions add up exactly.
const BudgetUnit = 1_000_000

// Budgets charges a decision's obligations against a BudgetStore.
type Budgets struct {
	store BudgetStore
}

// NewBudgets returns Budgets over store.
func NewBudgets(store BudgetStore) *Budgets { return &Budgets{store: store} }

// Charge spends d's obligations at time now, all or none. It is for a
// decision whose Effect is Allow or RequireApproval (others are left
// alone). If every limit has room, each obligation's Total is set and the
// reason says how much of each limit is used; otherwise d becomes a Deny
// decided by the limit's rule, with a reason naming the limit, and nothing
// is charged. A store error (errs.ErrUnavailable and others) is returned
// and d is unchanged: a caller must not allow a request whose budget it
// could not charge.
//
// A pending approval reserves its budget when it is asked for; a denied or
// expired approval does not give it back, so a limit can be under-used but
// never exceeded.
func (b *Budgets) Charge(ctx context.Context, org string, d *Decision, now time.Time) error {
	if d.Effect == Deny || len(d.Obligations) == 0 {
		return nil
	}
	if b == nil || b.store == nil {
		return errs.Errorf(errs.ErrFailedPrecondition, "policy: decision has %d limits but no budget store is configured", len(d.Obligations))
	}
	charges := make([]Charge, len(d.Obligations))
	for i, o := range d.Obligations {
		if o.Window <= 0 {
			return errs.Errorf(errs.ErrInvalidArgument, "policy: limit %s/%s: window %v", o.Rule, o.Name, o.Window)
		}
		start := now.UTC().Truncate(o.Window)
		charges[i] = Charge{
			Key:   o.Rule + "/" + o.Name + "/" + o.Per + "/" + o.Subject,
			Start: start, End: start.Add(o.Window),
			Amount: units(o.Amount), Max: units(o.Max),
		}
	}
	sp, err := b.store.Spend(ctx, org, charges)
	if err != nil {
		return err
	}
	if !sp.Charged {
		i := sp.Exceeded
		if i < 0 || i >= len(d.Obligations) {
			return errs.Errorf(errs.ErrUnavailable, "policy: budget store reported exceeded charge %d of %d", i, len(d.Obligations))
		}
		o := d.Obligations[i]
		used := float64(0)
		if i < len(sp.Totals) {
			used = float64(sp.Totals[i]) / BudgetUnit
		}
		d.Effect, d.Rule, d.Approval = Deny, o.Rule, nil
		d.Reason = fmt.Sprintf("rule %s: limit %s for %s %s is used up: %s of %s used in this %s window, this request needs %s; denied",
			o.Rule, o.Name, o.Per, o.Subject, fmtAmount(used), fmtAmount(o.Max), FormatDuration(o.Window), fmtAmount(o.Amount))
		d.Obligations = nil
		return nil
	}
	for i := range d.Obligations {
		if i < len(sp.Totals) {
			d.Obligations[i].Total = float64(sp.Totals[i]) / BudgetUnit
		}
		o := d.Obligations[i]
		d.Reason += fmt.Sprintf("; limit %s/%s: %s of %s used this %s window", o.Rule, o.Name, fmtAmount(o.Total),
			fmtAmount(o.Max), FormatDuration(o.Window))
	}
	return nil
}

// units converts a limit amount to stored millionths, rounding to nearest.
func units(x float64) int64 { return int64(math.Round(x * BudgetUnit)) }

func fmtAmount(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
