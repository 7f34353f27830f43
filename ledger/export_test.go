package ledger_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/humanos/human/adapters/memory"
	"github.com/humanos/human/adapters/sqlite"
	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
	"github.com/humanos/human/passport"
)

// attestN appends n signed attestations to l and waits for all of them.
func attestN(t testing.TB, l *ledger.Log, from, n int) {
	t.Helper()
	ctx := context.Background()
	var pending []*ledger.Pending
	for i := from; i < from+n; i++ {
		st, err := ledger.NewStatement(ledger.PredicateDecision, map[string]any{"org": "acme", "i": i},
			ledger.SubjectFor(fmt.Sprintf("call-%d", i), []byte(strconv.Itoa(i))))
		if err != nil {
			t.Fatal(err)
		}
		p, err := l.Attest(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, p)
	}
	for _, p := range pending {
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// submitN appends n small raw entries (no signature: faster for big trees).
func submitN(t testing.TB, l *ledger.Log, n int) {
	t.Helper()
	ctx := context.Background()
	var pending []*ledger.Pending
	for i := range n {
		p, err := l.Submit(ctx, fmt.Appendf(nil, "raw entry %d", i))
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, p)
	}
	for _, p := range pending {
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func exportTo(t testing.TB, l *ledger.Log, opts *ledger.ExportOptions) (string, *ledger.ExportManifest) {
	t.Helper()
	dir := t.TempDir()
	m, err := l.Export(context.Background(), ledger.DirSink(dir), opts)
	if err != nil {
		t.Fatalf("Export(%+v): %v", opts, err)
	}
	return dir, m
}

// dirTiles reads C2SP tlog-tiles hash tiles from a directory for
// golang.org/x/mod/sumdb/tlog. The path mapping is the only code of ours in
// the independent check: sumdb writes the tile height into its paths
// ("tile/8/L/N"), C2SP does not ("tile/L/N"); the rest is identical.
type dirTiles struct{ dir string }

func (d dirTiles) Height() int { return ledger.TileHeight }

func (d dirTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		p, ok := strings.CutPrefix(t.Path(), "tile/8/")
		if !ok {
			return nil, fmt.Errorf("unexpected sumdb tile path %s", t.Path())
		}
		data, err := os.ReadFile(filepath.Join(d.dir, "tile", filepath.FromSlash(p)))
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (d dirTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// independentCheck verifies an export with golang.org/x/mod only: the
// checkpoint note's signature (sumdb/note), the tree hash from the tiles,
// and a sumdb/tlog record proof for the entries at the given indices, each
// read from its entry bundle.
func independentCheck(t *testing.T, dir string, from uint64, indices func(size int64) []int64) tlog.Tree {
	t.Helper()
	vkey, err := os.ReadFile(filepath.Join(dir, "log.vkey"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		t.Fatal(err)
	}
	signed, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		t.Fatalf("sumdb/note rejects the checkpoint: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[0] != v.Name() {
		t.Fatalf("checkpoint text %q: want origin %q, size, hash", n.Text, v.Name())
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	rawHash, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(rawHash) != tlog.HashSize {
		t.Fatalf("checkpoint hash line %q", lines[2])
	}
	tree := tlog.Tree{N: size, Hash: tlog.Hash(rawHash)}
	hr := tlog.TileHashReader(tree, dirTiles{dir})
	if th, err := tlog.TreeHash(size, hr); err != nil || th != tree.Hash {
		t.Fatalf("sumdb/tlog TreeHash(%d) = %v, %v; want the checkpoint's %v", size, th, err, tree.Hash)
	}
	for _, i := range indices(size) {
		if i < int64(from) {
			continue
		}
		w := min(int64(ledger.TileWidth), size-i/ledger.TileWidth*ledger.TileWidth)
		bundle, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(ledger.EntryBundlePath(uint64(i/ledger.TileWidth), int(w)))))
		if err != nil {
			t.Fatal(err)
		}
		entry := bundleEntry(t, bundle, int(i%ledger.TileWidth))
		p, err := tlog.ProveRecord(size, i, hr)
		if err != nil {
			t.Fatalf("sumdb/tlog ProveRecord(%d, %d): %v", size, i, err)
		}
		if err := tlog.CheckRecord(p, size, tree.Hash, i, tlog.RecordHash(entry)); err != nil {
			t.Fatalf("sumdb/tlog CheckRecord(entry %d): %v", i, err)
		}
	}
	return tree
}

// bundleEntry decodes entry k of a tlog-tiles entry bundle by hand (uint16
// big-endian length prefixes), not with the ledger package.
func bundleEntry(t *testing.T, bundle []byte, k int) []byte {
	t.Helper()
	for j := 0; ; j++ {
		if len(bundle) < 2 {
			t.Fatalf("bundle ends before entry %d", k)
		}
		l := int(bundle[0])<<8 | int(bundle[1])
		if j == k {
			return bundle[2 : 2+l]
		}
		bundle = bundle[2+l:]
	}
}

func allIndices(size int64) []int64 {
	out := make([]int64, size)
	for i := range out {
		out[i] = int64(i)
	}
	return out
}

func TestExportIndependentCheck(t *testing.T) {
	for _, n := range []int{1, 255, 256, 257, 700} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			l, _ := newMemLog(t)
			attestN(t, l, 0, n)
			dir, m := exportTo(t, l, nil)
			if m.From != 0 || m.Size != uint64(n) {
				t.Errorf("manifest range [%d, %d), want [0, %d)", m.From, m.Size, n)
			}
			independentCheck(t, dir, 0, allIndices)
			rep, err := ledger.VerifyExport(context.Background(), os.DirFS(dir), &ledger.VerifyExportOptions{VerifierKey: l.VerifierKey()})
			if err != nil || rep.Size != uint64(n) || rep.KeyFromExport {
				t.Fatalf("VerifyExport = %+v, %v", rep, err)
			}
		})
	}
}

// TestExportIndependentCheckLarge crosses the second tile level (more than
// 256*256 entries), on raw entries to keep the test fast.
func TestExportIndependentCheckLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large tree")
	}
	l, _ := newMemLog(t)
	const n = 1<<16 + 300
	submitN(t, l, n)
	sample := func(size int64) []int64 {
		return []int64{0, 1, 255, 256, 65535, 65536, 65600, size - 1}
	}
	for _, from := range []uint64{0, 65536 + 7} {
		dir, m := exportTo(t, l, &ledger.ExportOptions{From: from})
		if m.From != from/256*256 {
			t.Errorf("From %d exported from %d", from, m.From)
		}
		independentCheck(t, dir, m.From, sample)
		_, err := ledger.VerifyExport(context.Background(), os.DirFS(dir), &ledger.VerifyExportOptions{
			CheckEntry: func(uint64, []byte) error { return nil },
		})
		if err != nil {
			t.Fatalf("VerifyExport from %d: %v", from, err)
		}
	}
}

func TestExportRanges(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"memory", "sqlite"} {
		t.Run(name, func(t *testing.T) {
			l := openLog(t, storeFor(t, name), "acme", newSigner(t), nil)
			attestN(t, l, 0, 600)
			_, old, err := l.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			attestN(t, l, 600, 150)
			_, at700, err := l.CheckpointAt(ctx, 700)
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				from, to   uint64
				wantFrom   uint64
				wantSize   uint64
				since      []byte
				wantSince  uint64
				sinceFails bool
			}{
				{0, 0, 0, 750, old, 600, false},
				{300, 0, 256, 750, old, 600, false},
				{600, 0, 512, 750, old, 600, false},
				{0, 700, 0, 700, old, 600, false},
				{0, 750, 0, 750, at700, 700, false},
				{520, 700, 512, 700, at700, 700, false},
				{700, 0, 512, 750, old, 600, false},
			} {
				dir, m := exportTo(t, l, &ledger.ExportOptions{From: tc.from, To: tc.to})
				if m.From != tc.wantFrom || m.Size != tc.wantSize {
					t.Errorf("Export(%d, %d) = [%d, %d), want [%d, %d)", tc.from, tc.to, m.From, m.Size, tc.wantFrom, tc.wantSize)
				}
				tree := independentCheck(t, dir, m.From, allIndices)
				rep, err := ledger.VerifyExport(ctx, os.DirFS(dir), &ledger.VerifyExportOptions{VerifierKey: l.VerifierKey(), Since: tc.since})
				if err != nil {
					t.Fatalf("VerifyExport(%d, %d since %d): %v", tc.from, tc.to, tc.wantSince, err)
				}
				if rep.SinceSize != tc.wantSince {
					t.Errorf("SinceSize = %d, want %d", rep.SinceSize, tc.wantSince)
				}
				// The same consistency, checked independently: a sumdb/tlog
				// tree proof from the earlier checkpoint's tree.
				oldTree := checkpointTree(t, tc.since)
				hr := tlog.TileHashReader(tree, dirTiles{dir})
				if oldTree.N >= int64(m.From) || m.From == 0 {
					p, err := tlog.ProveTree(tree.N, oldTree.N, hr)
					if err != nil {
						t.Fatalf("sumdb/tlog ProveTree(%d, %d): %v", tree.N, oldTree.N, err)
					}
					if err := tlog.CheckTree(p, tree.N, tree.Hash, oldTree.N, oldTree.Hash); err != nil {
						t.Errorf("sumdb/tlog CheckTree(%d, %d): %v", tree.N, oldTree.N, err)
					}
				}
			}
		})
	}
}

// checkpointTree parses a signed checkpoint's size and hash without
// checking the signature (the callers checked it).
func checkpointTree(t *testing.T, signed []byte) tlog.Tree {
	t.Helper()
	text, _, _ := strings.Cut(string(signed), "\n\n")
	lines := strings.Split(text, "\n")
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil {
		t.Fatal(err)
	}
	return tlog.Tree{N: n, Hash: tlog.Hash(h)}
}

func TestExportSinceOutsideRange(t *testing.T) {
	ctx := context.Background()
	l, _ := newMemLog(t)
	attestN(t, l, 0, 100)
	_, old, _ := l.Checkpoint(ctx)
	attestN(t, l, 100, 500)
	dir, _ := exportTo(t, l, &ledger.ExportOptions{From: 512})
	_, err := ledger.VerifyExport(ctx, os.DirFS(dir), &ledger.VerifyExportOptions{Since: old})
	wantKind(t, "Since checkpoint whose tiles are not exported", err, errs.ErrNotFound)
}

func TestExportArguments(t *testing.T) {
	ctx := context.Background()
	l, _ := newMemLog(t)
	attestN(t, l, 0, 10)
	_, err := l.Export(ctx, ledger.DirSink(t.TempDir()), &ledger.ExportOptions{From: 8, To: 5})
	wantKind(t, "From after To", err, errs.ErrInvalidArgument)
	_, err = l.Export(ctx, ledger.DirSink(t.TempDir()), &ledger.ExportOptions{To: 11})
	wantKind(t, "To beyond the log", err, errs.ErrNotFound)
	_, err = l.Export(ctx, nil, nil)
	wantKind(t, "nil sink", err, errs.ErrInvalidArgument)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = l.Export(cctx, ledger.DirSink(t.TempDir()), nil)
	wantKind(t, "cancelled", err, errs.ErrUnavailable)

	empty, _ := newMemLog(t)
	dir, m := exportTo(t, empty, nil)
	if m.Size != 0 {
		t.Errorf("empty export size %d", m.Size)
	}
	if _, err := ledger.VerifyExport(ctx, os.DirFS(dir), nil); err != nil {
		t.Errorf("VerifyExport(empty log): %v", err)
	}
}

func TestExportRefusesAlteredStore(t *testing.T) {
	ctx := context.Background()
	h := &hookStore{Store: storeFor(t, "memory")}
	l := openLog(t, h, "acme", newSigner(t), nil)
	attestN(t, l, 0, 300)
	h.mu.Lock()
	h.onEntries = func(start uint64, es [][]byte) ([][]byte, error) {
		if start <= 270 && 270 < start+uint64(len(es)) {
			es[270-start] = append(bytes.Clone(es[270-start]), ' ')
		}
		return es, nil
	}
	h.mu.Unlock()
	dir := t.TempDir()
	_, err := l.Export(ctx, ledger.DirSink(dir), nil)
	wantKind(t, "export of an altered store", err, errs.ErrUnauthenticated)
	if _, err := os.Stat(filepath.Join(dir, "checkpoint")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused export still wrote its checkpoint (stat err %v)", err)
	}
}

// TestAttackExport tampers with an exported directory in each way a holder
// of it could, and checks that VerifyExport reports each, naming the first
// bad index where there is one.
func TestAttackExport(t *testing.T) {
	ctx := context.Background()
	signer := newSigner(t)
	l := openLog(t, storeFor(t, "memory"), "acme", signer, nil)
	attestN(t, l, 0, 600)
	_, early, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	attestN(t, l, 600, 100)
	clean, _ := exportTo(t, l, nil)

	// A fork: another log with the same key and origin, other entries.
	fork := openLog(t, storeFor(t, "memory"), "acme", signer, nil)
	attestN(t, fork, 1000, 700)
	_, forked, err := fork.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, forkedEarly, err := fork.CheckpointAt(ctx, 600)
	if err != nil {
		t.Fatal(err)
	}
	other := openLog(t, storeFor(t, "memory"), "acme", newSigner(t), nil)

	bundle1 := ledger.EntryBundlePath(1, 256)
	tile1 := ledger.TilePath(0, 1, 256)
	editBundle := func(f func(entries [][]byte) [][]byte) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			p := filepath.Join(dir, bundle1)
			data := readFile(t, p)
			es, err := ledger.ParseEntryBundle(data, 256)
			if err != nil {
				t.Fatal(err)
			}
			cp := make([][]byte, len(es))
			for i := range es {
				cp[i] = bytes.Clone(es[i])
			}
			out, err := ledger.AppendEntryBundle(nil, f(cp)...)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, p, out)
		}
	}
	for _, tc := range []struct {
		name      string
		tamper    func(t *testing.T, dir string)
		opts      *ledger.VerifyExportOptions
		wantKind  error
		wantIndex int64 // -1: no index
	}{
		{"changed byte in an entry", editBundle(func(es [][]byte) [][]byte {
			es[10][len(es[10])/2] ^= 1
			return es
		}), nil, errs.ErrUnauthenticated, 266},
		{"deleted entry", editBundle(func(es [][]byte) [][]byte {
			return append(es[:20], es[21:]...)
		}), nil, errs.ErrUnauthenticated, 256 + 255},
		{"reordered entries", editBundle(func(es [][]byte) [][]byte {
			es[30], es[31] = es[31], es[30]
			return es
		}), nil, errs.ErrUnauthenticated, 286},
		{"changed entry with its leaf hash recomputed", func(t *testing.T, dir string) {
			editBundle(func(es [][]byte) [][]byte {
				es[40] = bytes.Clone(es[41])
				return es
			})(t, dir)
			p := filepath.Join(dir, tile1)
			data := readFile(t, p)
			copy(data[40*32:], data[41*32:42*32])
			writeFile(t, p, data)
		}, nil, errs.ErrUnauthenticated, 256},
		{"truncated tile", func(t *testing.T, dir string) {
			p := filepath.Join(dir, tile1)
			writeFile(t, p, readFile(t, p)[:100])
		}, nil, errs.ErrUnauthenticated, 256},
		{"truncated bundle", func(t *testing.T, dir string) {
			p := filepath.Join(dir, bundle1)
			data := readFile(t, p)
			writeFile(t, p, data[:len(data)/2])
		}, nil, errs.ErrUnauthenticated, -2},
		{"missing bundle", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, ledger.EntryBundlePath(2, 700-512)))
		}, nil, errs.ErrNotFound, 512},
		{"changed upper tile hash", func(t *testing.T, dir string) {
			p := filepath.Join(dir, ledger.TilePath(1, 0, 2))
			data := readFile(t, p)
			data[33] ^= 1
			writeFile(t, p, data)
		}, nil, errs.ErrUnauthenticated, 256},
		{"checkpoint size changed", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "checkpoint")
			writeFile(t, p, bytes.Replace(readFile(t, p), []byte("\n700\n"), []byte("\n699\n"), 1))
		}, nil, errs.ErrUnauthenticated, -1},
		{"checkpoint of a fork", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "checkpoint"), forked)
		}, nil, errs.ErrUnauthenticated, -1},
		{"fork of an earlier checkpoint", func(t *testing.T, dir string) {}, &ledger.VerifyExportOptions{Since: forkedEarly}, errs.ErrUnauthenticated, 599},
		{"two checkpoints of one size, different roots", func(t *testing.T, dir string) {}, &ledger.VerifyExportOptions{Since: forked}, errs.ErrUnauthenticated, 699},
		{"key of another log", func(t *testing.T, dir string) {}, &ledger.VerifyExportOptions{VerifierKey: other.VerifierKey()}, errs.ErrUnauthenticated, -1},
		{"export key swapped for the attacker's", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "log.vkey"), []byte(other.VerifierKey()))
		}, nil, errs.ErrUnauthenticated, -1},
		{"entry not signed by the log", editBundle(func(es [][]byte) [][]byte {
			// A validly shaped attestation signed by another key, with its
			// tiles left as they were: the leaf hash check names it first.
			env, err := passport.Seal(ledger.PayloadType, []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"00"}}],"predicateType":"p","predicate":{}}`), newSigner(t))
			if err != nil {
				t.Fatal(err)
			}
			es[5], _ = env.Marshal()
			return es
		}), nil, errs.ErrUnauthenticated, 261},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(clean)); err != nil {
				t.Fatal(err)
			}
			tc.tamper(t, dir)
			_, err := ledger.VerifyExport(ctx, os.DirFS(dir), tc.opts)
			wantKind(t, "VerifyExport", err, tc.wantKind)
			var ee *ledger.EntryError
			switch {
			case tc.wantIndex == -1:
				if errors.As(err, &ee) {
					t.Errorf("err %v names index %d, want none", err, ee.Index)
				}
			case tc.wantIndex == -2:
				if !errors.As(err, &ee) || ee.Index < 256 || ee.Index >= 512 {
					t.Errorf("err %v: want an index in the truncated bundle [256, 512)", err)
				}
			default:
				if !errors.As(err, &ee) || ee.Index != uint64(tc.wantIndex) {
					t.Errorf("err %v: want index %d", err, tc.wantIndex)
				}
			}
		})
	}
	if _, err := ledger.VerifyExport(ctx, os.DirFS(clean), &ledger.VerifyExportOptions{Since: early}); err != nil {
		t.Errorf("clean export: %v", err)
	}
}

// TestAttackExportUnsignedEntry: entries whose hashes are consistent with
// the signed tree but that are not attestations signed by the log key
// (raw entries of a log used without Attest) fail the default check.
func TestAttackExportUnsignedEntry(t *testing.T) {
	l, _ := newMemLog(t)
	attestN(t, l, 0, 3)
	if _, err := l.Append(context.Background(), []byte(`{"not":"an attestation"}`)); err != nil {
		t.Fatal(err)
	}
	dir, _ := exportTo(t, l, nil)
	_, err := ledger.VerifyExport(context.Background(), os.DirFS(dir), nil)
	var ee *ledger.EntryError
	if !errors.Is(err, errs.ErrUnauthenticated) || !errors.As(err, &ee) || ee.Index != 3 {
		t.Errorf("VerifyExport = %v, want ErrUnauthenticated at entry 3", err)
	}
}

func TestTilePaths(t *testing.T) {
	for _, tc := range []struct {
		level uint
		n     uint64
		w     int
		want  string
	}{
		{0, 0, 256, "tile/0/000"},
		{0, 0, 1, "tile/0/000.p/1"},
		{1, 7, 256, "tile/1/007"},
		{0, 1234067, 256, "tile/0/x001/x234/067"},
		{2, 1000, 9, "tile/2/x001/000.p/9"},
	} {
		if got := ledger.TilePath(tc.level, tc.n, tc.w); got != tc.want {
			t.Errorf("TilePath(%d, %d, %d) = %q, want %q", tc.level, tc.n, tc.w, got, tc.want)
		}
		// The same layout as sumdb's, less the height element.
		st := tlog.Tile{H: 8, L: int(tc.level), N: int64(tc.n), W: tc.w}
		if got := strings.Replace(st.Path(), "tile/8/", "tile/", 1); got != tc.want {
			t.Errorf("sumdb path %q, want %q", got, tc.want)
		}
	}
	if got := ledger.EntryBundlePath(1234, 3); got != "tile/entries/x001/234.p/3" {
		t.Errorf("EntryBundlePath = %q", got)
	}
}

func TestEntryBundle(t *testing.T) {
	b, err := ledger.AppendEntryBundle(nil, []byte("ab"), nil, []byte("c"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "\x00\x02ab\x00\x00\x00\x01c"; string(b) != want {
		t.Errorf("bundle %q, want %q", b, want)
	}
	for _, tc := range []struct {
		data  string
		width int
		ok    bool
	}{
		{"\x00\x02ab\x00\x00\x00\x01c", 3, true},
		{"\x00\x02ab\x00\x00\x00\x01c", 2, false},
		{"\x00\x02ab\x00\x00\x00\x01c", 4, false},
		{"\x00\x02ab\x00", 2, false},
		{"\x00\x05ab", 1, false},
		{"", 1, false},
		{"\x00\x00", 0, false},
	} {
		_, err := ledger.ParseEntryBundle([]byte(tc.data), tc.width)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, errs.ErrInvalidArgument)) {
			t.Errorf("ParseEntryBundle(%q, %d) = %v, want ok %v", tc.data, tc.width, err, tc.ok)
		}
	}
	if _, err := ledger.AppendEntryBundle(nil, make([]byte, 1<<16)); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Errorf("oversized entry: %v", err)
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// storeFor returns a fresh store of the named kind ("memory" or "sqlite").
func storeFor(t testing.TB, kind string) ledger.Store {
	t.Helper()
	if kind == "sqlite" {
		return sqlite.NewLedgerStore(openSQLite(t, tempDBPath(t)))
	}
	return memory.NewLedgerStore()
}
