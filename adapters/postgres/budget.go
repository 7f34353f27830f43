package postgres

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/policy"
)

// BudgetStore is the PostgreSQL policy.BudgetStore: one row per counter in
// budget_counters. A Spend locks its counters (SELECT ... FOR UPDATE, in
// key order so concurrent spends never deadlock each other), checks every
// charge and writes all or nothing in one transaction, so replicas sharing
// the database never overspend.
type BudgetStore struct {
	d      *DB
	spends atomic.Uint64
}

var _ policy.BudgetStore = (*BudgetStore)(nil)

// NewBudgetStore returns the budget store over d.
func NewBudgetStore(d *DB) *BudgetStore { return &BudgetStore{d: d} }

// budgetPruneEvery is how many spends pass between deletions of expired
// counters.
const budgetPruneEvery = 256

type budgetKey struct {
	key   string
	start int64
}

// Spend implements policy.BudgetStore.
func (s *BudgetStore) Spend(ctx context.Context, org string, charges []policy.Charge) (policy.Spent, error) {
	if err := ctx.Err(); err != nil {
		return policy.Spent{}, errs.Errorf(errs.ErrUnavailable, "postgres budget store: %w", err)
	}
	if org == "" {
		return policy.Spent{}, errs.Errorf(errs.ErrInvalidArgument, "postgres budget store: empty org")
	}
	if len(charges) == 0 {
		return policy.Spent{}, errs.Errorf(errs.ErrInvalidArgument, "postgres budget store: no charges")
	}
	for _, c := range charges {
		if c.Key == "" || c.Amount < 0 || c.Max < 0 || !c.End.After(c.Start) {
			return policy.Spent{}, errs.Errorf(errs.ErrInvalidArgument, "postgres budget store: bad charge %q (amount %d, max %d)",
				c.Key, c.Amount, c.Max)
		}
	}
	// The distinct counters, sorted: the lock order.
	var keys []budgetKey
	ends := map[budgetKey]int64{}
	for _, c := range charges {
		k := budgetKey{c.Key, queueTime(c.Start)}
		if _, ok := ends[k]; !ok {
			keys = append(keys, k)
		}
		ends[k] = max(ends[k], queueTime(c.End))
	}
	slices.SortFunc(keys, func(a, b budgetKey) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return int(min(max(a.start-b.start, -1), 1))
	})
	names := make([]string, len(keys))
	starts := make([]int64, len(keys))
	endv := make([]int64, len(keys))
	for i, k := range keys {
		names[i], starts[i], endv[i] = k.key, k.start, ends[k]
	}
	prune := s.spends.Add(1)%budgetPruneEvery == 0
	var out policy.Spent
	err := s.d.tx(ctx, org, func(tx txn) error {
		out = policy.Spent{Exceeded: -1, Totals: make([]int64, len(charges))}
		// Make every counter exist (at 0, which reads as never charged),
		// then lock them all in key order.
		if _, err := tx.Exec(ctx, `INSERT INTO {S}.budget_counters (org, key, window_start, window_end, total)
			SELECT $1, k, s, e, 0 FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS t(k, s, e)
			ORDER BY k COLLATE "C", s
			ON CONFLICT (org, key, window_start) DO NOTHING`, org, names, starts, endv); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT c.key, c.window_start, c.total FROM {S}.budget_counters c
			JOIN unnest($2::text[], $3::bigint[]) AS t(k, s) ON c.key = t.k AND c.window_start = t.s
			WHERE c.org = $1 ORDER BY c.key, c.window_start FOR UPDATE OF c`, org, names, starts)
		if err != nil {
			return err
		}
		stored := map[budgetKey]int64{}
		for rows.Next() {
			var k budgetKey
			var v int64
			if err := rows.Scan(&k.key, &k.start, &v); err != nil {
				rows.Close()
				return err
			}
			stored[k] = v
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		cur := make(map[budgetKey]int64, len(stored))
		for k, v := range stored {
			cur[k] = v
		}
		for i, c := range charges {
			k := budgetKey{c.Key, queueTime(c.Start)}
			v := cur[k]
			if v+c.Amount > c.Max || v+c.Amount < v {
				out.Exceeded = i
				for j, c2 := range charges {
					out.Totals[j] = stored[budgetKey{c2.Key, queueTime(c2.Start)}]
				}
				// Nothing was charged; the zero rows inserted above roll
				// back with the transaction.
				return errBudgetExceeded
			}
			cur[k] = v + c.Amount
		}
		totals := make([]int64, len(keys))
		for i, k := range keys {
			totals[i] = cur[k]
		}
		if _, err := tx.Exec(ctx, `UPDATE {S}.budget_counters c SET total = t.v
			FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS t(k, s, v)
			WHERE c.org = $1 AND c.key = t.k AND c.window_start = t.s`, org, names, starts, totals); err != nil {
			return err
		}
		for i, c := range charges {
			out.Totals[i] = cur[budgetKey{c.Key, queueTime(c.Start)}]
		}
		out.Charged = true
		if prune {
			if _, err := tx.Exec(ctx, `DELETE FROM {S}.budget_counters WHERE org = $1 AND window_end <= $2`,
				org, queueTime(charges[0].Start)); err != nil {
				return err
			}
		}
		return nil
	})
	if err == errBudgetExceeded {
		return out, nil
	}
	if err != nil {
		return policy.Spent{}, err
	}
	return out, nil
}

// errBudgetExceeded rolls back a Spend that did not fit; Spend reports it
// as Spent.Exceeded, never as an error.
var errBudgetExceeded = errs.Errorf(errs.ErrFailedPrecondition, "postgres budget store: budget exceeded")
