package adaptertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
)

// RunLedgerStore runs the ledger.Store conformance suite. newStore must
// return a fresh, empty store each time it is called; every subtest calls
// it. The suite writes arbitrary bytes: a store never hashes or verifies.
func RunLedgerStore(t *testing.T, newStore func(t *testing.T) ledger.Store) {
	t.Helper()
	ctx := context.Background()

	t.Run("EmptyHead", func(t *testing.T) {
		s := newStore(t)
		size, cp, err := s.Head(ctx, "acme")
		if err != nil || size != 0 || cp != nil {
			t.Errorf("Head of a new log = %d, %q, %v; want 0, nil, nil", size, cp, err)
		}
	})

	t.Run("AppendAndRead", func(t *testing.T) {
		s := newStore(t)
		ledgerAppend(t, s, "acme", 0, "e0", "e1", "")
		ledgerAppend(t, s, "acme", 3, "e3")
		size, cp, err := s.Head(ctx, "acme")
		if err != nil || size != 4 || string(cp) != "checkpoint 4" {
			t.Fatalf("Head = %d, %q, %v; want 4, %q, nil", size, cp, err, "checkpoint 4")
		}
		ledgerWantEntries(t, s, "acme", 0, 4, "e0", "e1", "", "e3")
		ledgerWantEntries(t, s, "acme", 1, 3, "e1", "")
		ledgerWantEntries(t, s, "acme", 2, 2)
		got, err := s.Nodes(ctx, "acme", []ledger.NodeID{{Level: 0, Index: 3}, {Level: 1, Index: 0}, {Level: 0, Index: 0}})
		if err != nil {
			t.Fatalf("Nodes: %v", err)
		}
		want := []string{ledgerNodeHash(0, 3), ledgerNodeHash(1, 0), ledgerNodeHash(0, 0)}
		for i := range want {
			if string(got[i]) != want[i] {
				t.Errorf("Nodes[%d] = %q, want %q", i, got[i], want[i])
			}
		}
		if got, err := s.Nodes(ctx, "acme", nil); err != nil || len(got) != 0 {
			t.Errorf("Nodes(nil) = %v, %v; want empty, nil", got, err)
		}
	})

	t.Run("Conflict", func(t *testing.T) {
		s := newStore(t)
		ledgerAppend(t, s, "acme", 0, "a", "b")
		for _, size := range []uint64{0, 1, 3, 100} {
			err := s.Append(ctx, "acme", size, [][]byte{[]byte("x")}, nil, []byte("forged"))
			if !errors.Is(err, errs.ErrConflict) {
				t.Errorf("Append at stale size %d: err = %v, want ErrConflict", size, err)
			}
		}
		size, cp, _ := s.Head(ctx, "acme")
		if size != 2 || string(cp) != "checkpoint 2" {
			t.Errorf("after refused appends Head = %d, %q; want 2, %q", size, cp, "checkpoint 2")
		}
		ledgerWantEntries(t, s, "acme", 0, 2, "a", "b")
	})

	t.Run("NotFound", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Entries(ctx, "acme", 0, 1); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("Entries of empty log: err = %v, want ErrNotFound", err)
		}
		ledgerAppend(t, s, "acme", 0, "a", "b")
		if _, err := s.Entries(ctx, "acme", 1, 3); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("Entries past the end: err = %v, want ErrNotFound", err)
		}
		if _, err := s.Nodes(ctx, "acme", []ledger.NodeID{{Level: 0, Index: 0}, {Level: 5, Index: 9}}); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("Nodes with a missing id: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("InvalidArgument", func(t *testing.T) {
		s := newStore(t)
		if err := s.Append(ctx, "acme", 0, nil, nil, []byte("cp")); !errors.Is(err, errs.ErrInvalidArgument) {
			t.Errorf("Append of no entries: err = %v, want ErrInvalidArgument", err)
		}
		if err := s.Append(ctx, "", 0, [][]byte{[]byte("a")}, nil, []byte("cp")); !errors.Is(err, errs.ErrInvalidArgument) {
			t.Errorf("Append to empty log name: err = %v, want ErrInvalidArgument", err)
		}
		ledgerAppend(t, s, "acme", 0, "a", "b")
		if _, err := s.Entries(ctx, "acme", 2, 1); !errors.Is(err, errs.ErrInvalidArgument) {
			t.Errorf("Entries with start > end: err = %v, want ErrInvalidArgument", err)
		}
	})

	t.Run("LogIsolation", func(t *testing.T) {
		s := newStore(t)
		ledgerAppend(t, s, "org-a", 0, "a0", "a1")
		ledgerAppend(t, s, "org-b", 0, "b0")
		ledgerWantEntries(t, s, "org-a", 0, 2, "a0", "a1")
		ledgerWantEntries(t, s, "org-b", 0, 1, "b0")
		if size, _, _ := s.Head(ctx, "org-b"); size != 1 {
			t.Errorf("org-b size = %d, want 1", size)
		}
		if _, err := s.Entries(ctx, "org-b", 0, 2); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("org-b reading past its own end into org-a's size: err = %v, want ErrNotFound", err)
		}
		if _, err := s.Nodes(ctx, "org-b", []ledger.NodeID{{Level: 1, Index: 0}}); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("org-b reading a node only org-a has: err = %v, want ErrNotFound", err)
		}
		h, err := s.Nodes(ctx, "org-b", []ledger.NodeID{{Level: 0, Index: 0}})
		if err != nil || string(h[0]) != ledgerNodeHash(0, 0)+"@org-b" {
			t.Errorf("org-b node (0,0) = %q, %v; want its own", h, err)
		}
		if size, _, _ := s.Head(ctx, "org-c"); size != 0 {
			t.Errorf("unknown log size = %d, want 0", size)
		}
	})

	t.Run("NoAliasing", func(t *testing.T) {
		s := newStore(t)
		e := []byte("entry")
		cp := []byte("checkpoint 1")
		h := []byte("hash")
		if err := s.Append(ctx, "acme", 0, [][]byte{e}, []ledger.Node{{ID: ledger.NodeID{}, Hash: h}}, cp); err != nil {
			t.Fatal(err)
		}
		e[0], cp[0], h[0] = 'X', 'X', 'X'
		got, _ := s.Entries(ctx, "acme", 0, 1)
		got[0][0] = 'Y'
		ledgerWantEntries(t, s, "acme", 0, 1, "entry")
		_, head, _ := s.Head(ctx, "acme")
		if string(head) != "checkpoint 1" {
			t.Errorf("checkpoint changed through the caller's slice: %q", head)
		}
		n, _ := s.Nodes(ctx, "acme", []ledger.NodeID{{}})
		if string(n[0]) != "hash" {
			t.Errorf("node changed through the caller's slice: %q", n[0])
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		s := newStore(t)
		ledgerAppend(t, s, "acme", 0, "a")
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		check := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, errs.ErrUnavailable) || !errors.Is(err, context.Canceled) {
				t.Errorf("%s with cancelled context: err = %v, want ErrUnavailable wrapping context.Canceled", what, err)
			}
		}
		check("Append", s.Append(cctx, "acme", 1, [][]byte{[]byte("b")}, nil, []byte("checkpoint 2")))
		_, _, err := s.Head(cctx, "acme")
		check("Head", err)
		_, err = s.Entries(cctx, "acme", 0, 1)
		check("Entries", err)
		_, err = s.Nodes(cctx, "acme", []ledger.NodeID{{}})
		check("Nodes", err)
		size, cp, err := s.Head(ctx, "acme")
		if err != nil || size != 1 || string(cp) != "checkpoint 1" {
			t.Errorf("after a cancelled Append Head = %d, %q, %v; want 1, %q", size, cp, err, "checkpoint 1")
		}
	})

	t.Run("ConcurrentAppends", func(t *testing.T) {
		s := newStore(t)
		const writers, each = 4, 10
		var wg sync.WaitGroup
		errc := make(chan error, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; {
					size, _, err := s.Head(ctx, "acme")
					if err != nil {
						errc <- err
						return
					}
					e := fmt.Sprintf("w%d-%d", w, i)
					err = s.Append(ctx, "acme", size, [][]byte{[]byte(e)},
						[]ledger.Node{{ID: ledger.NodeID{Index: size}, Hash: []byte(e)}}, []byte(fmt.Sprint("checkpoint ", size+1)))
					switch {
					case err == nil:
						i++
					case errors.Is(err, errs.ErrConflict), errors.Is(err, errs.ErrUnavailable):
						// Lost the race (or the backend was busy): re-read and retry.
					default:
						errc <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatalf("concurrent append: %v", err)
		}
		size, cp, err := s.Head(ctx, "acme")
		if err != nil || size != writers*each || string(cp) != fmt.Sprint("checkpoint ", writers*each) {
			t.Fatalf("Head = %d, %q, %v; want %d entries and their checkpoint", size, cp, err, writers*each)
		}
		entries, err := s.Entries(ctx, "acme", 0, size)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for i, e := range entries {
			if seen[string(e)] {
				t.Errorf("entry %q appended twice", e)
			}
			seen[string(e)] = true
			// The node written with each entry sits at that entry's index:
			// no writer's batch landed at an index it did not CAS for.
			n, err := s.Nodes(ctx, "acme", []ledger.NodeID{{Index: uint64(i)}})
			if err != nil || !bytes.Equal(n[0], e) {
				t.Errorf("node at %d = %q, %v; want %q", i, n, err, e)
			}
		}
	})

	t.Run("Index", func(t *testing.T) {
		if _, ok := newStore(t).(ledger.IndexStore); !ok {
			t.Skip("the store does not implement ledger.IndexStore (optional)")
		}
		runLedgerIndexStore(t, func(t *testing.T) ledger.IndexStore { return newStore(t).(ledger.IndexStore) })
	})
}

// ledgerNodeHash is the fake hash the suite stores for a node.
func ledgerNodeHash(level uint, index uint64) string {
	return fmt.Sprintf("node-%d-%d", level, index)
}

// ledgerAppend appends entries at size, with a fake leaf node per entry and
// a fake level-1 node when an even index completes a pair, and the
// checkpoint "checkpoint N".
func ledgerAppend(t *testing.T, s ledger.Store, log string, size uint64, entries ...string) {
	t.Helper()
	var es [][]byte
	var nodes []ledger.Node
	suffix := ""
	if log == "org-b" {
		suffix = "@org-b"
	}
	for i, e := range entries {
		idx := size + uint64(i)
		es = append(es, []byte(e))
		nodes = append(nodes, ledger.Node{ID: ledger.NodeID{Level: 0, Index: idx}, Hash: []byte(ledgerNodeHash(0, idx) + suffix)})
		if idx%2 == 1 {
			nodes = append(nodes, ledger.Node{ID: ledger.NodeID{Level: 1, Index: idx / 2}, Hash: []byte(ledgerNodeHash(1, idx/2) + suffix)})
		}
	}
	n := size + uint64(len(entries))
	if err := s.Append(context.Background(), log, size, es, nodes, []byte(fmt.Sprint("checkpoint ", n))); err != nil {
		t.Fatalf("Append(%q, size %d, %d entries): %v", log, size, len(entries), err)
	}
}

// ledgerWantEntries checks Entries(start, end) returns exactly want.
func ledgerWantEntries(t *testing.T, s ledger.Store, log string, start, end uint64, want ...string) {
	t.Helper()
	got, err := s.Entries(context.Background(), log, start, end)
	if err != nil {
		t.Fatalf("Entries(%q, %d, %d): %v", log, start, end, err)
	}
	if len(got) != len(want) {
		t.Fatalf("Entries(%q, %d, %d) returned %d entries, want %d", log, start, end, len(got), len(want))
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("Entries(%q, %d, %d)[%d] = %q, want %q", log, start, end, i, got[i], want[i])
		}
	}
}

// ledgerT0 is the base time of the index suite's fields.
var ledgerT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// ledgerIndexFixture is what the index suite appends to log "acme": six
// entries, entry 3 not indexed (nil fields), entry 5 without a time.
func ledgerIndexFixture() ([]string, []*ledger.Fields) {
	entries := []string{"d0", "d1", "a2", "raw3", "p4", "e5"}
	fields := []*ledger.Fields{
		{Kind: "decision", Org: "acme", Actors: []string{"agent-1", "alice"}, Action: "pay", Subjects: []string{"invoice:1", "sha256:aa"}, Time: ledgerT0},
		{Kind: "decision", Org: "acme", Actors: []string{"agent-2"}, Action: "refund", Subjects: []string{"invoice:2"}, Time: ledgerT0.Add(time.Hour)},
		{Kind: "approval", Org: "acme", Actors: []string{"agent-1", "bob"}, Action: "pay", Subjects: []string{"task-1"}, Time: ledgerT0.Add(2 * time.Hour)},
		nil,
		{Kind: "policy", Org: "acme", Actors: []string{"carol"}, Action: "publish", Subjects: []string{"policy/acme/v2"}, Time: ledgerT0.Add(3 * time.Hour)},
		{Kind: "event", Org: "other-org", Actors: []string{"alice"}, Action: "inception", Subjects: []string{"alice"}},
	}
	return entries, fields
}

func runLedgerIndexStore(t *testing.T, newStore func(t *testing.T) ledger.IndexStore) {
	ctx := context.Background()
	fill := func(t *testing.T, s ledger.IndexStore, log string) {
		t.Helper()
		entries, fields := ledgerIndexFixture()
		var es [][]byte
		for _, e := range entries {
			es = append(es, []byte(e+"@"+log))
		}
		// Two batches, so results span appends.
		if err := s.AppendIndexed(ctx, log, 0, es[:2], fields[:2], nil, []byte("checkpoint 2")); err != nil {
			t.Fatalf("AppendIndexed: %v", err)
		}
		if err := s.AppendIndexed(ctx, log, 2, es[2:], fields[2:], nil, []byte("checkpoint 6")); err != nil {
			t.Fatalf("AppendIndexed: %v", err)
		}
	}
	find := func(t *testing.T, s ledger.IndexStore, log string, f ledger.Filter, from uint64, limit int) []uint64 {
		t.Helper()
		got, err := s.Find(ctx, log, &f, from, limit)
		if err != nil {
			t.Fatalf("Find(%+v, from %d, limit %d): %v", f, from, limit, err)
		}
		var idx []uint64
		for _, fd := range got {
			if want := fmt.Sprintf("%s@%s", []string{"d0", "d1", "a2", "raw3", "p4", "e5"}[fd.Index], log); string(fd.Entry) != want {
				t.Errorf("Find returned entry %d = %q, want %q", fd.Index, fd.Entry, want)
			}
			idx = append(idx, fd.Index)
		}
		return idx
	}

	t.Run("Filters", func(t *testing.T) {
		s := newStore(t)
		fill(t, s, "acme")
		for _, tc := range []struct {
			name string
			f    ledger.Filter
			want []uint64
		}{
			{"all indexed", ledger.Filter{}, []uint64{0, 1, 2, 4, 5}},
			{"kind", ledger.Filter{Kind: "decision"}, []uint64{0, 1}},
			{"org", ledger.Filter{Org: "other-org"}, []uint64{5}},
			{"actor", ledger.Filter{Actor: "agent-1"}, []uint64{0, 2}},
			{"actor any position", ledger.Filter{Actor: "alice"}, []uint64{0, 5}},
			{"action", ledger.Filter{Action: "pay"}, []uint64{0, 2}},
			{"subject name", ledger.Filter{Subject: "invoice:2"}, []uint64{1}},
			{"subject digest", ledger.Filter{Subject: "sha256:aa"}, []uint64{0}},
			{"since", ledger.Filter{Since: ledgerT0.Add(time.Hour)}, []uint64{1, 2, 4}},
			{"until", ledger.Filter{Until: ledgerT0.Add(time.Hour)}, []uint64{0}},
			{"range", ledger.Filter{Since: ledgerT0.Add(30 * time.Minute), Until: ledgerT0.Add(3 * time.Hour)}, []uint64{1, 2}},
			{"actor and kind", ledger.Filter{Actor: "agent-1", Kind: "approval"}, []uint64{2}},
			{"actor, action and time", ledger.Filter{Actor: "agent-1", Action: "pay", Since: ledgerT0.Add(time.Minute)}, []uint64{2}},
			{"kind and org", ledger.Filter{Kind: "decision", Org: "acme"}, []uint64{0, 1}},
			{"no match", ledger.Filter{Actor: "mallory"}, nil},
			{"values do not cross fields", ledger.Filter{Subject: "agent-1"}, nil},
			{"prefix is not a match", ledger.Filter{Actor: "agent"}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if got := find(t, s, "acme", tc.f, 0, 100); !slices.Equal(got, tc.want) {
					t.Errorf("Find(%+v) = %v, want %v", tc.f, got, tc.want)
				}
				// The store matches exactly as Filter.Match does.
				_, fields := ledgerIndexFixture()
				var want []uint64
				for i, f := range fields {
					if tc.f.Match(f) {
						want = append(want, uint64(i))
					}
				}
				if !slices.Equal(want, tc.want) {
					t.Errorf("suite table disagrees with Filter.Match: %v, want %v", want, tc.want)
				}
			})
		}
	})

	// Many appends of varying size with shared and distinct values: every
	// filter and every page of it finds exactly what Filter.Match selects,
	// whatever batch boundaries the store keeps.
	t.Run("ManyAppendsMatchFilter", func(t *testing.T) {
		s := newStore(t)
		var fields []*ledger.Fields
		size := uint64(0)
		for batch := 0; size < 600; batch++ {
			n := 1 + (batch*37)%53
			es := make([][]byte, n)
			fs := make([]*ledger.Fields, n)
			for i := range es {
				idx := size + uint64(i)
				es[i] = fmt.Appendf(nil, "e%d", idx)
				if idx%11 == 7 {
					continue // not an attestation
				}
				fs[i] = &ledger.Fields{
					Kind:     []string{"decision", "approval", "policy"}[idx%3],
					Org:      []string{"acme", "acme", "other"}[idx%5%3],
					Actors:   []string{fmt.Sprintf("agent-%d", idx%4), fmt.Sprintf("human-%d", idx%7)},
					Action:   []string{"pay", "refund"}[idx%2],
					Subjects: []string{fmt.Sprintf("invoice:%d", idx), fmt.Sprintf("vendor:%d", idx%13)},
					Time:     ledgerT0.Add(time.Duration(idx) * time.Minute),
				}
			}
			if err := s.AppendIndexed(ctx, "acme", size, es, fs, nil, fmt.Appendf(nil, "checkpoint %d", size+uint64(n))); err != nil {
				t.Fatalf("AppendIndexed at %d: %v", size, err)
			}
			fields = append(fields, fs...)
			size += uint64(n)
		}
		for _, f := range []ledger.Filter{
			{},
			{Kind: "approval"},
			{Actor: "agent-3"},
			{Actor: "agent-1", Kind: "policy", Action: "refund"},
			{Subject: "vendor:5", Actor: "human-2"},
			{Subject: "invoice:333"},
			{Subject: "vendor:12", Org: "other"},
			{Action: "pay", Since: ledgerT0.Add(100 * time.Minute), Until: ledgerT0.Add(400 * time.Minute)},
			{Actor: "agent-2", Subject: "vendor:4", Kind: "decision", Action: "pay"},
			{Actor: "nobody"},
		} {
			var want []uint64
			for i, x := range fields {
				if f.Match(x) {
					want = append(want, uint64(i))
				}
			}
			for _, limit := range []int{1000, 7, 1} {
				var got []uint64
				for from := uint64(0); ; {
					page, err := s.Find(ctx, "acme", &f, from, limit)
					if err != nil {
						t.Fatalf("Find(%+v, from %d, limit %d): %v", f, from, limit, err)
					}
					for _, fd := range page {
						if want := fmt.Sprintf("e%d", fd.Index); string(fd.Entry) != want {
							t.Fatalf("Find(%+v) returned entry %d = %q, want %q", f, fd.Index, fd.Entry, want)
						}
						got = append(got, fd.Index)
					}
					if len(page) < limit {
						break
					}
					from = page[len(page)-1].Index + 1
				}
				if !slices.Equal(got, want) {
					t.Fatalf("Find(%+v) in pages of %d = %v, want %v", f, limit, got, want)
				}
			}
			// A page may start in the middle of an append.
			if len(want) > 2 {
				page, err := s.Find(ctx, "acme", &f, want[len(want)/2], 2)
				if err != nil || len(page) == 0 || page[0].Index != want[len(want)/2] {
					t.Fatalf("Find(%+v, from %d) = %v, %v", f, want[len(want)/2], page, err)
				}
			}
		}
	})

	t.Run("Pages", func(t *testing.T) {
		s := newStore(t)
		fill(t, s, "acme")
		if got := find(t, s, "acme", ledger.Filter{}, 0, 2); !slices.Equal(got, []uint64{0, 1}) {
			t.Errorf("first page = %v, want [0 1]", got)
		}
		if got := find(t, s, "acme", ledger.Filter{}, 2, 2); !slices.Equal(got, []uint64{2, 4}) {
			t.Errorf("second page = %v, want [2 4]", got)
		}
		if got := find(t, s, "acme", ledger.Filter{}, 5, 2); !slices.Equal(got, []uint64{5}) {
			t.Errorf("last page = %v, want [5]", got)
		}
		if got := find(t, s, "acme", ledger.Filter{}, 6, 2); len(got) != 0 {
			t.Errorf("past the end = %v, want none", got)
		}
		if got := find(t, s, "acme", ledger.Filter{Actor: "alice"}, 1, 1); !slices.Equal(got, []uint64{5}) {
			t.Errorf("actor page from 1 = %v, want [5]", got)
		}
	})

	t.Run("ConflictIndexesNothing", func(t *testing.T) {
		s := newStore(t)
		fill(t, s, "acme")
		err := s.AppendIndexed(ctx, "acme", 2, [][]byte{[]byte("forged")},
			[]*ledger.Fields{{Kind: "decision", Actors: []string{"mallory"}}}, nil, []byte("forged"))
		if !errors.Is(err, errs.ErrConflict) {
			t.Fatalf("AppendIndexed at a stale size: err = %v, want ErrConflict", err)
		}
		if got := find(t, s, "acme", ledger.Filter{Actor: "mallory"}, 0, 10); len(got) != 0 {
			t.Errorf("a refused append left index rows: %v", got)
		}
	})

	t.Run("PlainAppendIsNotIndexed", func(t *testing.T) {
		s := newStore(t)
		ledgerAppend(t, s, "acme", 0, "a", "b")
		if got := find(t, s, "acme", ledger.Filter{}, 0, 10); len(got) != 0 {
			t.Errorf("Find after a plain Append = %v, want none", got)
		}
	})

	t.Run("LogIsolation", func(t *testing.T) {
		s := newStore(t)
		fill(t, s, "org-a")
		if got := find(t, s, "org-b", ledger.Filter{}, 0, 10); len(got) != 0 {
			t.Errorf("org-b finds %v of org-a's entries", got)
		}
		fill(t, s, "org-b")
		if got := find(t, s, "org-b", ledger.Filter{Actor: "agent-1"}, 0, 10); !slices.Equal(got, []uint64{0, 2}) {
			t.Errorf("org-b actor query = %v, want [0 2]", got)
		}
	})

	t.Run("InvalidArgument", func(t *testing.T) {
		s := newStore(t)
		err := s.AppendIndexed(ctx, "acme", 0, [][]byte{[]byte("a"), []byte("b")}, []*ledger.Fields{nil}, nil, []byte("cp"))
		if !errors.Is(err, errs.ErrInvalidArgument) {
			t.Errorf("AppendIndexed with fewer fields than entries: err = %v, want ErrInvalidArgument", err)
		}
		if size, _, _ := s.Head(ctx, "acme"); size != 0 {
			t.Errorf("a refused AppendIndexed wrote %d entries", size)
		}
		if _, err := s.Find(ctx, "acme", &ledger.Filter{}, 0, 0); !errors.Is(err, errs.ErrInvalidArgument) {
			t.Errorf("Find with limit 0: err = %v, want ErrInvalidArgument", err)
		}
		if _, err := s.Find(ctx, "acme", nil, 0, 1); !errors.Is(err, errs.ErrInvalidArgument) {
			t.Errorf("Find with a nil filter: err = %v, want ErrInvalidArgument", err)
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		s := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := s.AppendIndexed(cctx, "acme", 0, [][]byte{[]byte("a")}, []*ledger.Fields{{Kind: "k"}}, nil, []byte("cp"))
		if !errors.Is(err, errs.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("AppendIndexed with a cancelled context: err = %v, want ErrUnavailable wrapping context.Canceled", err)
		}
		if _, err := s.Find(cctx, "acme", &ledger.Filter{}, 0, 1); !errors.Is(err, errs.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("Find with a cancelled context: err = %v, want ErrUnavailable wrapping context.Canceled", err)
		}
	})
}
