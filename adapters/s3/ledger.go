package s3

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
)

// LedgerStore keeps each log as immutable objects plus one mutable hint:
//
//	PREFIX ledger/LOG/batch/SIZE        one Append: entries, nodes, checkpoint (If-None-Match: *)
//	PREFIX ledger/LOG/entry/INDEX       one entry (If-None-Match: *)
//	PREFIX ledger/LOG/node/LEVEL/INDEX  one Merkle node hash (If-None-Match: *)
//	PREFIX ledger/LOG/head              {size, checkpoint}, replaced with If-Match
//
// The commit point of Append is the creation of batch/SIZE with
// If-None-Match: *, after checking that the log ends at SIZE: the log's
// batches form a chain (each names where the next starts), only the
// writer that creates the batch at the log's current end wins, and every
// other writer gets errs.ErrConflict, so two writers never fork the log.
// The entry and node objects are then written (idempotently) and the head
// hint advanced with If-Match; a reader that finds batches past the hint
// (a writer stopped between the two) writes them out itself before
// answering, so every size Head or Append reports is fully readable.
type LedgerStore struct{ b *Bucket }

var _ ledger.Store = (*LedgerStore)(nil)

// LedgerStore returns the ledger store of the bucket.
func (b *Bucket) LedgerStore() *LedgerStore { return &LedgerStore{b: b} }

// ledgerBatch is the JSON of a batch object.
type ledgerBatch struct {
	Size       uint64       `json:"size"`
	End        uint64       `json:"end"`
	Entries    [][]byte     `json:"entries"`
	Nodes      []ledgerNode `json:"nodes"`
	Checkpoint []byte       `json:"checkpoint"`
}

type ledgerNode struct {
	Level uint   `json:"level"`
	Index uint64 `json:"index"`
	Hash  []byte `json:"hash"`
}

// ledgerHead is the JSON of the head hint.
type ledgerHead struct {
	Size       uint64 `json:"size"`
	Checkpoint []byte `json:"checkpoint"`
}

func ledgerKey(log, kind string, parts ...any) string {
	k := "ledger/" + segment(log) + "/" + kind
	for _, p := range parts {
		k += fmt.Sprintf("/%020d", p)
	}
	return k
}

// headState is the log's end as Head found it, with the hint's ETag.
type headState struct {
	size       uint64
	checkpoint []byte
	etag       string // "" when no hint object exists
}

// head reads the hint, follows batches past it (writing out their entries
// and nodes), and advances the hint if it was behind.
func (s *LedgerStore) head(ctx context.Context, log string) (headState, error) {
	var st headState
	o, err := s.b.get(ctx, ledgerKey(log, "head"))
	switch {
	case errors.Is(err, errs.ErrNotFound):
	case err != nil:
		return st, err
	default:
		var h ledgerHead
		if err := json.Unmarshal(o.body, &h); err != nil {
			return st, errs.Errorf(errs.ErrFailedPrecondition, "s3: ledger %q: head object: %v", log, err)
		}
		st = headState{size: h.Size, checkpoint: h.Checkpoint, etag: o.etag}
	}
	advanced := false
	for {
		bo, err := s.b.get(ctx, ledgerKey(log, "batch", st.size))
		if errors.Is(err, errs.ErrNotFound) {
			break
		}
		if err != nil {
			return st, err
		}
		var b ledgerBatch
		if err := json.Unmarshal(bo.body, &b); err != nil || b.Size != st.size || b.End != b.Size+uint64(len(b.Entries)) || len(b.Entries) == 0 {
			return st, errs.Errorf(errs.ErrFailedPrecondition, "s3: ledger %q: malformed batch at %d", log, st.size)
		}
		if err := s.materialize(ctx, log, &b); err != nil {
			return st, err
		}
		st.size, st.checkpoint, advanced = b.End, b.Checkpoint, true
	}
	if advanced {
		s.advance(ctx, log, st)
	}
	return st, nil
}

// advance moves the head hint to st, conditional on the ETag read before;
// losing that race is fine (someone else advanced it further), and so is
// any other failure: the hint only saves readers a few GETs.
func (s *LedgerStore) advance(ctx context.Context, log string, st headState) {
	body, _ := json.Marshal(ledgerHead{Size: st.size, Checkpoint: st.checkpoint})
	if st.etag == "" {
		_ = s.b.put(ctx, ledgerKey(log, "head"), body, putCreate, "")
	} else {
		_ = s.b.put(ctx, ledgerKey(log, "head"), body, putReplace, st.etag)
	}
}

// ledgerParallel bounds the concurrent requests of one call.
const ledgerParallel = 16

// parallel runs f(i) for i in [0, n) on at most ledgerParallel goroutines
// and returns the first error.
func parallel(n int, f func(i int) error) error {
	if n == 1 {
		return f(0)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, ledgerParallel)
	)
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// materialize writes a committed batch's entries and nodes as their own
// objects. They are immutable and determined by the batch, so finding one
// already there (another reader or writer did it) is success.
func (s *LedgerStore) materialize(ctx context.Context, log string, b *ledgerBatch) error {
	n := len(b.Entries)
	return parallel(n+len(b.Nodes), func(i int) error {
		var err error
		if i < n {
			err = s.b.put(ctx, ledgerKey(log, "entry", b.Size+uint64(i)), b.Entries[i], putImmutable, "")
		} else {
			nd := b.Nodes[i-n]
			err = s.b.put(ctx, ledgerKey(log, "node", nd.Level, nd.Index), nd.Hash, putImmutable, "")
		}
		if errors.Is(err, errs.ErrConflict) {
			return nil
		}
		return err
	})
}

// Append implements [ledger.Store].
func (s *LedgerStore) Append(ctx context.Context, log string, size uint64, entries [][]byte, nodes []ledger.Node, checkpoint []byte) error {
	if err := ctxErr(ctx, "ledger append"); err != nil {
		return err
	}
	if log == "" || len(entries) == 0 {
		return errs.Errorf(errs.ErrInvalidArgument, "s3: ledger append: empty log name or no entries")
	}
	st, err := s.head(ctx, log)
	if err != nil {
		return err
	}
	if st.size != size {
		return errs.Errorf(errs.ErrConflict, "s3: ledger %q holds %d entries, not %d", log, st.size, size)
	}
	b := ledgerBatch{Size: size, End: size + uint64(len(entries)), Entries: entries, Checkpoint: checkpoint}
	for _, nd := range nodes {
		b.Nodes = append(b.Nodes, ledgerNode{Level: nd.ID.Level, Index: nd.ID.Index, Hash: nd.Hash})
	}
	body, err := json.Marshal(&b)
	if err != nil {
		return errs.Errorf(errs.ErrInvalidArgument, "s3: ledger append: %v", err)
	}
	if err := s.b.put(ctx, ledgerKey(log, "batch", size), body, putImmutable, ""); err != nil {
		if errors.Is(err, errs.ErrConflict) {
			return errs.Errorf(errs.ErrConflict, "s3: ledger %q: another writer appended at %d", log, size)
		}
		return err
	}
	// Committed: finish even if ctx ends now, so the call that committed
	// leaves the log fully readable (a reader would finish it otherwise).
	wctx := context.WithoutCancel(ctx)
	if err := s.materialize(wctx, log, &b); err != nil {
		return err
	}
	s.advance(wctx, log, headState{size: b.End, checkpoint: checkpoint, etag: st.etag})
	return nil
}

// Head implements [ledger.Store].
func (s *LedgerStore) Head(ctx context.Context, log string) (uint64, []byte, error) {
	if err := ctxErr(ctx, "ledger head"); err != nil {
		return 0, nil, err
	}
	st, err := s.head(ctx, log)
	if err != nil {
		return 0, nil, err
	}
	return st.size, st.checkpoint, nil
}

// Entries implements [ledger.Store].
func (s *LedgerStore) Entries(ctx context.Context, log string, start, end uint64) ([][]byte, error) {
	if err := ctxErr(ctx, "ledger entries"); err != nil {
		return nil, err
	}
	if start > end {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "s3: ledger entries: start %d > end %d", start, end)
	}
	out := make([][]byte, end-start)
	err := parallel(len(out), func(i int) error {
		o, err := s.b.get(ctx, ledgerKey(log, "entry", start+uint64(i)))
		if errors.Is(err, errs.ErrNotFound) {
			return errs.Errorf(errs.ErrNotFound, "s3: ledger %q has no entry %d", log, start+uint64(i))
		}
		out[i] = o.body
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Nodes implements [ledger.Store].
func (s *LedgerStore) Nodes(ctx context.Context, log string, ids []ledger.NodeID) ([][]byte, error) {
	if err := ctxErr(ctx, "ledger nodes"); err != nil {
		return nil, err
	}
	out := make([][]byte, len(ids))
	err := parallel(len(ids), func(i int) error {
		o, err := s.b.get(ctx, ledgerKey(log, "node", ids[i].Level, ids[i].Index))
		if errors.Is(err, errs.ErrNotFound) {
			return errs.Errorf(errs.ErrNotFound, "s3: ledger %q has no node %d/%d", log, ids[i].Level, ids[i].Index)
		}
		out[i] = o.body
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
