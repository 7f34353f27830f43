package sqlite_test

import (
	"testing"

	"github.com/humanos/human/adapters/adaptertest"
	"github.com/humanos/human/adapters/sqlite"
	"github.com/humanos/human/workforce"
)

func TestQueueStoreConformance(t *testing.T) {
	adaptertest.RunQueueStore(t, func(t *testing.T) workforce.Store { return sqlite.NewQueueStore(newDB(t)) })
}
