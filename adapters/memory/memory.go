// Package memory holds every HUMAN store in process memory: for tests,
// examples and short-lived tools. Nothing survives the process.
//
// # URLs
//
// "mem://" opens a fresh, empty set of stores each time. "mem://NAME" opens
// the set named NAME, shared by every Open of that URL in this process, so
// two clients in one test can share state as two servers share a database.
package memory

import (
	"context"
	"net/url"
	"sync"

	"github.com/humanos/human/adapters"
	"github.com/humanos/human/errs"
)

func init() { adapters.Register("mem", openURL) }

var (
	namedMu sync.Mutex
	named   = map[string]*adapters.Stores{}
)

// NewStores returns a fresh, empty set of every store.
func NewStores() *adapters.Stores {
	return &adapters.Stores{
		Passports: NewPassportStore(),
		Ledger:    NewLedgerStore(),
		Graph:     NewGraphStore(),
		Policies:  NewPolicyStore(),
		Budgets:   NewBudgetStore(),
		Tasks:     NewQueueStore(),
	}
}

func openURL(_ context.Context, u *url.URL) (*adapters.Stores, error) {
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "memory store URL %q: want mem:// or mem://NAME", u.Redacted())
	}
	if u.Host == "" {
		return NewStores(), nil
	}
	namedMu.Lock()
	defer namedMu.Unlock()
	s, ok := named[u.Host]
	if !ok {
		s = NewStores()
		named[u.Host] = s
	}
	return s, nil
}
