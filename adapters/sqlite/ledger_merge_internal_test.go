package sqlite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humanos/human/adapters/adaptertest"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
)

// ledgerTestDB opens a fresh file database in a temporary directory,
// closed when the test ends.
func ledgerTestDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "human.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// ledgerMergingStore is a LedgerStore that runs a merge (as the merger
// does) after every every-th successful append, so the conformance suite
// sees its postings merged, unmerged and half-way.
type ledgerMergingStore struct {
	*LedgerStore
	every int
	n     atomic.Int64
}

// newLedgerMergingStore returns a ledgerMergingStore over a fresh file
// database whose merges compact every compactAt runs.
func newLedgerMergingStore(t *testing.T, every, compactAt int) *ledgerMergingStore {
	db := ledgerTestDB(t)
	db.ledger.mu.Lock()
	db.ledger.compactAt = compactAt
	db.ledger.mu.Unlock()
	return &ledgerMergingStore{LedgerStore: NewLedgerStore(db), every: every}
}

func (s *ledgerMergingStore) Append(ctx context.Context, log string, size uint64, entries [][]byte, nodes []ledger.Node, checkpoint []byte) error {
	return s.AppendIndexed(ctx, log, size, entries, make([]*ledger.Fields, len(entries)), nodes, checkpoint)
}

func (s *ledgerMergingStore) AppendIndexed(ctx context.Context, log string, size uint64, entries [][]byte, fields []*ledger.Fields, nodes []ledger.Node, checkpoint []byte) error {
	if err := s.LedgerStore.AppendIndexed(ctx, log, size, entries, fields, nodes, checkpoint); err != nil {
		return err
	}
	if s.n.Add(1)%int64(s.every) == 0 {
		return s.db.ledgerMergeAll(ctx)
	}
	return nil
}

// TestLedgerConformanceMerges runs the conformance suite (its Index
// subtests compare every result with Filter.Match) with merges after
// every append or every third, compactions after every run, every third
// or never, and on a memory database (postings written by the append, no
// second file).
func TestLedgerConformanceMerges(t *testing.T) {
	for _, c := range []struct{ every, compactAt int }{{1, 1}, {1, 3}, {3, 1}, {3, 1 << 30}} {
		t.Run(fmt.Sprintf("merge every %d compact at %d", c.every, c.compactAt), func(t *testing.T) {
			adaptertest.RunLedgerStore(t, func(t *testing.T) ledger.Store {
				return newLedgerMergingStore(t, c.every, c.compactAt)
			})
		})
	}
	t.Run("memory", func(t *testing.T) {
		adaptertest.RunLedgerStore(t, func(t *testing.T) ledger.Store {
			db, err := Open(context.Background(), ":memory:")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return NewLedgerStore(db)
		})
	})
}

// ledgerTestFields are the fields of entry idx in the tests below: shared
// and per-entry terms.
func ledgerTestFields(idx uint64) *ledger.Fields {
	return &ledger.Fields{Kind: "decision", Org: "acme", Action: []string{"pay", "refund"}[idx%2],
		Actors:   []string{fmt.Sprintf("agent-%d", idx%3)},
		Subjects: []string{fmt.Sprintf("invoice:%d", idx)}}
}

// ledgerTestAppend appends n entries at size with ledgerTestFields.
func ledgerTestAppend(ctx context.Context, s ledger.IndexStore, size uint64, n int) error {
	es := make([][]byte, n)
	fs := make([]*ledger.Fields, n)
	for i := range n {
		es[i] = fmt.Appendf(nil, "e%d", size+uint64(i))
		fs[i] = ledgerTestFields(size + uint64(i))
	}
	return s.AppendIndexed(ctx, "acme", size, es, fs, nil, fmt.Appendf(nil, "cp %d", size+uint64(n)))
}

// ledgerCheckFound checks that Find over the log's first size entries
// (ledgerTestFields) finds each match exactly once, for several filters
// and page sizes.
func ledgerCheckFound(t *testing.T, s ledger.IndexStore, size uint64) {
	t.Helper()
	ctx := context.Background()
	for _, f := range []ledger.Filter{
		{Kind: "decision"},
		{Actor: "agent-1"},
		{Action: "refund", Actor: "agent-2"},
		{Subject: fmt.Sprintf("invoice:%d", size/2)},
		{Subject: fmt.Sprintf("invoice:%d", size-1), Kind: "decision"},
	} {
		var want []uint64
		for i := range size {
			if f.Match(ledgerTestFields(i)) {
				want = append(want, i)
			}
		}
		for _, limit := range []int{100000, 97} {
			var got []uint64
			for from := uint64(0); ; {
				page, err := s.Find(ctx, "acme", &f, from, limit)
				if err != nil {
					t.Fatalf("Find(%+v, from %d): %v", f, from, err)
				}
				for _, fd := range page {
					got = append(got, fd.Index)
				}
				if len(page) < limit {
					break
				}
				from = page[len(page)-1].Index + 1
			}
			if !slices.Equal(got, want) {
				t.Fatalf("Find(%+v) in pages of %d: %d results, want %d (first diff near %v)", f, limit, len(got), len(want), ledgerFirstDiff(got, want))
			}
		}
	}
}

func ledgerFirstDiff(a, b []uint64) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("position %d: %d vs %d", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("lengths %d vs %d", len(a), len(b))
}

// ledgerCheckPostingsOnce checks that no term holds an index twice in the
// index database's postings (no row was merged twice) and returns the
// watermark of "acme".
func ledgerCheckPostingsOnce(t *testing.T, db *DB) int64 {
	t.Helper()
	ctx := context.Background()
	rows, err := db.ledger.db.db.QueryContext(ctx, `SELECT term, first, last, idxs FROM ledger_postings WHERE log = 'acme'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[string]map[int64]bool{}
	for rows.Next() {
		var term string
		var first, last int64
		var b []byte
		if err := rows.Scan(&term, &first, &last, &b); err != nil {
			t.Fatal(err)
		}
		idx, err := postingDecode(nil, first, last, b)
		if err != nil {
			t.Fatal(err)
		}
		if seen[term] == nil {
			seen[term] = map[int64]bool{}
		}
		for _, i := range idx {
			if seen[term][i] {
				t.Fatalf("term %q holds index %d twice: a row was merged twice", term, i)
			}
			seen[term][i] = true
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	runs, err := db.ledger.db.db.QueryContext(ctx, `SELECT first, last, postings FROM ledger_runs WHERE log = 'acme'`)
	if err != nil {
		t.Fatal(err)
	}
	defer runs.Close()
	for runs.Next() {
		var first, last int64
		var b []byte
		if err := runs.Scan(&first, &last, &b); err != nil {
			t.Fatal(err)
		}
		err := recentDecode(first, last, b, func(term []byte, idx []int64) {
			if seen[string(term)] == nil {
				seen[string(term)] = map[int64]bool{}
			}
			for _, i := range idx {
				if seen[string(term)][i] {
					t.Fatalf("term %q holds index %d twice (a run and another run or a posting): a row was merged twice", term, i)
				}
				seen[string(term)][i] = true
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	upto, err := db.ledger.watermark(ctx, db.ledger.db.db, "acme")
	if err != nil {
		t.Fatal(err)
	}
	return upto
}

// TestLedgerTwoHandlesMerge appends from two DB handles on the same files
// (as two processes would), each with its merger running at a small
// threshold and merging explicitly too: every entry is found exactly
// once, and no recent row is merged twice.
func TestLedgerTwoHandlesMerge(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "human.db")
	var dbs [2]*DB
	for i := range dbs {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		db.ledger.mu.Lock()
		db.ledger.mergeAt = 16
		db.ledger.compactAt = 2 + i // compactions race merges and each other
		db.ledger.mu.Unlock()
		dbs[i] = db
	}
	const total = 3000
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	for w, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := NewLedgerStore(db)
			for k := 0; ; k++ {
				size, _, err := s.Head(ctx, "acme")
				if err != nil {
					errc <- err
					return
				}
				if size >= total {
					return
				}
				err = ledgerTestAppend(ctx, s, size, 1+(k*7+w)%13)
				if err != nil && !errors.Is(err, errs.ErrConflict) {
					errc <- err
					return
				}
				if k%5 == w {
					if err := db.ledgerMergeAll(ctx); err != nil {
						errc <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	size, _, err := NewLedgerStore(dbs[0]).Head(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	for _, db := range dbs {
		ledgerCheckFound(t, NewLedgerStore(db), size)
	}
	for _, db := range dbs {
		if err := db.ledgerMergeAll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if upto := ledgerCheckPostingsOnce(t, dbs[0]); upto != int64(size) {
		t.Errorf("watermark after merging all = %d, want %d", upto, size)
	}
	ledgerCheckFound(t, NewLedgerStore(dbs[1]), size)
}

// TestLedgerMergeInterrupted abandons merges at each step (before the
// index commit, after it but before the main database learns of it) and
// closes the database there: queries stay complete, and the next merge
// finishes the work without merging a row twice; a later append deletes
// the merged recent rows.
func TestLedgerMergeInterrupted(t *testing.T) {
	for _, step := range []string{"read", "written", "committed", "compacted"} {
		t.Run(step, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "human.db")
			db, err := Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			s := NewLedgerStore(db)
			size := uint64(0)
			for _, n := range []int{5, 40, 3} {
				if err := ledgerTestAppend(ctx, s, size, n); err != nil {
					t.Fatal(err)
				}
				size += uint64(n)
			}
			// Merge the first row for real, then stop the next merge at step.
			db.ledger.mu.Lock()
			db.ledger.testStop = func(string) bool { return false }
			db.ledger.mu.Unlock()
			if _, err := db.ledgerMergeOnce(ctx, "acme"); err != nil {
				t.Fatal(err)
			}
			if err := ledgerTestAppend(ctx, s, size, 7); err != nil {
				t.Fatal(err)
			}
			size += 7
			db.ledger.mu.Lock()
			db.ledger.testStop = func(at string) bool { return at == step }
			db.ledger.compactAt = 1
			db.ledger.mu.Unlock()
			if err := db.ledgerMerge(ctx, "acme"); err != nil {
				t.Fatal(err)
			}
			ledgerCheckFound(t, s, size)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			db, err = Open(ctx, path)
			if err != nil {
				t.Fatalf("reopen after a merge stopped at %q: %v", step, err)
			}
			defer db.Close()
			s = NewLedgerStore(db)
			ledgerCheckFound(t, s, size)
			if err := db.ledgerMergeAll(ctx); err != nil {
				t.Fatal(err)
			}
			if upto := ledgerCheckPostingsOnce(t, db); upto != int64(size) {
				t.Errorf("watermark = %d, want %d", upto, size)
			}
			if err := ledgerTestAppend(ctx, s, size, 2); err != nil {
				t.Fatal(err)
			}
			size += 2
			var left int
			if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM ledger_recent WHERE log = 'acme' AND first < ?`, size-2).Scan(&left); err != nil || left != 0 {
				t.Errorf("%d merged recent rows left after an append (%v), want none", left, err)
			}
			ledgerCheckFound(t, s, size)
		})
	}
}

// TestLedgerIdleDrop checks that the merger deletes merged recent rows
// itself once the log is idle (no append of this process since its last
// pass), so queries of an idle log stop decoding them.
func TestLedgerIdleDrop(t *testing.T) {
	ctx := context.Background()
	db := ledgerTestDB(t)
	s := NewLedgerStore(db)
	if err := ledgerTestAppend(ctx, s, 0, 20); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		var n int
		if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM ledger_recent`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for range 2 { // the first pass merges (and may see the append), the second finds the log idle
		if err := db.ledgerMergeAll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(); n != 0 {
		t.Errorf("%d recent rows left on an idle, merged log", n)
	}
	if n := ledgerCountRuns(t, db); n != 0 {
		t.Errorf("%d runs left on an idle, merged log: want them compacted", n)
	}
	ledgerCheckFound(t, s, 20)
}

// ledgerStopMerger stops db's background merger (its passes, idle
// compactions included, would race a test that counts what its own merges
// write); explicit merges still run, and Close still works.
func ledgerStopMerger(db *DB) {
	x := db.ledger
	x.stopOnce.Do(func() { close(x.stop) })
	<-x.stopped
}

// ledgerCountRuns returns how many runs the index database holds.
func ledgerCountRuns(t testing.TB, db *DB) int {
	t.Helper()
	var n int
	if err := db.ledger.db.db.QueryRowContext(context.Background(), `SELECT count(*) FROM ledger_runs`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLedgerCompaction merges after every append and checks that runs
// are compacted into postings once compactAt of them are waiting, each
// index landing once, and that queries find every entry throughout.
func TestLedgerCompaction(t *testing.T) {
	ctx := context.Background()
	db := ledgerTestDB(t)
	ledgerStopMerger(db) // the counts below are of this test's merges only
	db.ledger.mu.Lock()
	db.ledger.compactAt = 3
	db.ledger.mu.Unlock()
	s := NewLedgerStore(db)
	size := uint64(0)
	for k := range 10 {
		n := 1 + k%4
		if err := ledgerTestAppend(ctx, s, size, n); err != nil {
			t.Fatal(err)
		}
		size += uint64(n)
		if err := db.ledgerMerge(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		if runs := ledgerCountRuns(t, db); runs >= 3 {
			t.Fatalf("after merge %d: %d runs, want fewer than 3", k, runs)
		}
		if upto := ledgerCheckPostingsOnce(t, db); upto != int64(size) {
			t.Fatalf("after merge %d: watermark %d, want %d", k, upto, size)
		}
		ledgerCheckFound(t, s, size)
	}
	var rows int
	if err := db.ledger.db.db.QueryRowContext(ctx, `SELECT count(*) FROM ledger_postings WHERE log = 'acme' AND term = 'kind=decision'`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 3 {
		t.Errorf("%d posting rows of a term every entry has after 10 merges, want 3 (one per compaction of 3 runs)", rows)
	}
}

// TestLedgerMergeKilled appends from a child process with its merger
// running at small merge and compaction thresholds and kills it (SIGKILL)
// mid-load: every acknowledged entry is found exactly once after
// reopening, and the next merge completes the index.
func TestLedgerMergeKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	path := filepath.Join(t.TempDir(), "human.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLedgerMergeChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "LEDGER_MERGE_DB="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := uint64(0)
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(300 * time.Millisecond)
	for sc.Scan() {
		v, ok := cutPrefix(sc.Text(), "SIZE ")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		acked = n
		if acked >= 2000 && time.Now().After(deadline) {
			cmd.Process.Kill()
			break
		}
	}
	cmd.Wait()
	if acked < 2000 {
		t.Fatalf("child acknowledged only %d entries", acked)
	}
	ctx := context.Background()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer db.Close()
	s := NewLedgerStore(db)
	size, _, err := s.Head(ctx, "acme")
	if err != nil || size < acked {
		t.Fatalf("head after kill = %d, %v; %d were acknowledged", size, err, acked)
	}
	upto := ledgerCheckPostingsOnce(t, db)
	if upto == 0 {
		t.Logf("the child merged nothing before it was killed")
	}
	ledgerCheckFound(t, s, size)
	if err := db.ledgerMergeAll(ctx); err != nil {
		t.Fatal(err)
	}
	if upto := ledgerCheckPostingsOnce(t, db); upto != int64(size) {
		t.Errorf("watermark after the next merge = %d, want %d", upto, size)
	}
	ledgerCheckFound(t, s, size)
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return "", false
}

// TestLedgerMergeChild is the child of TestLedgerMergeKilled; it does
// nothing unless started by it.
func TestLedgerMergeChild(t *testing.T) {
	path := os.Getenv("LEDGER_MERGE_DB")
	if path == "" {
		t.Skip("only runs as TestLedgerMergeKilled's child")
	}
	ctx := context.Background()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	db.ledger.mu.Lock()
	db.ledger.mergeAt = 64
	db.ledger.compactAt = 3 // compactions too, where the kill may land
	db.ledger.mu.Unlock()
	s := NewLedgerStore(db)
	for size, k := uint64(0), 0; ; k++ {
		n := 1 + k%31
		if err := ledgerTestAppend(ctx, s, size, n); err != nil {
			t.Fatal(err)
		}
		size += uint64(n)
		fmt.Printf("SIZE %d\n", size)
	}
}

// TestLedgerIndexFileLost checks Open against an index file that does not
// belong to the database: missing after merges deleted recent rows,
// older than the database, newer than it, or not a database at all are
// errs.ErrFailedPrecondition naming the file; missing before any merge
// deleted a row is rebuilt from the recent rows.
func TestLedgerIndexFileLost(t *testing.T) {
	ctx := context.Background()
	// fill appends three batches, merging after the first two, so the
	// first batch's recent row is deleted by the third append.
	fill := func(t *testing.T, path string, merge bool) {
		t.Helper()
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		s := NewLedgerStore(db)
		for k, size := 0, uint64(0); k < 3; k++ {
			if err := ledgerTestAppend(ctx, s, size, 10); err != nil {
				t.Fatal(err)
			}
			size += 10
			if merge && k < 2 {
				if err := db.ledgerMergeAll(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	copyFile := func(t *testing.T, from, to string) {
		t.Helper()
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	wantPrecondition := func(t *testing.T, path string) {
		t.Helper()
		db, err := Open(ctx, path)
		if err == nil {
			db.Close()
			t.Fatal("Open succeeded with an index file that does not belong to the database")
		}
		if !errors.Is(err, errs.ErrFailedPrecondition) || !containsStr(err.Error(), path+ledgerIndexSuffix) {
			t.Fatalf("Open: %v; want ErrFailedPrecondition naming %s", err, path+ledgerIndexSuffix)
		}
	}
	t.Run("missing after merges", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "human.db")
		fill(t, path, true)
		if err := os.Remove(path + ledgerIndexSuffix); err != nil {
			t.Fatal(err)
		}
		wantPrecondition(t, path)
		wantPrecondition(t, path) // and again: the failed Open left no empty file behind
	})
	t.Run("corrupt", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "human.db")
		fill(t, path, true)
		if err := os.WriteFile(path+ledgerIndexSuffix, []byte("this is not a database, it is a text file of some length........................................................"), 0o600); err != nil {
			t.Fatal(err)
		}
		wantPrecondition(t, path)
	})
	t.Run("newer than the database", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "human.db")
		fill(t, path, false) // 30 entries, nothing merged
		old := filepath.Join(dir, "old.db")
		copyFile(t, path, old)
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if err := ledgerTestAppend(ctx, NewLedgerStore(db), 30, 10); err != nil {
			t.Fatal(err)
		}
		if err := db.ledgerMergeAll(ctx); err != nil {
			t.Fatal(err)
		}
		db.Close()
		copyFile(t, path+ledgerIndexSuffix, old+ledgerIndexSuffix)
		wantPrecondition(t, old)
	})
	t.Run("missing before any merge", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "human.db")
		fill(t, path, false)
		if err := os.Remove(path + ledgerIndexSuffix); err != nil {
			t.Fatal(err)
		}
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("Open with every recent row kept: %v", err)
		}
		defer db.Close()
		if err := db.ledgerMergeAll(ctx); err != nil {
			t.Fatal(err)
		}
		ledgerCheckFound(t, NewLedgerStore(db), 30)
	})
}

func containsStr(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// FuzzRecentDecode checks that any recent row either decodes to strictly
// increasing terms, each with strictly increasing indices inside the
// row's range, that encode back to the same postings, or is refused with
// errs.ErrFailedPrecondition; never a panic.
func FuzzRecentDecode(f *testing.F) {
	f.Add(int64(10), int64(12), recentEncode(10, recentTerms(10, []*ledger.Fields{ledgerTestFields(10), nil, ledgerTestFields(12)})))
	f.Add(int64(0), int64(0), recentEncode(0, nil))
	f.Add(int64(5), int64(4), []byte{1, 0})
	f.Add(int64(0), int64(3), []byte{1, 2, 0, 1, 'a', 1, 0, 0, 1, 'a', 1, 1})
	f.Add(int64(0), int64(1<<40), []byte{1, 1, 0, 2, 'a', 'b', 2, 0xff, 0xff, 0xff, 0x7f, 0})
	f.Fuzz(func(t *testing.T, first, last int64, b []byte) {
		got := map[string][]int64{}
		var prev string
		err := recentDecode(first, last, b, func(term []byte, idx []int64) {
			if prev != "" && string(term) <= prev {
				t.Fatalf("term %q after %q", term, prev)
			}
			prev = string(term)
			for i, v := range idx {
				if v < first || v > last || i > 0 && v <= idx[i-1] {
					t.Fatalf("indices %v of %q outside [%d, %d] or not increasing", idx, term, first, last)
				}
			}
			got[string(term)] = slices.Clone(idx)
		})
		if err != nil {
			if !errors.Is(err, errs.ErrFailedPrecondition) {
				t.Fatalf("refused with %v, want ErrFailedPrecondition", err)
			}
			return
		}
		again := map[string][]int64{}
		if err := recentDecode(first, last, recentEncode(first, got), func(term []byte, idx []int64) {
			again[string(term)] = slices.Clone(idx)
		}); err != nil {
			t.Fatalf("re-encoding of %v does not decode: %v", got, err)
		}
		if len(again) != len(got) {
			t.Fatalf("round trip: %v, want %v", again, got)
		}
		for term, idx := range got {
			if !slices.Equal(again[term], idx) {
				t.Fatalf("round trip of %q: %v, want %v", term, again[term], idx)
			}
		}
	})
}
