package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/passport"
)

// Query limits.
const (
	// DefaultQueryLimit is a page's size when Query.Limit is 0.
	DefaultQueryLimit = 100
	// MaxQueryLimit is the largest page Query returns.
	MaxQueryLimit = 1000
)

// Query selects attestations of one log: a Filter, a page size and a
// cursor. Results come in log (index) order.
type Query struct {
	Filter
	// Limit is the page size: 0 means DefaultQueryLimit; at most
	// MaxQueryLimit.
	Limit int
	// Cursor is Page.Next of the previous page of the same query; empty
	// starts at the beginning of the log. It is opaque, and bound to the
	// filter: a cursor of another query is errs.ErrInvalidArgument.
	Cursor string
	// Proofs asks for each result's Receipt (inclusion proof) against the
	// latest checkpoint.
	Proofs bool
}

// Attestation is one query result: an entry of the log, its decoded and
// verified statement, and its query fields.
type Attestation struct {
	Index     uint64
	Entry     []byte
	Envelope  *passport.Envelope
	Statement *Statement
	Fields    *Fields
	// Receipt proves Entry is at Index in the log, against Page.Checkpoint;
	// set only when Query.Proofs.
	Receipt *Receipt
}

// Page is one page of query results.
type Page struct {
	Attestations []*Attestation
	// Next is the cursor of the following page; empty when there is none.
	Next string
	// Checkpoint is the signed checkpoint every receipt of the page is
	// proved against (with Query.Proofs; nil otherwise).
	Checkpoint []byte
}

// cursorVersion tags the cursor encoding.
const cursorVersion = 1

// Query returns a page of the log's attestations matching q. Every result
// is checked before it is returned: its DSSE signature is the log's key,
// and the fields extracted from its signed statement match q, so a store
// index that returns a forged, altered or non-matching entry yields
// errs.ErrUnauthenticated rather than a wrong answer; with q.Proofs each
// result's inclusion at its index is also verified against the latest
// signed checkpoint. What Query cannot prove is that no match was left
// out: that takes an audit of the whole log (Log.Verify, VerifyExport).
//
// Over an IndexStore the store's index finds the matches; over a plain
// Store, Query scans the entries (linear in the log's size). A limit
// outside [0, MaxQueryLimit], a malformed cursor or one from another query
// is errs.ErrInvalidArgument; a cancelled ctx is errs.ErrUnavailable.
func (l *Log) Query(ctx context.Context, q *Query) (*Page, error) {
	if q == nil {
		q = &Query{}
	}
	if err := ctx.Err(); err != nil {
		return nil, errs.Errorf(errs.ErrUnavailable, "ledger: query: %w", err)
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = DefaultQueryLimit
	case limit < 0 || limit > MaxQueryLimit:
		return nil, errs.Errorf(errs.ErrInvalidArgument, "ledger: query limit %d, want 1..%d", q.Limit, MaxQueryLimit)
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "ledger: query time range [%s, %s) is empty", q.Since.Format(time.RFC3339), q.Until.Format(time.RFC3339))
	}
	from, err := decodeCursor(q.Cursor, &q.Filter)
	if err != nil {
		return nil, err
	}
	page := &Page{}
	var cp *Checkpoint
	var size uint64
	if q.Proofs {
		if cp, page.Checkpoint, err = l.Checkpoint(ctx); err != nil {
			return nil, err
		}
		size = cp.Size
	} else if size, err = l.headSize(ctx); err != nil {
		return nil, err
	}
	var found []Found
	if l.index != nil {
		found, err = l.index.Find(ctx, l.org, &q.Filter, from, limit+1)
	} else {
		found, err = l.scan(ctx, &q.Filter, from, size, limit+1)
	}
	if err != nil {
		return nil, err
	}
	key := l.signer.PublicKey()
	prev, first := uint64(0), true
	for i, fd := range found {
		if fd.Index < from || (!first && fd.Index <= prev) {
			return nil, errs.Errorf(errs.ErrUnauthenticated, "ledger %q: query: store returned index %d out of order", l.org, fd.Index)
		}
		prev, first = fd.Index, false
		// Past the page, or past the checkpoint the receipts are proved
		// against (appended since): the next page starts there.
		if i == limit || fd.Index >= size {
			page.Next = encodeCursor(fd.Index, &q.Filter)
			break
		}
		a, err := l.checkFound(ctx, fd, &q.Filter, key)
		if err != nil {
			return nil, err
		}
		if q.Proofs {
			if a.Receipt, err = l.receiptAt(ctx, fd.Index, fd.Entry, cp, page.Checkpoint); err != nil {
				return nil, err
			}
		}
		page.Attestations = append(page.Attestations, a)
	}
	return page, nil
}

// checkFound verifies one result: a DSSE attestation signed by key whose
// fields match f.
func (l *Log) checkFound(ctx context.Context, fd Found, f *Filter, key passport.PublicKey) (*Attestation, error) {
	env, st, err := ParseAttestation(fd.Entry)
	if err != nil {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "ledger %q: query: entry %d is not an attestation: %v", l.org, fd.Index, err)
	}
	if err := env.VerifiedBy(key); err != nil {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "ledger %q: query: entry %d is not signed by the log's key: %v", l.org, fd.Index, err)
	}
	fields := indexFields(st, true)
	if !f.Match(fields) {
		return nil, errs.Errorf(errs.ErrUnauthenticated, "ledger %q: query: store returned entry %d, which does not match the query", l.org, fd.Index)
	}
	return &Attestation{Index: fd.Index, Entry: fd.Entry, Envelope: env, Statement: st, Fields: fields}, nil
}

// receiptAt proves entry is at index in the tree of cp and verifies it.
func (l *Log) receiptAt(ctx context.Context, index uint64, entry []byte, cp *Checkpoint, signed []byte) (*Receipt, error) {
	pr, err := l.inclusionProof(ctx, index, cp.Size)
	if err != nil {
		if errors.Is(err, errs.ErrNotFound) {
			return nil, errs.Errorf(errs.ErrUnauthenticated, "ledger %q: tree nodes for entry %d are missing: %w", l.org, index, err)
		}
		return nil, err
	}
	r := &Receipt{Index: index, LeafHash: LeafHash(entry), Entry: entry, Checkpoint: signed, Proof: pr}
	if err := VerifyReceipt(r, l.verifier); err != nil {
		return nil, errs.Errorf(errs.Kind(err), "ledger %q: query: entry %d is not in the log at that index: %w", l.org, index, err)
	}
	return r, nil
}

// scan is Find for a store without an index: it reads entries [from, size)
// in chunks and keeps those that match.
func (l *Log) scan(ctx context.Context, f *Filter, from, size uint64, limit int) ([]Found, error) {
	var out []Found
	for start := from; start < size && len(out) < limit; start += auditChunk {
		end := min(start+auditChunk, size)
		entries, err := l.store.Entries(ctx, l.org, start, end)
		if err != nil {
			return nil, err
		}
		for i, e := range entries {
			_, st, err := ParseAttestation(e)
			if err != nil || !f.Match(indexFields(st, true)) {
				continue
			}
			out = append(out, Found{Index: start + uint64(i), Entry: e})
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}

// filterTag binds a cursor to its query's filter.
func filterTag(f *Filter) []byte {
	h := sha256.New()
	for _, s := range []string{f.Kind, f.Org, f.Actor, f.Action, f.Subject} {
		h.Write(binary.AppendUvarint(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	for _, t := range []time.Time{f.Since, f.Until} {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano())))
		h.Write([]byte{boolByte(t.IsZero())})
	}
	return h.Sum(nil)[:8]
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// encodeCursor returns the opaque cursor of the page starting at index.
func encodeCursor(index uint64, f *Filter) string {
	b := []byte{cursorVersion}
	b = binary.BigEndian.AppendUint64(b, index)
	b = append(b, filterTag(f)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor returns the index a cursor starts at (0 for no cursor).
func decodeCursor(c string, f *Filter) (uint64, error) {
	if c == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) != 17 || b[0] != cursorVersion {
		return 0, errs.Errorf(errs.ErrInvalidArgument, "ledger: malformed query cursor")
	}
	if string(b[9:]) != string(filterTag(f)) {
		return 0, errs.Errorf(errs.ErrInvalidArgument, "ledger: the query cursor belongs to another query")
	}
	return binary.BigEndian.Uint64(b[1:9]), nil
}
