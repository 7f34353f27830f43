package sqlite_test

import (
	"testing"

	"github.com/humanos/human/adapters/adaptertest"
	"github.com/humanos/human/adapters/sqlite"
	"github.com/humanos/human/policy"
)

func TestBudgetStore(t *testing.T) {
	adaptertest.RunBudgetStore(t, func(t *testing.T) policy.BudgetStore { return sqlite.NewBudgetStore(newDB(t)) })
}
