package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"

	"github.com/humanos/human/ledger"
)

// ledgerOldSchema creates the database at path with the schema as it was
// before ledger migration version before, and returns a raw handle on it.
func ledgerOldSchema(t *testing.T, path string, before int) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	all := migrations
	migrations = slices.DeleteFunc(slices.Clone(all), func(m migration) bool { return m.store == "ledger" && m.version >= before })
	err = (&DB{db: raw, path: path}).migrate(context.Background())
	migrations = all
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestLedgerV3MigratesTermRows opens a database written by the version 2
// schema (one term row per term per entry) and checks that the version 3
// migration turns its rows into postings that find the same entries, that
// opening moves them to the index database (version 4), and that appends
// after it are found alongside them, before and after a merge.
func TestLedgerV3MigratesTermRows(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "human.db")
	raw := ledgerOldSchema(t, path, 3)
	// What a version 2 store wrote for two entries of one append.
	for _, q := range []string{
		`INSERT INTO ledger_heads VALUES ('acme', 2, x'6370')`,
		`INSERT INTO ledger_entries VALUES ('acme', 0, x'6530'), ('acme', 1, x'6531')`,
		`INSERT INTO ledger_index VALUES ('acme', 0, NULL, 'decision', 'acme', 'pay'), ('acme', 1, NULL, 'approval', 'acme', 'pay')`,
		`INSERT INTO ledger_terms VALUES ('acme', 'kind=decision', 0), ('acme', 'action=pay', 0), ('acme', 'actor=alice', 0),
			('acme', 'kind=approval', 1), ('acme', 'action=pay', 1), ('acme', 'actor=alice', 1)`,
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open after version 2: %v", err)
	}
	defer db.Close()
	s := NewLedgerStore(db)
	if err := s.AppendIndexed(ctx, "acme", 2, [][]byte{[]byte("e2")},
		[]*ledger.Fields{{Kind: "decision", Org: "acme", Action: "pay", Actors: []string{"alice"}}}, nil, []byte("cp")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		f    ledger.Filter
		want []uint64
	}{
		{ledger.Filter{Actor: "alice"}, []uint64{0, 1, 2}},
		{ledger.Filter{Kind: "decision"}, []uint64{0, 2}},
		{ledger.Filter{Kind: "approval", Action: "pay"}, []uint64{1}},
	} {
		found, err := s.Find(ctx, "acme", &tc.f, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		for _, fd := range found {
			got = append(got, fd.Index)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Find(%+v) = %v, want %v", tc.f, got, tc.want)
		}
	}
	var n int
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'ledger_terms'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("ledger_terms still exists after version 3 (%d, %v)", n, err)
	}
	// Version 4: the postings moved to the index database, merged up to
	// the size the log had when they moved; the append after it is a
	// recent row until a merge.
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'ledger_postings'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("ledger_postings still in the main database after opening (%d, %v)", n, err)
	}
	if err := db.ledger.db.db.QueryRowContext(ctx, `SELECT count(*) FROM ledger_postings WHERE log = 'acme'`).Scan(&n); err != nil || n != 6 {
		t.Errorf("index database holds %d postings (%v), want the 6 imported", n, err)
	}
	if upto, err := db.ledger.watermark(ctx, db.ledger.db.db, "acme"); err != nil || upto != 2 {
		t.Errorf("watermark after the import = %d, %v; want 2", upto, err)
	}
	if err := db.ledgerMergeAll(ctx); err != nil {
		t.Fatal(err)
	}
	if upto, err := db.ledger.watermark(ctx, db.ledger.db.db, "acme"); err != nil || upto != 3 {
		t.Errorf("watermark after a merge = %d, %v; want 3", upto, err)
	}
	if found, err := s.Find(ctx, "acme", &ledger.Filter{Actor: "alice"}, 0, 10); err != nil || len(found) != 3 {
		t.Errorf("Find after the merge = %v, %v; want 3 entries", found, err)
	}
}

// FuzzPostingDecode checks that any posting row either decodes to strictly
// increasing indices from first to last, or is refused, never a panic.
func FuzzPostingDecode(f *testing.F) {
	f.Add(int64(5), int64(9), postingEncode([]int64{5, 6, 9}))
	f.Add(int64(0), int64(0), []byte{})
	f.Add(int64(3), int64(2), []byte{1})
	f.Add(int64(1), int64(1<<62), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, first, last int64, idxs []byte) {
		got, err := postingDecode(nil, first, last, idxs)
		if err != nil {
			return
		}
		if got[0] != first || got[len(got)-1] != last {
			t.Fatalf("decoded %v from [%d, %d]", got, first, last)
		}
		for i := 1; i < len(got); i++ {
			if got[i] <= got[i-1] {
				t.Fatalf("not increasing: %v", got)
			}
		}
		again, err := postingDecode(nil, first, last, postingEncode(got))
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("round trip of %v = %v, %v", got, again, err)
		}
	})
}
