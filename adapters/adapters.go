// Package adapters is the URL-scheme registry through which a HUMAN client
// finds its stores, in the way database/sql finds drivers.
//
// Each adapter package registers its schemes in an init function; an app
// that wants a heavy backend imports it for that side effect:
//
//	import _ "github.com/humanos/human/adapters/postgres"
//
// The core packages never import adapters; package human imports the light
// built-in ones (memory, sqlite) so zero configuration works.
package adapters

import (
	"context"
	"net/url"
	"slices"
	"sync"

	"github.com/humanos/human/capability"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
	"github.com/humanos/human/workforce"
)

// Stores is what one store URL opens: every store a client needs. An
// adapter that does not support one leaves it nil, and the client reports
// which URL lacks it.
type Stores struct {
	Passports passport.Store
	Ledger    ledger.Store
	Graph     capability.Store
	Policies  policy.Store
	Tasks     workforce.Store
	// Budgets keeps the counters of policy limits (budgets, rate limits).
	Budgets policy.BudgetStore
	// Close releases what Open acquired; nil when there is nothing to release.
	Close func() error
}

// Opener opens the stores a URL names. Options in the URL's query are the
// adapter's to define and must be validated: an unknown one is an error.
type Opener func(ctx context.Context, u *url.URL) (*Stores, error)

var (
	mu      sync.RWMutex
	openers = map[string]Opener{}
)

// Register makes an adapter available under a URL scheme. It panics if the
// scheme is empty, the opener nil, or the scheme already registered, since
// that is a programming error found at start-up.
func Register(scheme string, open Opener) {
	mu.Lock()
	defer mu.Unlock()
	if scheme == "" || open == nil {
		panic("adapters: Register with an empty scheme or nil opener")
	}
	if _, dup := openers[scheme]; dup {
		panic("adapters: Register called twice for scheme " + scheme)
	}
	openers[scheme] = open
}

// Schemes lists the registered schemes, sorted.
func Schemes() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(openers))
	for s := range openers {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Open parses rawURL and opens the stores of its scheme's adapter.
func Open(ctx context.Context, rawURL string) (*Stores, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "store URL %q: %v", rawURL, err)
	}
	if u.Scheme == "" {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "store URL %q has no scheme (want one of %v)", rawURL, Schemes())
	}
	mu.RLock()
	open := openers[u.Scheme]
	mu.RUnlock()
	if open == nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument,
			"store URL %q: unknown scheme %q (registered: %v; forgotten import of its adapter?)", rawURL, u.Scheme, Schemes())
	}
	return open(ctx, u)
}
