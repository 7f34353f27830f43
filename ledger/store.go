package ledger

import (
	"context"
	"math"

	"github.com/humanos/human/errs"
)

// NodeID names a node of the Merkle tree: Level 0 holds leaf hashes, and
// the node (Level, Index) covers leaves [Index<<Level, (Index+1)<<Level).
// Only nodes over complete (perfect) subtrees are ever stored.
type NodeID struct {
	Level uint
	Index uint64
}

// Node is a stored Merkle tree node: its position and hash.
type Node struct {
	ID   NodeID
	Hash []byte
}

// Store persists the logs of a Log: entries, Merkle node hashes and the
// latest signed checkpoint, per log name. It never hashes, verifies or
// interprets what it holds; the ledger package does that on every read, so
// anything written straight into a store without the log's signatures fails
// verification.
//
// A log name is the org the log belongs to; data of one log is never
// visible through calls naming another.
//
// Every method that is called with a cancelled or expired context returns
// an error wrapping errs.ErrUnavailable and ctx.Err(), and changes nothing.
// Backend failures (unreachable, busy, I/O) are errs.ErrUnavailable too.
// Byte slices passed in and returned are never retained or shared: callers
// and the store may modify their copies freely.
type Store interface {
	// Append atomically writes entries at indices [size, size+len(entries)),
	// the node hashes they create and the new signed checkpoint, only if the
	// log currently holds exactly size entries (compare-and-swap). Otherwise
	// it returns errs.ErrConflict and writes nothing, so two writers can never
	// fork the log. An empty log name or an empty entries slice is
	// errs.ErrInvalidArgument. Appending to a log that does not exist yet at
	// size 0 creates it. Either all of it is durable when Append returns nil,
	// or none of it is.
	Append(ctx context.Context, log string, size uint64, entries [][]byte, nodes []Node, checkpoint []byte) error

	// Head returns the number of entries of the log and its latest
	// checkpoint, as written by the last successful Append. A log that was
	// never appended to is (0, nil, nil), not an error.
	Head(ctx context.Context, log string) (size uint64, checkpoint []byte, err error)

	// Entries returns the entries at indices [start, end), in index order.
	// start > end is errs.ErrInvalidArgument; end beyond the log's size, or
	// any index in the range missing, is errs.ErrNotFound. start == end
	// returns an empty slice.
	Entries(ctx context.Context, log string, start, end uint64) ([][]byte, error)

	// Nodes returns the hashes of the named nodes, in the order of ids. If
	// any of them is missing it returns errs.ErrNotFound naming it.
	Nodes(ctx context.Context, log string, ids []NodeID) ([][]byte, error)
}

// CheckAppend validates the arguments of Store.Append and
// IndexStore.AppendIndexed as every store must (fields may be nil for a
// plain Append), and returns the first index and the new size as int64,
// the width SQL stores keep indices in. Every error wraps
// errs.ErrInvalidArgument.
func CheckAppend(log string, size uint64, entries [][]byte, fields []*Fields) (start, end int64, err error) {
	switch {
	case log == "":
		return 0, 0, errs.Errorf(errs.ErrInvalidArgument, "ledger store: empty log name")
	case len(entries) == 0:
		return 0, 0, errs.Errorf(errs.ErrInvalidArgument, "ledger store %q: append of no entries", log)
	case fields != nil && len(fields) != len(entries):
		return 0, 0, errs.Errorf(errs.ErrInvalidArgument, "ledger store %q: %d index fields for %d entries", log, len(fields), len(entries))
	case size > math.MaxInt64-uint64(len(entries)):
		return 0, 0, errs.Errorf(errs.ErrInvalidArgument, "ledger store %q: size %d + %d entries overflows", log, size, len(entries))
	}
	return int64(size), int64(size) + int64(len(entries)), nil
}

// CheckRange validates the arguments of Store.Entries as every store must
// and returns them as int64. Every error wraps errs.ErrInvalidArgument.
func CheckRange(log string, start, end uint64) (lo, hi int64, err error) {
	switch {
	case start > end:
		return 0, 0, errs.Errorf(errs.ErrInvalidArgument, "ledger store %q: entries [%d, %d): start after end", log, start, end)
	case end > math.MaxInt64:
		return 0, 0, errs.Errorf(errs.ErrInvalidArgument, "ledger store %q: index %d is too large", log, end)
	}
	return int64(start), int64(end), nil
}
