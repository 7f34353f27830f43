package snowflake_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net"
	"os"
	"strconv"
	"testing"

	sf "github.com/snowflakedb/gosnowflake"

	"github.com/humanos/human/adapters/adaptertest"
	humansf "github.com/humanos/human/adapters/snowflake"
	"github.com/humanos/human/internal/testenv"
	"github.com/humanos/human/ledger"
)

// testDB connects to the fakesnow server of scripts/services/fakesnow.sh.
func testDB(t testing.TB) *sql.DB {
	t.Helper()
	addr := testenv.Require(t, "HUMAN_TEST_SNOWFLAKE_ADDR")
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	os.Setenv("SF_DISABLE_MINICORE", "true")
	dsn, err := sf.DSN(&sf.Config{Account: "human", User: "human", Password: "test", Host: host, Port: p, Protocol: "http",
		Database: "HUMAN", Schema: "PUBLIC", Warehouse: "HUMAN_WH", Role: "HUMAN_LEDGER_WRITER"})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("snowflake", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, q := range []string{"CREATE DATABASE IF NOT EXISTS HUMAN", "CREATE SCHEMA IF NOT EXISTS HUMAN.PUBLIC"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func newStore(t testing.TB, db *sql.DB) *humansf.LedgerStore {
	var b [5]byte
	rand.Read(b[:])
	s, err := humansf.Open(context.Background(), db, &humansf.Options{TablePrefix: "T_" + hex.EncodeToString(b[:])})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLedgerStoreConformance(t *testing.T) {
	db := testDB(t)
	adaptertest.RunLedgerStore(t, func(t *testing.T) ledger.Store { return newStore(t, db) })
}
