package sqlite_test

import (
	"testing"

	"github.com/humanos/human/adapters/adaptertest"
	"github.com/humanos/human/adapters/sqlite"
	"github.com/humanos/human/ledger"
)

func TestLedgerStoreConformance(t *testing.T) {
	adaptertest.RunLedgerStore(t, func(t *testing.T) ledger.Store { return sqlite.NewLedgerStore(newDB(t)) })
}
