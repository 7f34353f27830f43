package sqlite

import (
	"bytes"
	"encoding/binary"
	"slices"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
)

// A recent row (ledger_recent, in the main database) holds the postings of
// one append: every index term of the batch with the indices of the
// entries that carry it. An append writes this one row instead of one
// posting row per term; the merger (ledger_merge.go) later folds recent
// rows into one run of the index database (ledger_runs, the same format
// over many appends), which a compaction folds into ledger_postings.
//
// The postings column (of a recent row or a run) is
//
//	byte    format (recentFormat)
//	uvarint number of terms
//	per term, in strictly increasing byte order:
//	    uvarint bytes shared with the previous term (0 for the first)
//	    uvarint length of the rest, then the rest
//	    uvarint number of indices (>= 1)
//	    uvarint first index - the row's first, then uvarint deltas (>= 1)
//
// Sorted terms share long prefixes ("subject=invoice/1041",
// "subject=invoice/1042"), so front coding keeps a batch's row a few pages.

// recentFormat is the first byte of a recent row's postings.
const recentFormat = 1

// recentTerms collects the terms of the entries from index start on, each
// with the increasing indices that carry it. Nil fields carry none.
func recentTerms(start int64, fields []*ledger.Fields) map[string][]int64 {
	postings := map[string][]int64{}
	for i, f := range fields {
		if f == nil {
			continue
		}
		idx := start + int64(i)
		for _, t := range f.Terms() {
			postings[t] = append(postings[t], idx)
		}
	}
	return postings
}

// recentEncode returns the postings column of a recent row starting at
// index first from postings (each list increasing, every index >= first).
func recentEncode(first int64, postings map[string][]int64) []byte {
	terms := make([]string, 0, len(postings))
	size := 2
	for t, idx := range postings {
		terms = append(terms, t)
		size += len(t) + 2 + 2*len(idx)
	}
	slices.Sort(terms)
	b := make([]byte, 0, size)
	b = append(b, recentFormat)
	b = binary.AppendUvarint(b, uint64(len(terms)))
	prev := ""
	for _, t := range terms {
		shared := 0
		for shared < len(prev) && shared < len(t) && prev[shared] == t[shared] {
			shared++
		}
		b = binary.AppendUvarint(b, uint64(shared))
		b = binary.AppendUvarint(b, uint64(len(t)-shared))
		b = append(b, t[shared:]...)
		idx := postings[t]
		b = binary.AppendUvarint(b, uint64(len(idx)))
		at := first
		for i, v := range idx {
			if i == 0 {
				b = binary.AppendUvarint(b, uint64(v-first))
			} else {
				b = binary.AppendUvarint(b, uint64(v-at))
			}
			at = v
		}
		prev = t
	}
	return b
}

// recentDecode calls fn with each term of the recent row (first, last, b)
// and its indices, in term order. term and idx are reused after fn
// returns. A row that is not a well-formed encoding (terms not strictly
// increasing, indices not strictly increasing inside [first, last],
// trailing bytes) is corrupt: errs.ErrFailedPrecondition, after fn saw the
// terms before the fault.
func recentDecode(first, last int64, b []byte, fn func(term []byte, idx []int64)) error {
	bad := func(what string) error {
		return errs.Errorf(errs.ErrFailedPrecondition, "sqlite ledger: recent postings [%d, %d] are corrupt: %s", first, last, what)
	}
	if first < 0 || last < first {
		return bad("bad range")
	}
	if len(b) == 0 || b[0] != recentFormat {
		return bad("unknown format")
	}
	b = b[1:]
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	nterms, ok := next()
	if !ok || nterms > uint64(len(b)) {
		return bad("term count")
	}
	var term, prev []byte
	var idx []int64
	for k := uint64(0); k < nterms; k++ {
		shared, ok1 := next()
		rest, ok2 := next()
		if !ok1 || !ok2 || shared > uint64(len(prev)) || rest > uint64(len(b)) {
			return bad("term length")
		}
		term = append(append(term[:0], prev[:shared]...), b[:rest]...)
		b = b[rest:]
		if k > 0 && bytes.Compare(term, prev) <= 0 {
			return bad("terms out of order")
		}
		count, ok := next()
		if !ok || count == 0 || count > uint64(len(b)) {
			return bad("index count")
		}
		idx = idx[:0]
		at := first
		for i := uint64(0); i < count; i++ {
			d, ok := next()
			if !ok || (i > 0 && d == 0) || d > uint64(last-at) {
				return bad("index out of range")
			}
			at += int64(d)
			idx = append(idx, at)
		}
		fn(term, idx)
		prev = append(prev[:0], term...)
	}
	if len(b) != 0 {
		return bad("trailing bytes")
	}
	return nil
}
