package memory_test

import (
	"testing"

	"github.com/humanos/human/adapters/adaptertest"
	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/policy"
)

func TestBudgetStore(t *testing.T) {
	adaptertest.RunBudgetStore(t, func(*testing.T) policy.BudgetStore { return memory.NewBudgetStore() })
}
