package neo4j_test

import (
	"testing"

	"github.com/humanos/human/adapters/adaptertest"
	"github.com/humanos/human/capability"
)

func TestGraphLister(t *testing.T) {
	d := testDriver(t)
	adaptertest.RunGraphLister(t, func(t *testing.T) capability.Store { return newStore(t, d) })
}
