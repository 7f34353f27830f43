package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"slices"
	"strings"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
)

// A posting is one row of ledger_postings: the indices, in increasing
// order, of the entries of one append that carry one term. The row keeps
// the first and last index as columns, so that a query seeks to the rows
// that can hold an index range, and the rest as the uvarint deltas of each
// index from the one before it (an index of one entry is an empty BLOB).

// postingEncode returns the idxs column of the increasing indices idx
// (idx[0] is the row's first column).
func postingEncode(idx []int64) []byte {
	b := make([]byte, 0, len(idx))
	for i := 1; i < len(idx); i++ {
		b = binary.AppendUvarint(b, uint64(idx[i]-idx[i-1]))
	}
	return b
}

// postingDecode appends to dst the indices of the posting (first, last,
// idxs), checking that they increase strictly and end at last: a row
// that does not is corrupt, errs.ErrFailedPrecondition.
func postingDecode(dst []int64, first, last int64, idxs []byte) ([]int64, error) {
	if first < 0 || last < first {
		return dst, errs.Errorf(errs.ErrFailedPrecondition, "sqlite ledger: posting [%d, %d] is corrupt", first, last)
	}
	dst = append(dst, first)
	cur := first
	for len(idxs) > 0 {
		d, n := binary.Uvarint(idxs)
		if n <= 0 || d == 0 || d > uint64(last-cur) {
			return dst, errs.Errorf(errs.ErrFailedPrecondition, "sqlite ledger: posting [%d, %d] is corrupt after index %d", first, last, cur)
		}
		cur += int64(d)
		dst = append(dst, cur)
		idxs = idxs[n:]
	}
	if cur != last {
		return dst, errs.Errorf(errs.ErrFailedPrecondition, "sqlite ledger: posting [%d, %d] ends at %d", first, last, cur)
	}
	return dst, nil
}

// ledgerWritePostings writes one posting per term of the entries from
// index start on, with multi-row INSERTs.
func ledgerWritePostings(ctx context.Context, d *DB, tx *sql.Tx, log string, start int64, fields []*ledger.Fields) error {
	postings := recentTerms(start, fields)
	// Terms in key order: the B-tree takes them left to right.
	terms := make([]string, 0, len(postings))
	for t := range postings {
		terms = append(terms, t)
	}
	slices.Sort(terms)
	args := make([]any, 0, 5*len(terms))
	for _, t := range terms {
		idx := postings[t]
		args = append(args, log, t, idx[0], idx[len(idx)-1], postingEncode(idx))
	}
	return ledgerExecRows(ctx, d, tx, "ledger_postings (log, term, first, last, idxs)", 5, args)
}

// ledgerPostingPage is how many posting rows a query reads at a time.
const ledgerPostingPage = 64

// ledgerPostings returns the indices in [lo, hi] of the entries that carry
// term in the index database's merged postings, in increasing order, reading at most pageRows posting rows when
// pageRows > 0. next is the first index the walk has not covered (hi+1
// when it covered the whole range).
func (s *LedgerStore) ledgerPostings(ctx context.Context, log, term string, lo, hi int64, pageRows int) (idx []int64, next int64, err error) {
	// The row holding lo, if any, starts at or before lo: start from the
	// last row that does, then walk forward by first.
	q := `SELECT first, last, idxs FROM ledger_postings
		WHERE log = ? AND term = ? AND first <= ? AND first >= coalesce(
			(SELECT max(first) FROM ledger_postings WHERE log = ? AND term = ? AND first <= ?), 0)
		ORDER BY first`
	args := []any{log, term, hi, log, term, lo}
	if pageRows > 0 {
		q += ` LIMIT ?`
		args = append(args, pageRows)
	}
	// The index database (the main one for ":memory:").
	rows, err := s.db.ledger.db.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, 0, mapErr(ctx, err)
	}
	defer rows.Close()
	n := 0
	next = hi + 1
	var buf []int64
	for rows.Next() {
		var first, last int64
		var b []byte
		if err := rows.Scan(&first, &last, &b); err != nil {
			return nil, 0, mapErr(ctx, err)
		}
		if buf, err = postingDecode(buf[:0], first, last, b); err != nil {
			return nil, 0, err
		}
		for _, i := range buf {
			if i >= lo && i <= hi {
				idx = append(idx, i)
			}
		}
		if n++; pageRows > 0 && n == pageRows {
			next = last + 1
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, mapErr(ctx, err)
	}
	if n < pageRows {
		next = hi + 1
	}
	return idx, next, nil
}

// ledgerFindTerms is Find for a filter with terms: it walks the postings
// of the first (most selective) term, keeps the candidates that every
// other term's postings hold, and reads the entries of those whose org
// and time pass. Postings come from the log's recent rows in the main
// database, read first, and from the index database's merged postings,
// read after (ledger_merge.go says why the union is complete).
func (s *LedgerStore) ledgerFindTerms(ctx context.Context, log string, id int64, terms []string, f *ledger.Filter, from int64, limit int) ([]ledger.Found, error) {
	recent, err := s.ledgerRecentPostings(ctx, log, terms, from)
	if err != nil {
		return nil, err
	}
	out := []ledger.Found{}
	for from >= 0 && len(out) < limit {
		cand, next, err := s.ledgerPostings(ctx, log, terms[0], from, maxIndex, ledgerPostingPage)
		if err != nil {
			return nil, err
		}
		// next-1 (wrapping back to maxIndex when the walk covered it all)
		// is the last index the page covers.
		cand = ledgerUnion(cand, ledgerSpan(recent[terms[0]], from, next-1))
		for _, t := range terms[1:] {
			if len(cand) == 0 {
				break
			}
			has, _, err := s.ledgerPostings(ctx, log, t, cand[0], cand[len(cand)-1], 0)
			if err != nil {
				return nil, err
			}
			has = ledgerUnion(has, ledgerSpan(recent[t], cand[0], cand[len(cand)-1]))
			cand = ledgerIntersect(cand, has)
		}
		for len(cand) > 0 && len(out) < limit {
			part := cand[:min(len(cand), ledgerRows)]
			cand = cand[len(part):]
			found, err := s.ledgerFindIn(ctx, id, part, f, limit-len(out))
			if err != nil {
				return nil, err
			}
			out = append(out, found...)
		}
		if next > maxIndex || next <= from {
			break
		}
		from = next
	}
	return out, nil
}

// ledgerRecentPostings returns, for each of terms, the increasing indices
// >= from that log's recent rows (not yet deleted by a merge) and then its
// runs (not yet compacted) give it, read in that order (ledger_merge.go).
// The rows are bounded by the merge and compaction thresholds, plus what
// a stalled merger leaves.
func (s *LedgerStore) ledgerRecentPostings(ctx context.Context, log string, terms []string, from int64) (map[string][]int64, error) {
	out := make(map[string][]int64, len(terms))
	if !s.db.ledger.file {
		return out, nil
	}
	for _, t := range terms {
		out[t] = nil
	}
	recent, err := ledgerReadRecent(ctx, s.db.db, `SELECT first, last, postings FROM ledger_recent WHERE log = ? AND last >= ? ORDER BY first`, log, from, out)
	if err != nil {
		return nil, err
	}
	runs, err := ledgerReadRecent(ctx, s.db.ledger.db.db, `SELECT first, last, postings FROM ledger_runs WHERE log = ? AND last >= ? ORDER BY first`, log, from, out)
	if err != nil {
		return nil, err
	}
	for t := range out {
		out[t] = ledgerUnion(recent[t], runs[t])
	}
	return out, nil
}

// ledgerReadRecent decodes the rows in the recent-row format that q
// selects from db (first, last, postings) and returns the increasing
// indices of each of the terms of want.
func ledgerReadRecent(ctx context.Context, db *sql.DB, q, log string, from int64, want map[string][]int64) (map[string][]int64, error) {
	out := make(map[string][]int64, len(want))
	for t := range want {
		out[t] = nil
	}
	rows, err := db.QueryContext(ctx, q, log, from)
	if err != nil {
		return nil, mapErr(ctx, err)
	}
	defer rows.Close()
	for rows.Next() {
		var first, last int64
		var b []byte
		if err := rows.Scan(&first, &last, &b); err != nil {
			return nil, mapErr(ctx, err)
		}
		err := recentDecode(first, last, b, func(term []byte, idx []int64) {
			if have, ok := out[string(term)]; ok {
				out[string(term)] = append(have, idx...)
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return out, mapErr(ctx, rows.Err())
}

// ledgerSpan returns the values of a (increasing) in [lo, hi].
func ledgerSpan(a []int64, lo, hi int64) []int64 {
	i, _ := slices.BinarySearch(a, lo)
	j, _ := slices.BinarySearch(a, hi)
	if j < len(a) && a[j] == hi {
		j++
	}
	if j < i {
		return nil
	}
	return a[i:j]
}

// ledgerUnion returns the increasing values of a or b (each increasing),
// each once, in new storage when b adds any.
func ledgerUnion(a, b []int64) []int64 {
	if len(b) == 0 {
		return a
	}
	out := make([]int64, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i] < b[j]:
			out = append(out, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	return out
}

// maxIndex is the largest index SQLite's integers hold.
const maxIndex = int64(^uint64(0) >> 1)

// ledgerIntersect returns the values of a (increasing) that b (increasing)
// holds, in a's storage.
func ledgerIntersect(a, b []int64) []int64 {
	out := a[:0]
	j := 0
	for _, v := range a {
		for j < len(b) && b[j] < v {
			j++
		}
		if j < len(b) && b[j] == v {
			out = append(out, v)
		}
	}
	return out
}

// ledgerFindIn reads, in index order, up to limit of the entries at the
// indices idx (increasing) that are attestations whose org and time pass
// f.
func (s *LedgerStore) ledgerFindIn(ctx context.Context, id int64, idx []int64, f *ledger.Filter, limit int) ([]ledger.Found, error) {
	var q strings.Builder
	q.WriteString(`SELECT idx, entry FROM ledger_entries
		WHERE kind IS NOT NULL AND k IN (`)
	args := make([]any, 0, len(idx)+4)
	for _, v := range idx {
		if v < 0 || v >= ledgerMaxIndex {
			continue // only a changed index holds one; never another log's key
		}
		if len(args) > 0 {
			q.WriteString(", ")
		}
		q.WriteString("?")
		args = append(args, id<<ledgerIndexBits|v)
	}
	q.WriteString(")")
	args = ledgerFilterConds(&q, args, f)
	q.WriteString(` ORDER BY k LIMIT ?`)
	args = append(args, limit)
	return s.ledgerFound(ctx, q.String(), args)
}

// ledgerFilterConds appends f's org and time conditions on a
// ledger_entries row to q and their values to args.
func ledgerFilterConds(q *strings.Builder, args []any, f *ledger.Filter) []any {
	if f.Org != "" {
		q.WriteString(` AND org = ?`)
		args = append(args, f.Org)
	}
	if !f.Since.IsZero() {
		q.WriteString(` AND time >= ?`)
		args = append(args, ledgerTime(f.Since))
	}
	if !f.Until.IsZero() {
		q.WriteString(` AND time < ?`)
		args = append(args, ledgerTime(f.Until))
	}
	return args
}

// ledgerFound runs a query of (idx, entry) rows.
func (s *LedgerStore) ledgerFound(ctx context.Context, q string, args []any) ([]ledger.Found, error) {
	rows, err := s.db.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr(ctx, err)
	}
	defer rows.Close()
	var out []ledger.Found
	for rows.Next() {
		var idx int64
		var e []byte
		if err := rows.Scan(&idx, &e); err != nil {
			return nil, mapErr(ctx, err)
		}
		if e == nil {
			e = []byte{}
		}
		out = append(out, ledger.Found{Index: uint64(idx), Entry: e})
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(ctx, err)
	}
	return out, nil
}
