package memory

import (
	"bytes"
	"context"
	"slices"
	"sync"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/ledger"
)

// LedgerStore is an in-memory ledger.Store, safe for concurrent use.
type LedgerStore struct {
	mu   sync.RWMutex
	logs map[string]*ledgerLog
}

var _ ledger.IndexStore = (*LedgerStore)(nil)

// ledgerLog is one log's entries, node hashes and latest checkpoint.
type ledgerLog struct {
	entries    [][]byte
	fields     []*ledger.Fields // parallel to entries; nil: not indexed
	nodes      map[ledger.NodeID][]byte
	checkpoint []byte
}

// NewLedgerStore returns an empty ledger store.
func NewLedgerStore() *LedgerStore {
	return &LedgerStore{logs: map[string]*ledgerLog{}}
}

func ledgerCtx(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return errs.Errorf(errs.ErrUnavailable, "memory ledger: %w", err)
	}
	return nil
}

// Append implements ledger.Store.
func (s *LedgerStore) Append(ctx context.Context, log string, size uint64, entries [][]byte, nodes []ledger.Node, checkpoint []byte) error {
	return s.AppendIndexed(ctx, log, size, entries, make([]*ledger.Fields, len(entries)), nodes, checkpoint)
}

// AppendIndexed implements ledger.IndexStore.
func (s *LedgerStore) AppendIndexed(ctx context.Context, log string, size uint64, entries [][]byte, fields []*ledger.Fields, nodes []ledger.Node, checkpoint []byte) error {
	if err := ledgerCtx(ctx); err != nil {
		return err
	}
	if log == "" {
		return errs.Errorf(errs.ErrInvalidArgument, "memory ledger: empty log name")
	}
	if len(entries) == 0 {
		return errs.Errorf(errs.ErrInvalidArgument, "memory ledger %q: append of no entries", log)
	}
	if len(fields) != len(entries) {
		return errs.Errorf(errs.ErrInvalidArgument, "memory ledger %q: %d index fields for %d entries", log, len(fields), len(entries))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.logs[log]
	var cur uint64
	if l != nil {
		cur = uint64(len(l.entries))
	}
	if cur != size {
		return errs.Errorf(errs.ErrConflict, "memory ledger %q: append at size %d, log has %d entries", log, size, cur)
	}
	for _, n := range nodes {
		if l != nil {
			if _, dup := l.nodes[n.ID]; dup {
				return errs.Errorf(errs.ErrConflict, "memory ledger %q: node (%d, %d) already stored", log, n.ID.Level, n.ID.Index)
			}
		}
	}
	if l == nil {
		l = &ledgerLog{nodes: map[ledger.NodeID][]byte{}}
		s.logs[log] = l
	}
	for _, e := range entries {
		c := bytes.Clone(e)
		if c == nil {
			c = []byte{}
		}
		l.entries = append(l.entries, c)
	}
	for _, f := range fields {
		l.fields = append(l.fields, ledgerCloneFields(f))
	}
	for _, n := range nodes {
		l.nodes[n.ID] = bytes.Clone(n.Hash)
	}
	l.checkpoint = bytes.Clone(checkpoint)
	return nil
}

// Head implements ledger.Store.
func (s *LedgerStore) Head(ctx context.Context, log string) (uint64, []byte, error) {
	if err := ledgerCtx(ctx); err != nil {
		return 0, nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	l := s.logs[log]
	if l == nil {
		return 0, nil, nil
	}
	return uint64(len(l.entries)), bytes.Clone(l.checkpoint), nil
}

// Entries implements ledger.Store.
func (s *LedgerStore) Entries(ctx context.Context, log string, start, end uint64) ([][]byte, error) {
	if err := ledgerCtx(ctx); err != nil {
		return nil, err
	}
	if start > end {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "memory ledger %q: entries [%d, %d): start after end", log, start, end)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var have uint64
	l := s.logs[log]
	if l != nil {
		have = uint64(len(l.entries))
	}
	if end > have {
		return nil, errs.Errorf(errs.ErrNotFound, "memory ledger %q: entries [%d, %d) past the end (%d entries)", log, start, end, have)
	}
	out := make([][]byte, 0, end-start)
	for i := start; i < end; i++ {
		out = append(out, bytes.Clone(l.entries[i]))
	}
	return out, nil
}

// Nodes implements ledger.Store.
func (s *LedgerStore) Nodes(ctx context.Context, log string, ids []ledger.NodeID) ([][]byte, error) {
	if err := ledgerCtx(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	l := s.logs[log]
	out := make([][]byte, len(ids))
	for i, id := range ids {
		var h []byte
		if l != nil {
			h = l.nodes[id]
		}
		if h == nil {
			return nil, errs.Errorf(errs.ErrNotFound, "memory ledger %q: no node (%d, %d)", log, id.Level, id.Index)
		}
		out[i] = bytes.Clone(h)
	}
	return out, nil
}

// ledgerCloneFields deep-copies index fields so callers keep theirs.
func ledgerCloneFields(f *ledger.Fields) *ledger.Fields {
	if f == nil {
		return nil
	}
	c := *f
	c.Actors = slices.Clone(f.Actors)
	c.Subjects = slices.Clone(f.Subjects)
	return &c
}

// Find implements ledger.IndexStore: a scan of the log's fields from from.
func (s *LedgerStore) Find(ctx context.Context, log string, f *ledger.Filter, from uint64, limit int) ([]ledger.Found, error) {
	if err := ledgerCtx(ctx); err != nil {
		return nil, err
	}
	if f == nil || limit < 1 {
		return nil, errs.Errorf(errs.ErrInvalidArgument, "memory ledger %q: find needs a filter and a limit >= 1", log)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	l := s.logs[log]
	out := []ledger.Found{}
	if l == nil {
		return out, nil
	}
	for i := from; i < uint64(len(l.fields)) && len(out) < limit; i++ {
		if f.Match(l.fields[i]) {
			out = append(out, ledger.Found{Index: i, Entry: bytes.Clone(l.entries[i])})
		}
	}
	return out, nil
}
