package ledger

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/humanos/human/errs"
)

// C2SP tlog-tiles (c2sp.org/tlog-tiles) geometry: every tile is 8 levels
// of the tree, so a full tile holds 256 hashes (or, for an entry bundle,
// 256 entries).
const (
	// TileHeight is the number of tree levels one tile spans.
	TileHeight = 8
	// TileWidth is the number of hashes in a full tile and entries in a
	// full entry bundle.
	TileWidth = 1 << TileHeight
	// MaxBundledEntry is the largest entry an entry bundle can hold: each
	// entry is prefixed by a big-endian uint16 length.
	MaxBundledEntry = 1<<16 - 1
)

// TilePath returns the C2SP tlog-tiles path of the hash tile at tile level
// level and index n holding width hashes: "tile/<L>/<N>" for a full tile
// (width TileWidth), "tile/<L>/<N>.p/<W>" for a partial one. A tile at
// level L holds the tree's hashes at Merkle level 8L.
func TilePath(level uint, n uint64, width int) string {
	return "tile/" + strconv.FormatUint(uint64(level), 10) + "/" + tileIndexPath(n, width)
}

// EntryBundlePath returns the C2SP tlog-tiles path of the entry bundle
// with index n holding width entries: "tile/entries/<N>[.p/<W>]".
func EntryBundlePath(n uint64, width int) string {
	return "tile/entries/" + tileIndexPath(n, width)
}

// tileIndexPath encodes n as zero-padded 3-digit path elements, all but the
// last prefixed with "x", plus ".p/W" for a partial tile.
func tileIndexPath(n uint64, width int) string {
	s := strconv.FormatUint(n, 10)
	if pad := (3 - len(s)%3) % 3; pad > 0 {
		s = strings.Repeat("0", pad) + s
	}
	var b strings.Builder
	for i := 0; i < len(s); i += 3 {
		if i+3 < len(s) {
			b.WriteString("x")
			b.WriteString(s[i : i+3])
			b.WriteString("/")
		} else {
			b.WriteString(s[i:])
		}
	}
	if width < TileWidth {
		b.WriteString(".p/")
		b.WriteString(strconv.Itoa(width))
	}
	return b.String()
}

// AppendEntryBundle appends entries to b in the tlog-tiles entry bundle
// encoding (each entry as a big-endian uint16 length and its bytes). An
// entry over MaxBundledEntry bytes is errs.ErrInvalidArgument.
func AppendEntryBundle(b []byte, entries ...[]byte) ([]byte, error) {
	for i, e := range entries {
		if len(e) > MaxBundledEntry {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "entry bundle: entry %d has %d bytes, at most %d fit", i, len(e), MaxBundledEntry)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(e)))
		b = append(b, e...)
	}
	return b, nil
}

// ParseEntryBundle decodes an entry bundle that must hold exactly width
// entries. The returned entries alias data. A truncated bundle, trailing
// bytes, or a count other than width is errs.ErrInvalidArgument.
func ParseEntryBundle(data []byte, width int) ([][]byte, error) {
	if width < 1 || width > TileWidth {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "entry bundle: width %d, want 1 to %d", width, TileWidth)
	}
	out := make([][]byte, 0, width)
	for len(data) > 0 {
		if len(out) == width {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "entry bundle: more than %d entries", width)
		}
		if len(data) < 2 {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "entry bundle: truncated length of entry %d", len(out))
		}
		n := int(binary.BigEndian.Uint16(data))
		data = data[2:]
		if len(data) < n {
			return nil, errs.Errorf(errs.ErrInvalidArgument, "entry bundle: entry %d truncated (%d of %d bytes)", len(out), len(data), n)
		}
		out = append(out, data[:n:n])
		data = data[n:]
	}
	if len(out) != width {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "entry bundle: %d entries, want %d", len(out), width)
	}
	return out, nil
}
