package memory_test

import (
	"testing"

	"github.com/humanos/human/adapters/adaptertest"
	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/workforce"
)

func TestQueueStoreConformance(t *testing.T) {
	adaptertest.RunQueueStore(t, func(*testing.T) workforce.Store { return memory.NewQueueStore() })
}
