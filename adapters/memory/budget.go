package memory

import (
	"context"
	"sync"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/policy"
)

// BudgetStore is an in-memory policy.BudgetStore, safe for concurrent use.
// One mutex makes each Spend atomic.
type BudgetStore struct {
	mu       sync.Mutex
	counters map[budgetKey]budgetCounter
	spends   int
}

var _ policy.BudgetStore = (*BudgetStore)(nil)

type budgetKey struct {
	org, key string
	start    int64
}

type budgetCounter struct {
	total int64
	end   time.Time
}

// NewBudgetStore returns an empty budget store.
func NewBudgetStore() *BudgetStore {
	return &BudgetStore{counters: map[budgetKey]budgetCounter{}}
}

// budgetPruneEvery is how many spends pass between sweeps of expired
// counters.
const budgetPruneEvery = 1024

// Spend implements policy.BudgetStore.
func (s *BudgetStore) Spend(ctx context.Context, org string, charges []policy.Charge) (policy.Spent, error) {
	if err := ctx.Err(); err != nil {
		return policy.Spent{}, errs.Errorf(errs.ErrUnavailable, "memory budget store: %w", err)
	}
	if err := budgetCheck(org, charges); err != nil {
		return policy.Spent{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.spends++
	if s.spends%budgetPruneEvery == 0 {
		oldest := charges[0].Start
		for k, c := range s.counters {
			if !c.end.After(oldest) {
				delete(s.counters, k)
			}
		}
	}
	out := policy.Spent{Exceeded: -1, Totals: make([]int64, len(charges))}
	next := map[budgetKey]int64{}
	for i, c := range charges {
		k := budgetKey{org, c.Key, c.Start.UnixNano()}
		cur, seen := next[k]
		if !seen {
			cur = s.counters[k].total
		}
		if cur+c.Amount > c.Max || cur+c.Amount < cur {
			out.Exceeded = i
			for j, c2 := range charges {
				out.Totals[j] = s.counters[budgetKey{org, c2.Key, c2.Start.UnixNano()}].total
			}
			return out, nil
		}
		next[k] = cur + c.Amount
		out.Totals[i] = cur + c.Amount
	}
	for _, c := range charges {
		k := budgetKey{org, c.Key, c.Start.UnixNano()}
		s.counters[k] = budgetCounter{total: next[k], end: c.End}
	}
	for i, c := range charges {
		out.Totals[i] = next[budgetKey{org, c.Key, c.Start.UnixNano()}]
	}
	out.Charged = true
	return out, nil
}

// budgetCheck validates Spend's arguments.
func budgetCheck(org string, charges []policy.Charge) error {
	if org == "" {
		return errs.Errorf(errs.ErrInvalidArgument, "memory budget store: empty org")
	}
	if len(charges) == 0 {
		return errs.Errorf(errs.ErrInvalidArgument, "memory budget store: no charges")
	}
	for _, c := range charges {
		if c.Key == "" || c.Amount < 0 || c.Max < 0 || !c.End.After(c.Start) {
			return errs.Errorf(errs.ErrInvalidArgument, "memory budget store: bad charge %q (amount %d, max %d, window %v..%v)",
				c.Key, c.Amount, c.Max, c.Start, c.End)
		}
	}
	return nil
}
