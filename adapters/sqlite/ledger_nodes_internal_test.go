package sqlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/bits"
	"path/filepath"
	"testing"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

// completedBy returns the nodes appending leaf i completes, in the order
// the tree completes them.
func completedBy(i uint64) []ledger.NodeID {
	var ids []ledger.NodeID
	for l := range uint(bits.TrailingZeros64(i+1)) + 1 {
		ids = append(ids, ledger.NodeID{Level: l, Index: (i+1)>>l - 1})
	}
	return ids
}

// TestLedgerV5MigratesLog writes a signed log in the version 4 layout
// (entries keyed by (log, idx), every node a ledger_nodes row), opens it
// (version 5) and checks that the log verifies, that appends after the
// migration keep their nodes in the entry rows, and that receipts and
// consistency proofs spanning both layouts verify.
func TestLedgerV5MigratesLog(t *testing.T) {
	ctx := context.Background()
	signer, err := passport.GenerateEd25519()
	if err != nil {
		t.Fatal(err)
	}
	// The log to migrate, built on the memory store: 37 entries in
	// batches of various sizes.
	mem := memory.NewLedgerStore()
	ml, err := ledger.Open(ctx, mem, "acme", signer, &ledger.Options{MaxBatch: 5})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 37 {
		if _, err := ml.Append(ctx, []byte(fmt.Sprintf("entry %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	ml.Close()
	size, cp, err := mem.Head(ctx, "acme")
	if err != nil || size != 37 {
		t.Fatalf("memory head = %d, %v", size, err)
	}
	entries, err := mem.Entries(ctx, "acme", 0, size)
	if err != nil {
		t.Fatal(err)
	}
	var ids []ledger.NodeID
	for i := range size {
		ids = append(ids, completedBy(i)...)
	}
	hashes, err := mem.Nodes(ctx, "acme", ids)
	if err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(t.TempDir(), "human.db")
	raw := ledgerOldSchema(t, path, 5)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := raw.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO ledger_heads VALUES ('acme', ?, ?)`, int64(size), cp)
	exec(`INSERT INTO ledger_heads VALUES ('other', 1, x'6370')`)
	exec(`INSERT INTO ledger_entries (log, idx, entry) VALUES ('other', 0, x'6f')`)
	for i, e := range entries {
		exec(`INSERT INTO ledger_entries (log, idx, entry) VALUES ('acme', ?, ?)`, i, e)
	}
	for i, id := range ids {
		exec(`INSERT INTO ledger_nodes VALUES ('acme', ?, ?, ?)`, int64(id.Level), int64(id.Index), hashes[i])
	}
	raw.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open after version 4: %v", err)
	}
	defer db.Close()
	s := NewLedgerStore(db)
	l, err := ledger.Open(ctx, s, "acme", signer, &ledger.Options{MaxBatch: 3})
	if err != nil {
		t.Fatalf("ledger.Open on the migrated log: %v", err)
	}
	defer l.Close()
	_, before, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 37; i < 80; i++ {
		if _, err := l.Append(ctx, []byte(fmt.Sprintf("entry %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Verify(ctx); err != nil {
		t.Fatalf("Verify across the layouts: %v", err)
	}
	for i := range uint64(80) {
		r, err := l.Receipt(ctx, i)
		if err != nil {
			t.Fatalf("Receipt(%d): %v", i, err)
		}
		if want := fmt.Sprintf("entry %d", i); string(r.Entry) != want {
			t.Fatalf("entry %d = %q", i, r.Entry)
		}
	}
	_, after, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := l.ConsistencyProof(ctx, 37, 80)
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger.VerifyConsistency(before, after, pr, l.Verifier()); err != nil {
		t.Errorf("consistency 37 -> 80: %v", err)
	}
	var inTable, inRows int
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM ledger_nodes WHERE log = 'acme'`).Scan(&inTable); err != nil {
		t.Fatal(err)
	}
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM ledger_entries WHERE log = 'acme' AND nodes IS NOT NULL`).Scan(&inRows); err != nil {
		t.Fatal(err)
	}
	if inTable != len(ids) || inRows != 80-37 {
		t.Errorf("nodes: %d table rows (want the %d migrated), %d entry rows with nodes (want 43)", inTable, len(ids), inRows)
	}
	// The other log kept its entry and its own key range.
	if got, err := s.Entries(ctx, "other", 0, 1); err != nil || string(got[0]) != "o" {
		t.Errorf("other log after the migration = %q, %v", got, err)
	}
	if _, err := s.Entries(ctx, "other", 0, 2); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("other log [0, 2): err = %v, want ErrNotFound", err)
	}
}

func TestLedgerSplitNodes(t *testing.T) {
	h := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	col := func(nodes ...any) []byte { // level, hash, level, hash...
		var c []byte
		for i := 0; i < len(nodes); i += 2 {
			hash := nodes[i+1].([]byte)
			c = append(c, byte(nodes[i].(int)), byte(len(hash)))
			c = append(c, hash...)
		}
		return c
	}
	n := func(level uint, index uint64, hash []byte) ledger.Node {
		return ledger.Node{ID: ledger.NodeID{Level: level, Index: index}, Hash: hash}
	}
	for _, tc := range []struct {
		name       string
		start, end int64
		nodes      []ledger.Node
		cols       []any
		table      []ledger.Node
		err        error
	}{
		{name: "the tree's order", start: 2, end: 4,
			nodes: []ledger.Node{n(0, 2, h(2)), n(0, 3, h(3)), n(1, 1, h(4)), n(2, 0, h(5))},
			cols:  []any{col(0, h(2)), col(0, h(3), 1, h(4), 2, h(5))}},
		{name: "any order", start: 2, end: 4,
			nodes: []ledger.Node{n(2, 0, h(5)), n(0, 3, h(3)), n(0, 2, h(2)), n(1, 1, h(4))},
			cols:  []any{col(0, h(2)), col(0, h(3), 1, h(4), 2, h(5))}},
		{name: "no nodes", start: 0, end: 2, cols: []any{nil, nil}},
		{name: "outside the batch and long hashes go to the table", start: 2, end: 3,
			nodes: []ledger.Node{n(0, 2, h(2)), n(0, 0, h(9)), n(5, 9, h(8)), n(0, 2<<50, h(7))},
			cols:  []any{col(0, h(2))},
			table: []ledger.Node{n(0, 0, h(9)), n(5, 9, h(8)), n(0, 2<<50, h(7))}},
		{name: "a hash over 255 bytes", start: 0, end: 1,
			nodes: []ledger.Node{n(0, 0, make([]byte, 256))}, cols: []any{nil},
			table: []ledger.Node{n(0, 0, make([]byte, 256))}},
		{name: "empty hash", start: 0, end: 1, nodes: []ledger.Node{n(0, 0, nil)}, cols: []any{[]byte{0, 0}}},
		{name: "named twice", start: 0, end: 2, nodes: []ledger.Node{n(0, 1, h(1)), n(0, 1, h(1))}, err: errs.ErrInvalidArgument},
		{name: "named twice apart", start: 0, end: 2, nodes: []ledger.Node{n(0, 1, h(1)), n(1, 0, h(2)), n(0, 1, h(1))}, err: errs.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cols, table, err := ledgerSplitNodes("acme", tc.start, tc.end, tc.nodes)
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if len(cols) != len(tc.cols) {
				t.Fatalf("%d columns, want %d", len(cols), len(tc.cols))
			}
			for i := range cols {
				got, _ := cols[i].([]byte)
				want, _ := tc.cols[i].([]byte)
				if !bytes.Equal(got, want) || (cols[i] == nil) != (tc.cols[i] == nil) {
					t.Errorf("column %d = %x, want %x", i, got, want)
				}
			}
			if len(table) != len(tc.table) {
				t.Fatalf("table nodes %v, want %v", table, tc.table)
			}
			for i := range table {
				if table[i].ID != tc.table[i].ID || !bytes.Equal(table[i].Hash, tc.table[i].Hash) {
					t.Errorf("table node %d = %v, want %v", i, table[i], tc.table[i])
				}
			}
		})
	}
}

// TestLedgerKeyLimits checks the bounds the entry keys put on a log.
func TestLedgerKeyLimits(t *testing.T) {
	ctx := context.Background()
	db := ledgerTestDB(t)
	s := NewLedgerStore(db)
	two := [][]byte{[]byte("a"), []byte("b")}
	if err := s.Append(ctx, "acme", ledgerMaxIndex-1, two, nil, []byte("cp")); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Errorf("append past 2^43 entries: err = %v, want ErrInvalidArgument", err)
	}
	if err := s.Append(ctx, "acme", 0, two, nil, []byte("cp")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Entries(ctx, "acme", 0, ledgerMaxIndex+1); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("entries past 2^43: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Nodes(ctx, "acme", []ledger.NodeID{{Level: 60, Index: 1}, {Level: 0, Index: ledgerMaxIndex}}); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("nodes past 2^43: err = %v, want ErrNotFound", err)
	}
	if found, err := s.Find(ctx, "acme", &ledger.Filter{}, ledgerMaxIndex, 10); err != nil || len(found) != 0 {
		t.Errorf("Find from 2^43 = %v, %v; want none", found, err)
	}
}

// TestLedgerChangedNodesColumn checks that a nodes column changed to
// something the store never writes is refused as unauthenticated.
func TestLedgerChangedNodesColumn(t *testing.T) {
	ctx := context.Background()
	db := ledgerTestDB(t)
	s := NewLedgerStore(db)
	if err := s.Append(ctx, "acme", 0, [][]byte{[]byte("a")}, []ledger.Node{{Hash: []byte("h")}}, []byte("cp")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.db.ExecContext(ctx, `UPDATE ledger_entries SET nodes = x'0005aa' WHERE log = 'acme'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Nodes(ctx, "acme", []ledger.NodeID{{}}); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Errorf("Nodes over a malformed column: err = %v, want ErrUnauthenticated", err)
	}
}

// FuzzLedgerNodesColumn checks that any nodes column either yields the
// hashes it encodes or is refused, never a panic, and that every column
// ledgerSplitNodes writes reads back.
func FuzzLedgerNodesColumn(f *testing.F) {
	f.Add([]byte{0, 2, 1, 2, 1, 1, 9}, uint8(1))
	f.Add([]byte{0, 5, 1}, uint8(0))
	f.Add([]byte{}, uint8(3))
	f.Fuzz(func(t *testing.T, col []byte, level uint8) {
		h, ok, err := ledgerColumnNode("acme", 0, col, uint(level))
		if err != nil {
			if !errors.Is(err, errs.ErrUnauthenticated) {
				t.Fatalf("err = %v", err)
			}
			return
		}
		if ok && !bytes.Contains(col, h) {
			t.Fatalf("hash %x is not in %x", h, col)
		}
		// Writing: leaf 63 completes levels 0 to 6; their hashes are
		// pieces of col, of up to level bytes each.
		var nodes []ledger.Node
		for l := range uint(7) {
			lo := min(len(col), int(l)*int(level))
			nodes = append(nodes, ledger.Node{ID: ledger.NodeID{Level: l, Index: 64>>l - 1}, Hash: col[lo:min(len(col), lo+int(level))]})
		}
		cols, table, err := ledgerSplitNodes("acme", 0, 64, nodes)
		if err != nil || len(table) != 0 {
			t.Fatalf("split: %v, %d table nodes", err, len(table))
		}
		c, _ := cols[63].([]byte)
		for _, n := range nodes {
			got, ok, err := ledgerColumnNode("acme", 63, c, n.ID.Level)
			if err != nil || !ok || !bytes.Equal(got, n.Hash) {
				t.Fatalf("level %d read back %x, %v, %v; want %x", n.ID.Level, got, ok, err, n.Hash)
			}
		}
	})
}
