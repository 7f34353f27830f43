package adaptertest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/policy"
)

// RunBudgetStore runs the policy.BudgetStore conformance suite. newStore
// must return a fresh, empty store each time it is called; every subtest
// calls it.
func RunBudgetStore(t *testing.T, newStore func(t *testing.T) policy.BudgetStore) {
	t.Helper()
	ctx := context.Background()
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	charge := func(key string, amount, max int64) policy.Charge {
		return policy.Charge{Key: key, Start: day, End: day.Add(24 * time.Hour), Amount: amount, Max: max}
	}

	t.Run("SpendUpToMax", func(t *testing.T) {
		s := newStore(t)
		for i, want := range []struct {
			amount  int64
			charged bool
			total   int64
		}{{300, true, 300}, {200, true, 500}, {1, false, 500}, {0, true, 500}} {
			sp, err := s.Spend(ctx, "acme", []policy.Charge{charge("k", want.amount, 500)})
			if err != nil {
				t.Fatal(err)
			}
			if sp.Charged != want.charged || len(sp.Totals) != 1 || sp.Totals[0] != want.total {
				t.Fatalf("spend %d of %d: got %+v, want charged=%v total=%d", i, want.amount, sp, want.charged, want.total)
			}
			if want.charged != (sp.Exceeded == -1) || !want.charged && sp.Exceeded != 0 {
				t.Fatalf("spend %d: Exceeded = %d", i, sp.Exceeded)
			}
		}
	})

	t.Run("AllOrNothing", func(t *testing.T) {
		s := newStore(t)
		sp, err := s.Spend(ctx, "acme", []policy.Charge{charge("daily", 100, 1000), charge("rate", 1, 1)})
		if err != nil || !sp.Charged {
			t.Fatalf("first spend: %+v, %v", sp, err)
		}
		sp, err = s.Spend(ctx, "acme", []policy.Charge{charge("daily", 100, 1000), charge("rate", 1, 1)})
		if err != nil || sp.Charged || sp.Exceeded != 1 {
			t.Fatalf("second spend must fail on the rate limit (index 1): %+v, %v", sp, err)
		}
		if sp.Totals[0] != 100 || sp.Totals[1] != 1 {
			t.Fatalf("a refused spend changed counters: totals %v, want [100 1]", sp.Totals)
		}
		// Two charges of one counter in one call add up.
		sp, err = s.Spend(ctx, "acme", []policy.Charge{charge("same", 6, 10), charge("same", 6, 10)})
		if err != nil || sp.Charged || sp.Exceeded != 1 {
			t.Fatalf("6+6 over 10 must fail at index 1: %+v, %v", sp, err)
		}
		if sp, _ := s.Spend(ctx, "acme", []policy.Charge{charge("same", 10, 10)}); !sp.Charged {
			t.Fatalf("the refused batch charged part of itself: %+v", sp)
		}
	})

	t.Run("WindowsAndOrgsAreSeparate", func(t *testing.T) {
		s := newStore(t)
		if sp, err := s.Spend(ctx, "acme", []policy.Charge{charge("k", 10, 10)}); err != nil || !sp.Charged {
			t.Fatalf("%+v %v", sp, err)
		}
		next := policy.Charge{Key: "k", Start: day.Add(24 * time.Hour), End: day.Add(48 * time.Hour), Amount: 10, Max: 10}
		if sp, err := s.Spend(ctx, "acme", []policy.Charge{next}); err != nil || !sp.Charged || sp.Totals[0] != 10 {
			t.Fatalf("next window must start at 0: %+v %v", sp, err)
		}
		if sp, err := s.Spend(ctx, "other", []policy.Charge{charge("k", 10, 10)}); err != nil || !sp.Charged || sp.Totals[0] != 10 {
			t.Fatalf("another org must have its own counter: %+v %v", sp, err)
		}
		if sp, err := s.Spend(ctx, "acme", []policy.Charge{charge("k2", 10, 10)}); err != nil || !sp.Charged {
			t.Fatalf("another key must have its own counter: %+v %v", sp, err)
		}
	})

	t.Run("InvalidArgument", func(t *testing.T) {
		s := newStore(t)
		good := charge("k", 1, 10)
		bad := func(f func(*policy.Charge)) []policy.Charge { c := good; f(&c); return []policy.Charge{c} }
		cases := []struct {
			name    string
			org     string
			charges []policy.Charge
		}{
			{"empty org", "", []policy.Charge{good}},
			{"no charges", "acme", nil},
			{"empty key", "acme", bad(func(c *policy.Charge) { c.Key = "" })},
			{"negative amount", "acme", bad(func(c *policy.Charge) { c.Amount = -5 })},
			{"negative max", "acme", bad(func(c *policy.Charge) { c.Max = -1 })},
			{"end before start", "acme", bad(func(c *policy.Charge) { c.End = c.Start })},
		}
		for _, c := range cases {
			if _, err := s.Spend(ctx, c.org, c.charges); !errors.Is(err, errs.ErrInvalidArgument) {
				t.Errorf("%s: err = %v, want ErrInvalidArgument", c.name, err)
			}
		}
		if sp, _ := s.Spend(ctx, "acme", []policy.Charge{good}); sp.Totals[0] != 1 {
			t.Errorf("invalid calls changed the counter: %+v", sp)
		}
	})

	t.Run("Cancelled", func(t *testing.T) {
		s := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Spend(cctx, "acme", []policy.Charge{charge("k", 1, 10)}); !errors.Is(err, errs.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Spend: err = %v, want ErrUnavailable wrapping context.Canceled", err)
		}
		if sp, _ := s.Spend(ctx, "acme", []policy.Charge{charge("k", 0, 10)}); sp.Totals[0] != 0 {
			t.Fatalf("a cancelled Spend changed the counter: %+v", sp)
		}
	})

	// The trust invariant: concurrent spenders together never exceed a
	// limit, and every successful spend is counted.
	t.Run("ConcurrentSpendersNeverOverspend", func(t *testing.T) {
		s := newStore(t)
		const (
			workers = 16
			each    = 25
			max     = 100 * 7 // 100 charges of 7 fit
		)
		var ok, refused atomic.Int64
		var wg sync.WaitGroup
		errc := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					sp, err := s.Spend(ctx, "acme", []policy.Charge{charge("daily", 7, max), charge("calls", 1, 1000)})
					if err != nil {
						errc <- err
						return
					}
					if sp.Charged {
						ok.Add(1)
						if sp.Totals[0] > max {
							errc <- errors.New("a total above max was reported")
							return
						}
					} else {
						refused.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		if ok.Load() != 100 || refused.Load() != workers*each-100 {
			t.Fatalf("charged %d, refused %d; want exactly 100 charged", ok.Load(), refused.Load())
		}
		sp, err := s.Spend(ctx, "acme", []policy.Charge{charge("daily", 0, max), charge("calls", 0, 1000)})
		if err != nil || sp.Totals[0] != max || sp.Totals[1] != 100 {
			t.Fatalf("final totals %+v, %v; want [%d 100]", sp, err, max)
		}
	})
}
