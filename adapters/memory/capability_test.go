package memory_test

import (
	"testing"

	"github.com/humanos/human/adapters/adaptertest"
	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/capability"
)

func TestGraphStoreConformance(t *testing.T) {
	adaptertest.RunGraphStore(t, func(*testing.T) capability.Store { return memory.NewGraphStore() })
}
