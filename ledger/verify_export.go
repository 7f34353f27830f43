package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"sync"

	"github.com/transparency-dev/merkle/compact"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// EntryError is a verification failure located at a log index: the first
// bad entry, or the first entry covered by a bad tile. It wraps the reason,
// so errors.Is(err, errs.ErrUnauthenticated) and friends hold.
type EntryError struct {
	Index uint64
	Err   error
}

func (e *EntryError) Error() string { return fmt.Sprintf("entry %d: %v", e.Index, e.Err) }

// Unwrap returns the reason.
func (e *EntryError) Unwrap() error { return e.Err }

// VerifyExportOptions tune VerifyExport. The zero value trusts the key in
// the export itself and checks every entry as an attestation.
type VerifyExportOptions struct {
	// VerifierKey is the log's note verifier key as the org published it.
	// Empty means the export's own log.vkey, which proves only that the
	// export is self-consistent: compare ExportReport.VerifierKey with
	// the published key.
	VerifierKey string
	// Since is an earlier signed checkpoint of the same log; the export
	// must extend it (the tree at its size has its root). A checkpoint of
	// the export's own size with another root is a fork.
	Since []byte
	// CheckEntry checks one entry; default: a DSSE attestation
	// (ParseAttestation) signed by the log's key, with the signatures of
	// each chunk of up to a bundle's entries verified in one batch
	// (passport.EnvelopeBatch) and, if that fails, one by one to name the
	// first bad entry. It runs concurrently.
	CheckEntry func(index uint64, entry []byte) error
	// Progress, when set, is called after each bundle with the entries
	// verified so far and the total.
	Progress func(done, total uint64)
	// Policy, when set, is also required of the export's checkpoint (k of
	// n witness cosignatures, Policy.VerifyCheckpoint); its Log should be
	// the log's published verifier.
	Policy *Policy
}

// ExportReport is what VerifyExport checked.
type ExportReport struct {
	Origin      string
	VerifierKey string
	// KeyFromExport is true when the key came from the export itself.
	KeyFromExport bool
	From, Size    uint64
	// SinceSize is the size of the Since checkpoint shown consistent (0
	// when none was given).
	SinceSize uint64
}

// VerifyExport checks an export directory (as Log.Export writes it) offline:
// the checkpoint's signature, every entry of the exported range (present,
// hashing to its level-0 tile, and passing CheckEntry), every hash tile
// against the hashes recomputed from the entries, the recomputed root
// against the checkpoint, and consistency with opts.Since. It reads one
// bundle and one tile per level at a time. The first failure tied to an
// index is an *EntryError naming it; every failure wraps
// errs.ErrUnauthenticated (a bad signature, hash or proof, a fork), or
// errs.ErrInvalidArgument / errs.ErrNotFound for a malformed or incomplete
// directory.
func VerifyExport(ctx context.Context, fsys fs.FS, opts *VerifyExportOptions) (*ExportReport, error) {
	var o VerifyExportOptions
	if opts != nil {
		o = *opts
	}
	rep := &ExportReport{VerifierKey: o.VerifierKey}
	var m ExportManifest
	raw, err := readExportFile(fsys, ExportManifestFile)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &m); err != nil || m.Format != ExportFormat {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "export: %s is not a %s manifest", ExportManifestFile, ExportFormat)
	}
	if rep.VerifierKey == "" {
		raw, err := readExportFile(fsys, ExportKeyFile)
		if err != nil {
			return nil, err
		}
		rep.VerifierKey, rep.KeyFromExport = string(bytes.TrimSpace(raw)), true
	}
	v, err := NewVerifier(rep.VerifierKey)
	if err != nil {
		return nil, err
	}
	pub, err := publicKeyOf(rep.VerifierKey)
	if err != nil {
		return nil, err
	}
	signed, err := readExportFile(fsys, ExportCheckpointFile)
	if err != nil {
		return nil, err
	}
	cp, err := openCheckpoint(signed, v)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if o.Policy != nil {
		if _, err := o.Policy.VerifyCheckpoint(signed); err != nil {
			return nil, fmt.Errorf("export: policy: %w", err)
		}
	}
	rep.Origin, rep.Size, rep.From = cp.Origin, cp.Size, m.From
	if m.Size != cp.Size || m.From%TileWidth != 0 || (m.From >= cp.Size && cp.Size > 0) {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "export: manifest range [%d, %d) does not fit the checkpoint of size %d", m.From, m.Size, cp.Size)
	}
	// check verifies a chunk of entries: the default verifies the
	// attestations' signatures in one batch per chunk.
	check := attestationBatchCheck(pub)
	if o.CheckEntry != nil {
		check = oneByOne(o.CheckEntry)
	}
	tr := &tileReader{fsys: fsys, size: cp.Size, cache: map[uint]*cachedTile{}}

	var since *Checkpoint
	if o.Since != nil {
		if since, err = openCheckpoint(o.Since, v); err != nil {
			return nil, fmt.Errorf("export: --since checkpoint: %w", err)
		}
		if since.Size > cp.Size {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "export: the earlier checkpoint has size %d, beyond the export's %d", since.Size, cp.Size)
		}
		rep.SinceSize = since.Size
	}
	checkSince := func(rng *compact.Range) error {
		if since == nil || rng.End() != since.Size {
			return nil
		}
		root, err := rng.GetRootHash(nil)
		if err != nil {
			return errs.Errorf(errs.ErrInvalidArgument, "export: %v", err)
		}
		if root == nil {
			root = hasher.EmptyRoot()
		}
		if !bytes.Equal(root, since.Hash) {
			return errs.Errorf(errs.ErrUnauthenticated, "export: fork: the tree at size %d has a root other than the earlier checkpoint's", since.Size)
		}
		return nil
	}

	start := m.From
	if since != nil && since.Size < start {
		rng, err := tr.rangeAt(since.Size)
		if err != nil {
			return nil, fmt.Errorf("export: checking the earlier checkpoint of size %d needs the tiles left of the export's range: %w", since.Size, err)
		}
		if err := checkSince(rng); err != nil {
			return nil, err
		}
	}
	rng, err := tr.rangeAt(start)
	if err != nil {
		return nil, err
	}
	if err := checkSince(rng); err != nil {
		return nil, err
	}
	var visitErr error
	visit := func(id compact.NodeID, h []byte) {
		if id.Level == 0 || id.Level%TileHeight != 0 || visitErr != nil {
			return
		}
		lv := id.Level / TileHeight
		got, err := tr.hash(lv, id.Index)
		first := id.Index << id.Level
		if err != nil {
			visitErr = &EntryError{Index: first, Err: err}
			return
		}
		if !bytes.Equal(got, h) {
			visitErr = &EntryError{Index: first, Err: errs.Errorf(errs.ErrUnauthenticated,
				"hash tile level %d: the hash over entries [%d, %d) is not the one recomputed from the entries", lv, first, (id.Index+1)<<id.Level)}
		}
	}
	workers := runtime.GOMAXPROCS(0)
	for lo := start; lo < cp.Size; lo += TileWidth {
		if err := ctx.Err(); err != nil {
			return nil, errs.Errorf(errs.ErrUnavailable, "export: verify: %w", err)
		}
		hi := min(lo+TileWidth, cp.Size)
		w := int(hi - lo)
		n := lo / TileWidth
		data, err := readExportFile(fsys, EntryBundlePath(n, w))
		if err != nil {
			return nil, &EntryError{Index: lo, Err: err}
		}
		entries, bad, err := parseEntryBundle(data, w)
		if err != nil {
			return nil, &EntryError{Index: lo + uint64(bad), Err: errs.Errorf(errs.ErrUnauthenticated, "%s: %w", EntryBundlePath(n, w), err)}
		}
		tile, err := tr.read(0, n)
		if err != nil {
			return nil, &EntryError{Index: lo, Err: err}
		}
		leaves := make([][]byte, w)
		for i, e := range entries {
			leaves[i] = LeafHash(e)
			if !bytes.Equal(leaves[i], tile[i*hashSize:(i+1)*hashSize]) {
				return nil, &EntryError{Index: lo + uint64(i), Err: errs.Errorf(errs.ErrUnauthenticated,
					"its leaf hash is not the one in %s (changed, reordered or replaced entry)", TilePath(0, n, w))}
			}
		}
		if err := checkEntries(lo, entries, check, workers); err != nil {
			return nil, err
		}
		for i, leaf := range leaves {
			if err := rng.Append(leaf, visit); err != nil {
				return nil, errs.Errorf(errs.ErrInvalidArgument, "export: %v", err)
			}
			if visitErr != nil {
				return nil, visitErr
			}
			if err := checkSince(rng); err != nil {
				return nil, &EntryError{Index: lo + uint64(i), Err: err}
			}
		}
		if o.Progress != nil {
			o.Progress(hi-start, cp.Size-start)
		}
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "export: %v", err)
	}
	if root == nil {
		root = hasher.EmptyRoot()
	}
	if !bytes.Equal(root, cp.Hash) {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "export: the tree recomputed from the tiles and entries does not have the checkpoint's root")
	}
	return rep, nil
}

// attestationCheck is the default entry check, one entry at a time: an
// attestation envelope signed by the log's key.
func attestationCheck(pub passport.PublicKey) func(uint64, []byte) error {
	return func(_ uint64, entry []byte) error {
		env, err := parseAttestationEntry(entry)
		if err != nil {
			return err
		}
		return env.VerifiedBy(pub)
	}
}

// parseAttestationEntry parses an entry as an attestation; a failure is
// ErrUnauthenticated (the entry is not what the log signs).
func parseAttestationEntry(entry []byte) (*passport.Envelope, error) {
	env, _, err := ParseAttestation(entry)
	if err != nil {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "not an attestation: %w", err)
	}
	return env, nil
}

// entryBatchMax is the most entries whose signatures one batch verifies.
// Per signature, a batch of envelopes by one key costs 15.5-17.5 µs at 16,
// 12.8-13.5 µs at 64 and 12.2-13.9 µs at 256, against 53-58 µs verified
// one by one (BenchmarkEnvelopeBatch, one core): the cost is flat from 64
// on (the multi-scalar multiplication's per-point tables, 2.4 KB a
// signature, do not show), so a chunk is a whole bundle, split only to
// keep every worker busy.
const entryBatchMax = TileWidth

// chunkCheck checks entries, the first at log index lo, and returns the
// failure with the lowest index, or nil.
type chunkCheck func(lo uint64, entries [][]byte) *EntryError

// oneByOne checks a chunk entry by entry, stopping at the first failure.
func oneByOne(check func(uint64, []byte) error) chunkCheck {
	return func(lo uint64, entries [][]byte) *EntryError {
		for i, e := range entries {
			if err := check(lo+uint64(i), e); err != nil {
				return &EntryError{Index: lo + uint64(i), Err: err}
			}
		}
		return nil
	}
}

// attestationBatchCheck is attestationCheck over a chunk, with the
// signatures verified in one passport.EnvelopeBatch. The batch checks what
// VerifiedBy checks, so when it holds the chunk passes as it would one by
// one; when it fails (which says nothing of where), the entries are
// checked again one by one, which names the first bad index and why,
// exactly as attestationCheck alone does. An entry that is not an
// attestation ends the batch: the entries before it are verified, then it
// is the failure.
func attestationBatchCheck(pub passport.PublicKey) chunkCheck {
	one := oneByOne(attestationCheck(pub))
	return func(lo uint64, entries [][]byte) *EntryError {
		var b passport.EnvelopeBatch
		end, perr := len(entries), error(nil)
		for i, e := range entries {
			env, err := parseAttestationEntry(e)
			if err != nil {
				end, perr = i, err
				break
			}
			b.Add(env, pub)
		}
		if !b.Verify() {
			if bad := one(lo, entries[:end]); bad != nil {
				return bad
			}
		}
		if perr != nil {
			return &EntryError{Index: lo + uint64(end), Err: perr}
		}
		return nil
	}
}

// checkEntries runs check over chunks of entries on up to workers
// goroutines and returns the failure with the lowest index. Chunks hold up
// to entryBatchMax entries, fewer when that keeps more workers busy.
func checkEntries(lo uint64, entries [][]byte, check chunkCheck, workers int) error {
	n := len(entries)
	if n == 0 {
		return nil
	}
	size := min(entryBatchMax, (n+max(1, workers)-1)/max(1, workers))
	chunks := (n + size - 1) / size
	workers = max(1, min(workers, chunks))
	firstBad := make([]*EntryError, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A worker's chunks rise, so its first failure is its lowest.
			for c := w; c < chunks; c += workers {
				i := c * size
				if bad := check(lo+uint64(i), entries[i:min(i+size, n)]); bad != nil {
					firstBad[w] = bad
					return
				}
			}
		}()
	}
	wg.Wait()
	var first *EntryError
	for _, e := range firstBad {
		if e != nil && (first == nil || e.Index < first.Index) {
			first = e
		}
	}
	if first != nil {
		return first
	}
	return nil
}

// parseEntryBundle is ParseEntryBundle that also reports the position of
// the first entry it could not read.
func parseEntryBundle(data []byte, width int) ([][]byte, int, error) {
	entries, err := ParseEntryBundle(data, width)
	if err == nil {
		return entries, 0, nil
	}
	// Count the entries that do decode, to name the first that does not.
	n := 0
	for len(data) >= 2 && n < width {
		l := int(data[0])<<8 | int(data[1])
		if len(data)-2 < l {
			break
		}
		data = data[2+l:]
		n++
	}
	return nil, min(n, width-1), err
}

func readExportFile(fsys fs.FS, path string) ([]byte, error) {
	data, err := fs.ReadFile(fsys, path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errs.Errorf(errs.ErrNotFound, "export: %s is missing", path)
	}
	if err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "export: %w", err)
	}
	return data, nil
}

// tileReader reads hash tiles of a tree of the given size, keeping the last
// tile read at each level.
type tileReader struct {
	fsys  fs.FS
	size  uint64
	cache map[uint]*cachedTile
}

type cachedTile struct {
	n    uint64
	data []byte
}

// width is the number of hashes of tile n at level lv in the tree.
func (t *tileReader) width(lv uint, n uint64) (int, error) {
	count := t.size >> (TileHeight * lv)
	if n*TileWidth >= count {
		return 0, errs.Errorf(errs.ErrInvalidArgument, "export: no tile %d at level %d in a tree of size %d", n, lv, t.size)
	}
	return int(min(TileWidth, count-n*TileWidth)), nil
}

func (t *tileReader) read(lv uint, n uint64) ([]byte, error) {
	if c := t.cache[lv]; c != nil && c.n == n {
		return c.data, nil
	}
	w, err := t.width(lv, n)
	if err != nil {
		return nil, err
	}
	path := TilePath(lv, n, w)
	data, err := readExportFile(t.fsys, path)
	if err != nil {
		return nil, err
	}
	if len(data) != w*hashSize {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "export: %s has %d bytes, want %d (truncated or padded tile)", path, len(data), w*hashSize)
	}
	t.cache[lv] = &cachedTile{n: n, data: data}
	return data, nil
}

// hash returns the stored hash at Merkle level TileHeight*lv, index i.
func (t *tileReader) hash(lv uint, i uint64) ([]byte, error) {
	data, err := t.read(lv, i/TileWidth)
	if err != nil {
		return nil, err
	}
	j := int(i % TileWidth)
	return data[j*hashSize : (j+1)*hashSize], nil
}

// node computes the hash of the perfect subtree at (level, index) from the
// hashes of its tile.
func (t *tileReader) node(id compact.NodeID) ([]byte, error) {
	lv := id.Level / TileHeight
	r := id.Level % TileHeight
	lo := id.Index << r
	hashes := make([][]byte, 0, 1<<r)
	for i := lo; i < lo+1<<r; i++ {
		h, err := t.hash(lv, i)
		if err != nil {
			return nil, err
		}
		hashes = append(hashes, h)
	}
	for len(hashes) > 1 {
		next := hashes[:0:0]
		for i := 0; i < len(hashes); i += 2 {
			next = append(next, hashChildren(hashes[i], hashes[i+1]))
		}
		hashes = next
	}
	return hashes[0], nil
}

// rangeAt builds the compact range [0, size) from the tiles.
func (t *tileReader) rangeAt(size uint64) (*compact.Range, error) {
	ids := compact.RangeNodes(0, size, nil)
	hashes := make([][]byte, len(ids))
	for i, id := range ids {
		h, err := t.node(id)
		if err != nil {
			return nil, err
		}
		hashes[i] = h
	}
	rng, err := rangeFactory.NewRange(0, size, hashes)
	if err != nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "export: %v", err)
	}
	return rng, nil
}
