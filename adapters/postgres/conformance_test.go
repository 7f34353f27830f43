package postgres_test

import (
	"testing"

	"github.com/humanos/human/adapters/adaptertest"
	"github.com/humanos/human/adapters/postgres"
	"github.com/humanos/human/capability"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
	"github.com/humanos/human/policy"
	"github.com/humanos/human/workforce"
)

// The conformance suites, each subtest on a fresh schema and connected as
// the application role, so row-level security is in force throughout.

func TestLedgerStoreConformance(t *testing.T) {
	adaptertest.RunLedgerStore(t, func(t *testing.T) ledger.Store { return postgres.NewLedgerStore(newDB(t)) })
}

func TestPassportStoreConformance(t *testing.T) {
	adaptertest.RunPassportStore(t, func(t *testing.T) passport.Store { return postgres.NewPassportStore(newDB(t)) })
}

func TestGraphStoreConformance(t *testing.T) {
	adaptertest.RunGraphStore(t, func(t *testing.T) capability.Store { return postgres.NewGraphStore(newDB(t)) })
}

func TestPolicyStoreConformance(t *testing.T) {
	adaptertest.RunPolicyStore(t, func(t *testing.T) policy.Store { return postgres.NewPolicyStore(newDB(t)) })
}

func TestQueueStoreConformance(t *testing.T) {
	adaptertest.RunQueueStore(t, func(t *testing.T) workforce.Store { return postgres.NewQueueStore(newDB(t)) })
}

func TestBudgetStoreConformance(t *testing.T) {
	adaptertest.RunBudgetStore(t, func(t *testing.T) policy.BudgetStore { return postgres.NewBudgetStore(newDB(t)) })
}
