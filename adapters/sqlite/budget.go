package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/policy"
)

func init() {
	migrations = append(migrations, migration{store: "budget", version: 1, stmts: []string{
		`CREATE TABLE budget_counters (
			org          TEXT    NOT NULL,
			key          TEXT    NOT NULL,
			window_start INTEGER NOT NULL,
			window_end   INTEGER NOT NULL,
			total        INTEGER NOT NULL CHECK (total >= 0),
			PRIMARY KEY (org, key, window_start)
		) WITHOUT ROWID`,
		`CREATE INDEX budget_counters_end ON budget_counters (org, window_end)`,
	}})
}

// BudgetStore is the SQLite policy.BudgetStore: one row per counter in
// budget_counters. Each Spend is one write transaction (BEGIN IMMEDIATE),
// which SQLite serialises across connections and processes.
type BudgetStore struct {
	db     *DB
	spends atomic.Uint64
}

var _ policy.BudgetStore = (*BudgetStore)(nil)

// NewBudgetStore returns the budget store of db.
func NewBudgetStore(db *DB) *BudgetStore { return &BudgetStore{db: db} }

// budgetPruneEvery is how many spends pass between deletions of expired
// counters.
const budgetPruneEvery = 256

// Spend implements policy.BudgetStore.
func (s *BudgetStore) Spend(ctx context.Context, org string, charges []policy.Charge) (policy.Spent, error) {
	if err := ctx.Err(); err != nil {
		return policy.Spent{}, errs.Errorf(errs.ErrUnavailable, "sqlite budget store: %w", err)
	}
	if org == "" {
		return policy.Spent{}, errs.Errorf(errs.ErrInvalidArgument, "sqlite budget store: empty org")
	}
	if len(charges) == 0 {
		return policy.Spent{}, errs.Errorf(errs.ErrInvalidArgument, "sqlite budget store: no charges")
	}
	for _, c := range charges {
		if c.Key == "" || c.Amount < 0 || c.Max < 0 || !c.End.After(c.Start) {
			return policy.Spent{}, errs.Errorf(errs.ErrInvalidArgument, "sqlite budget store: bad charge %q (amount %d, max %d)",
				c.Key, c.Amount, c.Max)
		}
	}
	prune := s.spends.Add(1)%budgetPruneEvery == 0
	var out policy.Spent
	err := s.db.tx(ctx, func(tx *sql.Tx) error {
		out = policy.Spent{Exceeded: -1, Totals: make([]int64, len(charges))}
		type ck struct {
			key   string
			start int64
		}
		stored := func(c policy.Charge) (int64, error) {
			var v int64
			err := tx.QueryRowContext(ctx, `SELECT total FROM budget_counters WHERE org = ? AND key = ? AND window_start = ?`,
				org, c.Key, c.Start.UnixNano()).Scan(&v)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return 0, err
			}
			return v, nil
		}
		cur := map[ck]int64{}
		for i, c := range charges {
			k := ck{c.Key, c.Start.UnixNano()}
			v, ok := cur[k]
			if !ok {
				var err error
				if v, err = stored(c); err != nil {
					return err
				}
			}
			if v+c.Amount > c.Max || v+c.Amount < v {
				out.Exceeded = i
				for j, c2 := range charges {
					var err error
					if out.Totals[j], err = stored(c2); err != nil {
						return err
					}
				}
				return nil
			}
			cur[k] = v + c.Amount
		}
		for _, c := range charges {
			k := ck{c.Key, c.Start.UnixNano()}
			if _, err := tx.ExecContext(ctx, `INSERT INTO budget_counters (org, key, window_start, window_end, total)
				VALUES (?, ?, ?, ?, ?) ON CONFLICT (org, key, window_start) DO UPDATE SET total = excluded.total`,
				org, c.Key, k.start, c.End.UnixNano(), cur[k]); err != nil {
				return err
			}
		}
		for i, c := range charges {
			out.Totals[i] = cur[ck{c.Key, c.Start.UnixNano()}]
		}
		out.Charged = true
		if prune {
			if _, err := tx.ExecContext(ctx, `DELETE FROM budget_counters WHERE org = ? AND window_end <= ?`,
				org, charges[0].Start.UnixNano()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return policy.Spent{}, err
	}
	return out, nil
}
