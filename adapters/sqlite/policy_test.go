package sqlite_test

import (
	"testing"

	"github.com/humanos/human/adapters/adaptertest"
	"github.com/humanos/human/adapters/sqlite"
	"github.com/humanos/human/policy"
)

func TestPolicyStore(t *testing.T) {
	adaptertest.RunPolicyStore(t, func(t *testing.T) policy.Store { return sqlite.NewPolicyStore(newDB(t)) })
}
