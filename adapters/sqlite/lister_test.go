package sqlite_test

import (
	"testing"

	"github.com/humanos/human/adapters/adaptertest"
	"github.com/humanos/human/adapters/sqlite"
	"github.com/humanos/human/capability"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
)

func TestListers(t *testing.T) {
	t.Run("Passport", func(t *testing.T) {
		adaptertest.RunPassportLister(t, func(t *testing.T) passport.Store { return sqlite.NewPassportStore(newDB(t)) })
	})
	t.Run("Graph", func(t *testing.T) {
		adaptertest.RunGraphLister(t, func(t *testing.T) capability.Store { return sqlite.NewGraphStore(newDB(t)) })
	})
	t.Run("Budget", func(t *testing.T) {
		adaptertest.RunBudgetLister(t, func(t *testing.T) policy.BudgetStore { return sqlite.NewBudgetStore(newDB(t)) })
	})
}
