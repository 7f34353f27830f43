package sqlite_test

import (
	"testing"

	"github.com/humanos/human/adapters/adaptertest"
	"github.com/humanos/human/adapters/sqlite"
	"github.com/humanos/human/capability"
)

func TestGraphStoreConformance(t *testing.T) {
	adaptertest.RunGraphStore(t, func(t *testing.T) capability.Store { return sqlite.NewGraphStore(newDB(t)) })
}
