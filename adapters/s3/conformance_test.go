package s3_test

import (
	"testing"

	"github.com/humanos/human/adapters/adaptertest"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/policy"
)

func TestPolicyStoreConformance(t *testing.T) {
	adaptertest.RunPolicyStore(t, func(t *testing.T) policy.Store {
		b, _, _ := newTestBucket(t, nil)
		return b.PolicyStore()
	})
}

func TestLedgerStoreConformance(t *testing.T) {
	adaptertest.RunLedgerStore(t, func(t *testing.T) ledger.Store {
		b, _, _ := newTestBucket(t, nil)
		return b.LedgerStore()
	})
}
