package memory_test

import (
	"testing"

	"github.com/humanos/human/adapters/adaptertest"
	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/passport"
)

func TestPassportStore(t *testing.T) {
	adaptertest.RunPassportStore(t, func(t *testing.T) passport.Store { return memory.NewPassportStore() })
}
