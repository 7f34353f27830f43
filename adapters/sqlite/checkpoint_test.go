package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/humanos/human/adapters/sqlite"
)

// TestCheckpointerCopiesWAL checks that committed writes reach the
// database file without any commit crossing an automatic checkpoint
// threshold: the background checkpointer copies them from the WAL.
func TestCheckpointerCopiesWAL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "human.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	s := sqlite.NewLedgerStore(db)
	for i := range 50 {
		entries := make([][]byte, 20)
		for j := range entries {
			entries[j] = fmt.Appendf(nil, "%01000d", i*20+j)
		}
		if err := s.Append(ctx, "acme", uint64(i*20), entries, nil, []byte("cp")); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); size() < before+900*1000; {
		if time.Now().After(deadline) {
			t.Fatalf("database file still %d bytes (was %d) after ~1 MB of commits: no checkpoint ran", size(), before)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
