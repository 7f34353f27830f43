package memory_test

import (
	"testing"

	"github.com/humanos/human/adapters/adaptertest"
	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/policy"
)

func TestPolicyStore(t *testing.T) {
	adaptertest.RunPolicyStore(t, func(*testing.T) policy.Store { return memory.NewPolicyStore() })
}
