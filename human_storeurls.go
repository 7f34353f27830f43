package human

import (
	"context"
	"fmt"

	"github.com/humanos/human/adapters"
	"github.com/humanos/human/errs"
)

// overrideStores replaces the graph and policy stores of st with those of
// Config.Graph and Config.Policies when set (the way Config.Ledger
// replaces the ledger store), registering their closers.
func (c *Client) overrideStores(ctx context.Context, st *adapters.Stores) error {
	for _, o := range []struct {
		name, url string
		use       func(*adapters.Stores) bool
	}{
		{"capability graph", c.cfg.Graph, func(s *adapters.Stores) bool { st.Graph = s.Graph; return s.Graph != nil }},
		{"policy", c.cfg.Policies, func(s *adapters.Stores) bool { st.Policies = s.Policies; return s.Policies != nil }},
	} {
		if o.url == "" {
			continue
		}
		s, err := adapters.Open(ctx, o.url)
		if err != nil {
			return fmt.Errorf("%s store: %w", o.name, err)
		}
		if s.Close != nil {
			c.closers = append(c.closers, s.Close)
		}
		if !o.use(s) {
			return errs.Errorf(errs.ErrInvalidArgument, "%s store URL %q provides no %s store", o.name, o.url, o.name)
		}
	}
	return nil
}
