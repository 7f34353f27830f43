package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/humanos/human/adapters/sqlite"
)

// newDB opens a fresh database file in a temporary directory, closed when
// the test ends. Every store's conformance run uses it.
func newDB(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "human.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
