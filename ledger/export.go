package ledger

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/transparency-dev/merkle/compact"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// The files of an export directory besides its tiles.
const (
	// ExportCheckpointFile holds the signed checkpoint (a C2SP
	// tlog-checkpoint note) of the exported tree.
	ExportCheckpointFile = "checkpoint"
	// ExportKeyFile holds the log's note verifier key
	// ("origin+keyhash+base64"), one line.
	ExportKeyFile = "log.vkey"
	// ExportManifestFile describes the export (ExportManifest as JSON).
	ExportManifestFile = "export.json"
	// ExportReadmeFile explains the layout to a reader with no HUMAN tools.
	ExportReadmeFile = "README.md"
	// ExportFormat names the layout in ExportManifest.Format.
	ExportFormat = "humanos.dev/ledger-export/v1"
)

// ExportSink receives the files of an export, named by slash-separated
// paths relative to the export's root (C2SP tlog-tiles paths for tiles).
// Every file is written once and never changed, so a sink may be a
// directory, an object store bucket or a static web root.
type ExportSink interface {
	// Put stores data at path, replacing what was there. A cancelled ctx
	// is errs.ErrUnavailable wrapping ctx.Err(); a failed write is
	// errs.ErrUnavailable.
	Put(ctx context.Context, path string, data []byte) error
}

// DirSink returns an ExportSink writing under the directory dir (created
// as needed), each file written to a temporary name and renamed into
// place.
func DirSink(dir string) ExportSink { return dirSink(dir) }

type dirSink string

func (d dirSink) Put(ctx context.Context, path string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "export: %w", err)
	}
	if path == "" || strings.HasPrefix(path, "/") || strings.Contains(path, "..") {
		return errs.Errorf(errs.ErrInvalidArgument, "export: bad path %q", path)
	}
	full := filepath.Join(string(d), filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "export: %w", err)
	}
	tmp := full + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "export: %w", err)
	}
	if err := os.Rename(tmp, full); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "export: %w", err)
	}
	return nil
}

// ExportOptions select what Log.Export writes. The zero value exports the
// whole log at its latest checkpoint.
type ExportOptions struct {
	// From is the first entry to export. Tiles are whole, so the export
	// starts at the beginning of From's tile (From rounded down to a
	// multiple of TileWidth).
	From uint64
	// To is the tree size to export (entries [From, To)); 0 means the
	// log's current size. A To below the current size gets a checkpoint
	// freshly signed at that size.
	To uint64
	// Progress, when set, is called after each entry bundle with the
	// entries written so far and the total to write.
	Progress func(done, total uint64)
	// Checkpoint, when set, is a signed checkpoint of this log to write
	// instead of a freshly read one, typically with witness cosignatures
	// (Log.Cosign); it sets To to its size. One that is not signed by the
	// log, or whose root is not the stored tree's at its size, is
	// errs.ErrUnauthenticated.
	Checkpoint []byte
}

// ExportManifest describes an export directory (its export.json).
type ExportManifest struct {
	Format string `json:"format"`
	Origin string `json:"origin"`
	// VerifierKey is the note verifier key of the log's checkpoints; the
	// same Ed25519 key signs the entries' DSSE envelopes (PublicKey).
	VerifierKey string `json:"verifier_key"`
	PublicKey   string `json:"public_key"`
	// From is the first entry in the export's entry bundles (a multiple of
	// TileWidth); Size is the checkpoint's tree size.
	From uint64 `json:"from"`
	Size uint64 `json:"size"`
}

// CheckpointAt returns a signed checkpoint of the log at size, which may be
// below the current size (the tree at an earlier size, recomputed from
// stored nodes and freshly signed). A size beyond the log's is
// errs.ErrNotFound; missing nodes are errs.ErrUnauthenticated.
func (l *Log) CheckpointAt(ctx context.Context, size uint64) (*Checkpoint, []byte, error) {
	cp, signed, err := l.Checkpoint(ctx)
	if err != nil {
		return nil, nil, err
	}
	if size > cp.Size {
		return nil, nil, errs.Errorf(errs.ErrNotFound, "ledger %q: tree size %d is beyond the log's size %d", l.org, size, cp.Size)
	}
	if size == cp.Size {
		return cp, signed, nil
	}
	rng, err := l.storedRange(ctx, size)
	if err != nil {
		return nil, nil, err
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return nil, nil, errs.Errorf(errs.ErrFailedPrecondition, "ledger %q: %v", l.org, err)
	}
	if root == nil {
		root = hasher.EmptyRoot()
	}
	cp = &Checkpoint{Origin: l.origin, Size: size, Hash: root}
	signed, err = signCheckpoint(cp, l.nsigner)
	if err != nil {
		return nil, nil, err
	}
	return cp, signed, nil
}

// storedRange builds the compact range [0, size) from stored nodes.
func (l *Log) storedRange(ctx context.Context, size uint64) (*compact.Range, error) {
	if size == 0 {
		return rangeFactory.NewEmptyRange(0), nil
	}
	hashes, err := l.readNodes(ctx, compact.RangeNodes(0, size, nil))
	if err != nil {
		if errors.Is(err, errs.ErrNotFound) {
			return nil, errs.Errorf(errs.ErrUnauthenticated, "ledger %q: stored tree of size %d is incomplete: %w", l.org, size, err)
		}
		return nil, err
	}
	rng, err := rangeFactory.NewRange(0, size, hashes)
	if err != nil {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "ledger %q: stored tree: %v", l.org, err)
	}
	return rng, nil
}

// Export writes entries [From, To) of the log to sink as a C2SP
// tlog-tiles tree (hash tiles, entry bundles and the signed checkpoint at
// To) plus the log's verifier key, export.json and a README, so that a
// third party can verify it offline with VerifyExport or any tlog-tiles
// client. It streams: memory stays bounded by one bundle of entries and one
// tile per level, whatever the log's size. Hash tiles at levels above 0
// are written whole (they are 1/256 of the data below them), level-0
// tiles and bundles only for the range. Before writing the checkpoint
// (last) it checks that the exported entries hash to its root, so a log
// whose store was altered is never exported as valid:
// errs.ErrUnauthenticated. From > To is errs.ErrInvalidArgument; To beyond
// the log is errs.ErrNotFound; an entry over MaxBundledEntry bytes is
// errs.ErrFailedPrecondition.
func (l *Log) Export(ctx context.Context, sink ExportSink, opts *ExportOptions) (*ExportManifest, error) {
	var o ExportOptions
	if opts != nil {
		o = *opts
	}
	if sink == nil {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "export: nil sink")
	}
	head, _, err := l.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	var given *Checkpoint
	if o.Checkpoint != nil {
		if given, err = openCheckpoint(o.Checkpoint, l.verifier); err != nil {
			return nil, fmt.Errorf("export: given checkpoint: %w", err)
		}
		o.To = given.Size
	}
	if o.To == 0 {
		o.To = head.Size
	}
	if o.From > o.To {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "export: from %d is after to %d", o.From, o.To)
	}
	cp, signed, err := l.CheckpointAt(ctx, o.To)
	if err != nil {
		return nil, err
	}
	if given != nil {
		if !bytes.Equal(given.Hash, cp.Hash) {
			return nil, errs.Errorf(errs.ErrUnauthenticated, "ledger %q: export: the given checkpoint of size %d is not the stored tree's (a fork)", l.org, given.Size)
		}
		signed = o.Checkpoint
	}
	size := cp.Size
	start := o.From / TileWidth * TileWidth
	if start == size && size > 0 {
		// Export at least the last (partial or full) tile, so the
		// directory holds the entry the checkpoint ends with.
		start = (size - 1) / TileWidth * TileWidth
	}
	rng, err := l.storedRange(ctx, start)
	if err != nil {
		return nil, err
	}

	// Upper tile levels: the part left of start comes from the store, the
	// rest from the nodes the export recomputes from the entries.
	var uppers []*exportLevel
	for lv := uint(1); size>>(TileHeight*lv) > 0; lv++ {
		up := &exportLevel{level: lv, count: size >> (TileHeight * lv)}
		known := start >> (TileHeight * lv)
		up.next = known / TileWidth * TileWidth
		for n := uint64(0); n < known/TileWidth; n++ {
			hashes, err := l.readLevel(ctx, lv, n*TileWidth, (n+1)*TileWidth)
			if err != nil {
				return nil, err
			}
			if err := sink.Put(ctx, TilePath(lv, n, TileWidth), bytes.Join(hashes, nil)); err != nil {
				return nil, err
			}
		}
		if up.buf, err = l.readLevel(ctx, lv, up.next, known); err != nil {
			return nil, err
		}
		uppers = append(uppers, up)
	}
	var putErr error
	visit := func(id compact.NodeID, h []byte) {
		if id.Level == 0 || id.Level%TileHeight != 0 || putErr != nil {
			return
		}
		up := uppers[id.Level/TileHeight-1]
		up.buf = append(up.buf, bytes.Clone(h))
		if len(up.buf) == TileWidth {
			putErr = up.flush(ctx, sink)
		}
	}

	var bundle, tile []byte
	for lo := start; lo < size; lo += TileWidth {
		hi := min(lo+TileWidth, size)
		entries, err := l.store.Entries(ctx, l.org, lo, hi)
		if err != nil {
			if errors.Is(err, errs.ErrNotFound) {
				return nil, errs.Errorf(errs.ErrUnauthenticated, "ledger %q: export: entries [%d, %d) covered by the checkpoint are missing: %w", l.org, lo, hi, err)
			}
			return nil, err
		}
		if uint64(len(entries)) != hi-lo {
			return nil, errs.Errorf(errs.ErrUnavailable, "ledger %q: export: store returned %d entries for [%d, %d)", l.org, len(entries), lo, hi)
		}
		bundle, tile = bundle[:0], tile[:0]
		for i, e := range entries {
			if len(e) > MaxBundledEntry {
				return nil, errs.Errorf(errs.ErrFailedPrecondition, "ledger %q: export: entry %d has %d bytes; a tlog-tiles entry bundle holds at most %d", l.org, lo+uint64(i), len(e), MaxBundledEntry)
			}
			bundle, _ = AppendEntryBundle(bundle, e)
			leaf := LeafHash(e)
			tile = append(tile, leaf...)
			if err := rng.Append(leaf, visit); err != nil {
				return nil, errs.Errorf(errs.ErrFailedPrecondition, "ledger %q: export: %v", l.org, err)
			}
			if putErr != nil {
				return nil, putErr
			}
		}
		w := int(hi - lo)
		if err := sink.Put(ctx, EntryBundlePath(lo/TileWidth, w), bundle); err != nil {
			return nil, err
		}
		if err := sink.Put(ctx, TilePath(0, lo/TileWidth, w), tile); err != nil {
			return nil, err
		}
		if o.Progress != nil {
			o.Progress(hi-start, size-start)
		}
	}
	for _, up := range uppers {
		if len(up.buf) > 0 {
			if err := up.flush(ctx, sink); err != nil {
				return nil, err
			}
		}
		if up.next != up.count {
			return nil, errs.Errorf(errs.ErrFailedPrecondition, "ledger %q: export: tile level %d ends at %d hashes, want %d", l.org, up.level, up.next, up.count)
		}
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "ledger %q: export: %v", l.org, err)
	}
	if root == nil {
		root = hasher.EmptyRoot()
	}
	if !bytes.Equal(root, cp.Hash) {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "ledger %q: export: the stored entries [%d, %d) do not hash to the signed checkpoint's root; the store was altered", l.org, start, size)
	}
	m := &ExportManifest{Format: ExportFormat, Origin: l.origin, VerifierKey: l.vkey, PublicKey: l.PublicKey().String(), From: start, Size: size}
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, errs.Errorf(errs.ErrFailedPrecondition, "export: %v", err)
	}
	for _, f := range []struct {
		path string
		data []byte
	}{
		{ExportManifestFile, append(mj, '\n')},
		{ExportKeyFile, []byte(l.vkey + "\n")},
		{ExportReadmeFile, []byte(exportReadme(m))},
		{ExportCheckpointFile, signed},
	} {
		if err := sink.Put(ctx, f.path, f.data); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// exportLevel accumulates one upper tile level's hashes until a tile is
// full.
type exportLevel struct {
	level uint
	count uint64 // hashes at this level in the exported tree
	next  uint64 // index of buf[0]
	buf   [][]byte
}

func (e *exportLevel) flush(ctx context.Context, sink ExportSink) error {
	if err := sink.Put(ctx, TilePath(e.level, e.next/TileWidth, len(e.buf)), bytes.Join(e.buf, nil)); err != nil {
		return err
	}
	e.next += uint64(len(e.buf))
	e.buf = e.buf[:0]
	return nil
}

// readLevel reads the stored hashes at Merkle level TileHeight*lv, indices
// [lo, hi).
func (l *Log) readLevel(ctx context.Context, lv uint, lo, hi uint64) ([][]byte, error) {
	ids := make([]compact.NodeID, 0, hi-lo)
	for i := lo; i < hi; i++ {
		ids = append(ids, compact.NewNodeID(TileHeight*lv, i))
	}
	hashes, err := l.readNodes(ctx, ids)
	if errors.Is(err, errs.ErrNotFound) {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "ledger %q: export: stored tree nodes are missing: %w", l.org, err)
	}
	return hashes, err
}

// publicKeyOf returns the Ed25519 key inside a note verifier key.
func publicKeyOf(vkey string) (passport.PublicKey, error) {
	v, err := NewVerifier(vkey)
	if err != nil {
		return passport.PublicKey{}, err
	}
	// "name+hash+key": names hold no '+', base64 keys may.
	parts := strings.SplitN(vkey, "+", 3)
	raw, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	if err != nil || len(raw) != 33 || raw[0] != 1 {
		return passport.PublicKey{}, errs.Errorf(errs.ErrInvalidArgument, "verifier key of %s is not an Ed25519 note key", v.Name())
	}
	k := passport.PublicKey{Suite: passport.SuiteEd25519, Key: raw[1:]}
	return k, k.Validate()
}

func exportReadme(m *ExportManifest) string {
	return `# HUMAN ledger export

This directory is a range of the HUMAN ledger log ` + "`" + m.Origin + "`" + ` in the
C2SP tlog-tiles layout (https://c2sp.org/tlog-tiles). It can be served as
static files and read by any tlog-tiles client.

- ` + "`checkpoint`" + `: the signed tree head, a C2SP tlog-checkpoint signed note
  (origin line, tree size, base64 RFC 6962 root hash, then signatures).
- ` + "`log.vkey`" + `: the note verifier key of the checkpoint signature. Compare it with
  the key the org published before trusting anything here.
- ` + "`tile/<L>/<N>[.p/<W>]`" + `: hash tiles. Tile level L holds the RFC 6962 tree
  hashes at Merkle level 8L, 256 per full tile (32 bytes each, concatenated);
  ".p/W" marks a partial tile of W hashes at the right edge of the tree.
  N is written in 3-digit groups, all but the last prefixed with "x".
- ` + "`tile/entries/<N>[.p/<W>]`" + `: entry bundles, 256 entries per full bundle, each a
  big-endian uint16 length followed by the entry. Entry i is in bundle i/256.
- ` + "`export.json`" + `: the first exported entry (from, a multiple of 256), the
  tree size, the origin and the keys.

Every entry is a DSSE envelope (JSON) of an in-toto Statement v1, signed by
the same Ed25519 key as the checkpoint (` + "`public_key`" + ` in export.json; its DSSE
keyid is the base64url of the first 16 bytes of SHA-256 of "ed25519:<base64url key>").

To verify: check the checkpoint's signature with log.vkey; hash every entry
(SHA-256 of 0x00 || entry) and compare with level-0 tiles; recompute the
tree from the tiles and compare its root with the checkpoint; check each
entry's DSSE signature. ` + "`human ledger verify DIR`" + ` does all of this.
`
}
